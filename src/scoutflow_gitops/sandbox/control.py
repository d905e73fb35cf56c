"""The control API under ``/_sandbox/``: what tests and demos do to the world that is not the bot.

Pushes by developers, CI runs finishing, people commenting, time passing, GitHub failing
(``/faults``, see ``faults``). Requests here need no token and are left out of the request log,
which records only what a client asked GitHub.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from scoutflow_gitops.sandbox import faults, webhooks
from scoutflow_gitops.sandbox.access import WORKFLOW_LOGIN
from scoutflow_gitops.sandbox.gitstore import Signature
from scoutflow_gitops.sandbox.model import RequestRecord, SandboxError, not_found
from scoutflow_gitops.sandbox.rest import Reply
from scoutflow_gitops.sandbox.shapes import JSON, Shapes, iso
from scoutflow_gitops.sandbox.state import Sandbox

DEVELOPER = ("ScoutFlow Developer", "dev@scoutflow.example")


@dataclass(frozen=True)
class ControlCall:
    sandbox: Sandbox
    shapes: Shapes
    query: dict[str, str]
    body: Any
    match: re.Match[str]


ControlHandler = Callable[[ControlCall], Reply]
_CONTROL: list[tuple[str, re.Pattern[str], ControlHandler]] = []


def _control(method: str, pattern: str) -> Callable[[ControlHandler], ControlHandler]:
    def register(handler: ControlHandler) -> ControlHandler:
        _CONTROL.append((method, re.compile(f"^/_sandbox{pattern}$"), handler))
        return handler

    return register


def handle(
    sandbox: Sandbox, shapes: Shapes, method: str, path: str, query: dict[str, str], body: Any
) -> Reply:
    """Answer one control request; the server holds ``sandbox.lock`` around it."""
    for route_method, regex, handler in _CONTROL:
        match = regex.match(path)
        if match and route_method == method:
            return handler(ControlCall(sandbox, shapes, query, body, match))
    raise not_found()


def _get(
    body: Any, name: str, kind: type | tuple[type, ...] = str, *, required: bool = True
) -> Any:
    value = body.get(name) if isinstance(body, dict) else None
    if value is None:
        if required:
            raise SandboxError(422, f"{name} is required")
        return None
    if not isinstance(value, kind):
        raise SandboxError(422, f"{name} has the wrong type")
    return value


# -- Python API: the same events, for in-process tests ---------------------------------------


def push_commit(
    sandbox: Sandbox,
    repo_name: str,
    files: dict[str, str | None] | None = None,
    *,
    message: str = "Update from a developer",
    branch: str | None = None,
    author: tuple[str, str] = DEVELOPER,
) -> str:
    """A developer's commit pushed straight to a branch (the default branch when None)."""
    with sandbox.lock:
        repo = sandbox.repo(repo_name)
        changes = {p: None if t is None else t.encode("utf-8") for p, t in (files or {}).items()}
        signature = Signature(author[0], author[1], sandbox.clock.now())
        return sandbox.commit_files(
            repo, branch or repo.default_branch, changes, message, author=signature
        )


def finish_workflow_run(
    sandbox: Sandbox,
    shapes: Shapes,
    repo_name: str,
    *,
    head_sha: str,
    workflow: str,
    conclusion: str | None,
    status: str | None = None,
    head_branch: str | None = None,
    event: str = "push",
    head_repository: str | None = None,
    workflow_path: str | None = None,
    run_name: str | None = None,
) -> JSON:
    """Record a workflow run and return the ``workflow_run`` webhook payload for it.

    ``workflow_path`` names the workflow file (by default one named after ``workflow``; two
    files may share a name). ``run_name`` replaces the payload's ``workflow_run.name``:
    GitHub's own webhook examples carry ``""`` there while ``workflow.name`` is set.
    """
    with sandbox.lock:
        repo = sandbox.repo(repo_name)
        run = sandbox.add_run(
            repo,
            workflow=workflow,
            head_sha=head_sha,
            conclusion=conclusion,
            status=status,
            head_branch=head_branch,
            event=event,
            head_repo=sandbox.repo(head_repository) if head_repository else None,
            workflow_path=workflow_path,
        )
        payload = webhooks.workflow_run(shapes, repo, run)
        if run_name is not None:
            payload["workflow_run"]["name"] = run_name
        return payload


def post_comment(
    sandbox: Sandbox,
    shapes: Shapes,
    repo_name: str,
    *,
    user: str,
    body: str,
    issue: int | None = None,
) -> JSON:
    """A person's comment (on a new issue when ``issue`` is None): the ``issue_comment`` payload."""
    with sandbox.lock:
        repo = sandbox.repo(repo_name)
        author = sandbox.user(user)
        target = (
            sandbox.issue(repo, issue)
            if issue is not None
            else sandbox.create_issue(repo, author, f"Request from {author.login}")
        )
        comment = sandbox.add_comment(repo, target, author, body)
        return webhooks.issue_comment(shapes, repo, target, comment)


def state_dump(sandbox: Sandbox, repo_name: str) -> JSON:
    with sandbox.lock:
        repo = sandbox.repo(repo_name)
        git = repo.git
        head = git.ref(f"refs/heads/{repo.default_branch}")
        files = {}
        if head:
            for path, entry in git.flat_tree(git.commit_info(head).tree).items():
                files[path] = git.blob(entry.sha).decode("utf-8", "replace")
        pulls = []
        for issue in repo.pulls():
            pull = issue.pull
            assert pull is not None
            state = sandbox.mergeability(repo, issue)
            pulls.append(
                {
                    "number": issue.number,
                    "title": issue.title,
                    "state": issue.state,
                    "merged": pull.merged,
                    "head": pull.head_ref,
                    "base": pull.base_ref,
                    "head_sha": pull.head_sha,
                    "mergeable_state": state.state,
                    "auto_merge": pull.auto_merge.method if pull.auto_merge else None,
                    "labels": [label.name for label in issue.labels],
                    "merge_commit_sha": pull.merge_commit_sha,
                }
            )
        return {
            "repo": repo.full_name,
            "default_branch": repo.default_branch,
            "branches": {
                name.removeprefix("refs/heads/"): sha
                for name, sha in sorted(git.refs("refs/heads/").items())
            },
            "files": files,
            "pulls": pulls,
            "issues": [
                {
                    "number": i.number,
                    "title": i.title,
                    "state": i.state,
                    "comments": len(i.comments),
                }
                for i in repo.issues.values()
                if i.pull is None
            ],
            "collaborators": dict(sorted(repo.collaborators.items())),
            "settings": vars(repo.settings).copy(),
            "checks": dict(repo.checks),
        }


def request_log(sandbox: Sandbox, *, full: bool = False) -> list[JSON]:
    return [_record_json(r, full) for r in sandbox.requests()]


def _record_json(record: RequestRecord, full: bool) -> JSON:
    entry: JSON = {"method": record.method, "path": record.path, "status": record.status}
    if full:
        entry.update(
            {"query": record.query, "body": record.request_body, "response": record.response_body}
        )
    return entry


# -- HTTP routes -----------------------------------------------------------------------------


@_control("POST", "/commits")
def _commits(call: ControlCall) -> Reply:
    files = _get(call.body, "files", dict, required=False) or {}
    if not all(isinstance(v, str | None) for v in files.values()):
        raise SandboxError(422, "files maps paths to text (or null to delete)")
    sha = push_commit(
        call.sandbox,
        _get(call.body, "repo"),
        files,
        message=_get(call.body, "message", required=False) or "Update from a developer",
        branch=_get(call.body, "branch", required=False),
    )
    return Reply(201, {"sha": sha})


@_control("POST", "/workflow-runs")
def _workflow_runs(call: ControlCall) -> Reply:
    if not isinstance(call.body, dict) or "conclusion" not in call.body:
        raise SandboxError(422, "conclusion is required (null for a run still in progress)")
    payload = finish_workflow_run(
        call.sandbox,
        call.shapes,
        _get(call.body, "repo"),
        head_sha=_get(call.body, "head_sha"),
        workflow=_get(call.body, "workflow"),
        conclusion=_get(call.body, "conclusion", required=False),
        status=_get(call.body, "status", required=False),
        head_branch=_get(call.body, "head_branch", required=False),
        event=_get(call.body, "event", required=False) or "push",
        head_repository=_get(call.body, "head_repository", required=False),
        workflow_path=_get(call.body, "workflow_path", required=False),
        run_name=_get(call.body, "run_name", required=False),
    )
    return Reply(201, payload)


@_control("POST", "/comments")
def _comments(call: ControlCall) -> Reply:
    payload = post_comment(
        call.sandbox,
        call.shapes,
        _get(call.body, "repo"),
        user=_get(call.body, "user"),
        body=_get(call.body, "body"),
        issue=_get(call.body, "issue", int, required=False),
    )
    return Reply(201, payload)


@_control("GET", "/requests")
def _requests(call: ControlCall) -> Reply:
    return Reply(200, request_log(call.sandbox, full=call.query.get("full") not in (None, "", "0")))


@_control("DELETE", "/requests")
def _clear_requests(call: ControlCall) -> Reply:
    call.sandbox.clear_requests()
    return Reply(204)


@_control("GET", "/clock")
def _clock(call: ControlCall) -> Reply:
    return Reply(200, {"now": iso(call.sandbox.clock.now())})


@_control("POST", "/clock")
def _advance(call: ControlCall) -> Reply:
    minutes = _get(call.body, "advance_minutes", (int, float))
    now: datetime = call.sandbox.clock.advance(float(minutes))
    return Reply(200, {"now": iso(now)})


@_control("POST", "/collaborators")
def _collaborators(call: ControlCall) -> Reply:
    repo_name, user, permission = (
        _get(call.body, "repo"),
        _get(call.body, "user"),
        _get(call.body, "permission"),
    )
    call.sandbox.set_collaborator(call.sandbox.repo(repo_name), user, permission)
    return Reply(200, {"repo": repo_name, "user": user, "permission": permission})


@_control("POST", r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)/settings")
def _settings(call: ControlCall) -> Reply:
    if not isinstance(call.body, dict):
        raise SandboxError(422, "settings must be a JSON object")
    repo = call.sandbox.repo(f"{call.match['owner']}/{call.match['name']}")
    call.sandbox.update_settings(repo, call.body)
    return Reply(200, vars(repo.settings).copy())


@_control("POST", "/checks")
def _checks(call: ControlCall) -> Reply:
    repo_name, sha, conclusion = (
        _get(call.body, "repo"),
        _get(call.body, "sha"),
        _get(call.body, "conclusion"),
    )
    # "context" names the check (default "ci", the one ``require_checks`` requires).
    context = _get(call.body, "context", required=False) or "ci"
    call.sandbox.set_check(call.sandbox.repo(repo_name), sha, conclusion, context)
    return Reply(200, {"repo": repo_name, "sha": sha, "conclusion": conclusion, "context": context})


def issue_token(sandbox: Sandbox, request: dict[str, Any]) -> dict[str, Any]:
    """A token, as GitHub would issue it (see ``access``); ``request`` is the control body.

    ``{"kind": "user", "user": LOGIN}``: a personal access token of that user.
    ``{"kind": "workflow", "repo": O/R, "permissions": {...}}``: a job's ``GITHUB_TOKEN``.
    ``{"kind": "installation", "repositories": [O/R, ...], "permissions": {...}?}``: what
    ``POST /app/installations/{id}/access_tokens`` would mint for the App's installation on
    their account (every repository must be covered by it).
    An optional ``"token"`` chooses the token's text (tests use it to look for leaks).
    """
    kind = _get(request, "kind")
    chosen = _get(request, "token", required=False)
    access = sandbox.access
    if kind == "user":
        grant = access.user_token(sandbox.user(_get(request, "user")), chosen)
    elif kind == "workflow":
        repo = sandbox.repo(_get(request, "repo"))
        permissions = _get(request, "permissions", dict, required=False) or {}
        grant = access.workflow_token(
            sandbox.user(WORKFLOW_LOGIN, "Bot"), repo, permissions, chosen
        )
    elif kind == "installation":
        names = _get(request, "repositories", list)
        repos = [sandbox.repo(str(name)) for name in names]
        if not repos:
            raise SandboxError(422, "repositories must name at least one repository")
        installation = access.installation_for(repos[0])
        if installation is None:
            raise SandboxError(422, f"the App is not installed on {repos[0].full_name}")
        permissions = _get(request, "permissions", dict, required=False)
        grant = access.mint(
            installation,
            sandbox.bot,
            repos,
            permissions,
            sandbox.clock.now() + timedelta(hours=1),
            chosen,
        )
    else:
        raise SandboxError(422, "kind must be user, workflow or installation")
    return {
        "token": grant.token,
        "kind": grant.kind,
        "actor": grant.actor.login,
        "repositories": sorted(grant.repositories) if grant.repositories is not None else None,
        "permissions": dict(grant.permissions),
    }


def install_app(
    sandbox: Sandbox,
    account: str,
    repositories: list[str],
    permissions: dict[str, str],
    installation_id: int | None = None,
) -> int:
    """Install the sandbox's App on ``account`` for the named repositories (names or
    owner/name), or change an installation's repositories and permissions."""
    owner = sandbox.user(account)
    repos = [sandbox.repo(name if "/" in name else f"{account}/{name}") for name in repositories]
    existing = next((i for i in sandbox.access.installations.values() if i.account == owner), None)
    number = installation_id or (existing.id if existing else sandbox.next_id("installation"))
    sandbox.access.install(number, owner, repos, permissions, sandbox.clock.now())
    return number


@_control("POST", "/tokens")
def _tokens(call: ControlCall) -> Reply:
    if not isinstance(call.body, dict):
        raise SandboxError(422, "the body must be a JSON object")
    return Reply(201, issue_token(call.sandbox, call.body))


@_control("POST", "/installations")
def _installations(call: ControlCall) -> Reply:
    number = install_app(
        call.sandbox,
        _get(call.body, "account"),
        [str(name) for name in _get(call.body, "repositories", list)],
        _get(call.body, "permissions", dict),
        _get(call.body, "id", int, required=False),
    )
    installation = call.sandbox.access.installations[number]
    return Reply(
        200,
        {
            "id": number,
            "account": installation.account.login,
            "repositories": sorted(installation.repositories),
            "permissions": dict(installation.permissions),
        },
    )


@_control("POST", r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)/visibility")
def _visibility(call: ControlCall) -> Reply:
    repo = call.sandbox.repo(f"{call.match['owner']}/{call.match['name']}")
    repo.private = bool(_get(call.body, "private", bool))
    return Reply(200, {"repo": repo.full_name, "private": repo.private})


@_control("GET", "/state")
def _state(call: ControlCall) -> Reply:
    if "repo" not in call.query:
        return Reply(200, {"repos": sorted(r.full_name for r in call.sandbox.repos.values())})
    return Reply(200, state_dump(call.sandbox, call.query["repo"]))


@_control("GET", "/dispatches")
def _dispatches(call: ControlCall) -> Reply:
    repo = call.sandbox.repo(call.query.get("repo", ""))
    payloads = [webhooks.workflow_dispatch(call.shapes, repo, d) for d in repo.dispatches]
    return Reply(200, payloads)


@_control("GET", "/faults")
def _list_faults(call: ControlCall) -> Reply:
    return Reply(200, faults.list_faults(call.sandbox))


@_control("POST", "/faults")
def _add_fault(call: ControlCall) -> Reply:
    fault_id = faults.add_fault(call.sandbox, faults.fault_from_json(call.body))
    return Reply(201, next(f for f in faults.list_faults(call.sandbox) if f["id"] == fault_id))


@_control("DELETE", "/faults")
def _clear_faults(call: ControlCall) -> Reply:
    faults.clear_faults(call.sandbox)
    return Reply(204)


# Routes kept in their own modules register themselves on import.
from scoutflow_gitops.sandbox import control_protection  # noqa: E402, F401
