"""GitHub's REST API over a ``Sandbox``: routes, parameters, status codes and pagination."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote, urlencode

from scoutflow_gitops.sandbox.access import APP_ID, APP_SLUG, Grant
from scoutflow_gitops.sandbox.gitstore import TREE_MODE, FileEntry, GitError, Signature
from scoutflow_gitops.sandbox.model import Issue, Repo, SandboxError, User, not_found
from scoutflow_gitops.sandbox.shapes import JSON, Shapes, iso
from scoutflow_gitops.sandbox.state import Sandbox, validation_failed


@dataclass(frozen=True)
class Reply:
    status: int
    body: object = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Call:
    """One REST request, with the path parameters of the matched route."""

    sandbox: Sandbox
    shapes: Shapes
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any = field(default=None)
    # The token the request came with; None in direct calls that act as the App's bot.
    grant: Grant | None = None

    @property
    def actor(self) -> User:
        """Who GitHub records as doing what this request does."""
        return self.grant.actor if self.grant is not None else self.sandbox.bot

    @property
    def repo(self) -> Repo:
        return self.sandbox.repo(f"{self.params['owner']}/{self.params['repo']}")

    def number(self, name: str) -> int:
        return int(self.params[name])

    def field(self, name: str, kind: type = str, *, required: bool = True) -> Any:
        value = self.body.get(name) if isinstance(self.body, dict) else None
        if value is None:
            if required:
                raise validation_failed(_resource(self.path), name, "missing_field")
            return None
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            expected = _JSON_TYPES.get(kind, "valid")
            raise SandboxError(
                422,
                f"Invalid request.\n\nFor 'properties/{name}', {json.dumps(value)} is not "
                f"{expected}.",
            )
        return value

    def issue(self) -> Issue:
        return self.sandbox.issue(self.repo, self.number("issue_number"))

    def pull(self) -> Issue:
        return self.sandbox.pull(self.repo, self.number("pull_number"))


_JSON_TYPES: dict[type, str] = {
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    list: "an array",
    dict: "an object",
}
Handler = Callable[[Call], Reply]
# Method, pattern, handler, and how much of the template is literal text.
_ROUTES: list[tuple[str, re.Pattern[str], Handler, int]] = []
# Path parameters that may hold slashes (GitHub's own `{path}`, `{ref}`, `{basehead}`).
_GREEDY = {"path", "ref", "basehead", "branch"}
_NUMERIC = {"issue_number", "pull_number", "comment_id", "run_id"}


def route(method: str, template: str) -> Callable[[Handler], Handler]:
    def pattern(match: re.Match[str]) -> str:
        name = match.group(1)
        body = ".+" if name in _GREEDY else r"\d+" if name in _NUMERIC else "[^/]+"
        # The root folder's contents are `/contents/` with an empty path.
        body = ".*" if name == "path" else body
        return f"(?P<{name}>{body})"

    # GitHub ignores a trailing slash.
    regex = re.compile("^" + re.sub(r"\{(\w+)\}", pattern, template) + "/?$")

    literal = len(re.sub(r"\{\w+\}", "", template))

    def register(handler: Handler) -> Handler:
        _ROUTES.append((method, regex, handler, literal))
        return handler

    return register


def dispatch(
    sandbox: Sandbox,
    shapes: Shapes,
    method: str,
    path: str,
    query: dict[str, str],
    body: object,
    grant: Grant | None = None,
) -> Reply:
    # The most literal template wins: `/commits/{ref}/statuses` over `/commits/{ref}`, whose
    # `{ref}` may hold slashes.
    matches = [
        (literal, match, handler)
        for route_method, regex, handler, literal in _ROUTES
        if route_method == method and (match := regex.match(path))
    ]
    if not matches:
        raise not_found()
    _, match, handler = max(matches, key=lambda found: found[0])
    params = {k: unquote(v) for k, v in match.groupdict().items()}
    return handler(Call(sandbox, shapes, path, params, query, body, grant))


def _resource(path: str) -> str:
    for marker, name in (
        ("/pulls", "PullRequest"),
        ("/comments", "IssueComment"),
        ("/reactions", "Reaction"),
        ("/issues", "Issue"),
        ("/git/refs", "Reference"),
        ("/git/trees", "Tree"),
        ("/git/blobs", "Blob"),
        ("/git/commits", "Commit"),
        ("/statuses/", "Status"),
    ):
        if marker in path:
            return name
    return "Repository"


def paginate(call: Call, items: Sequence[Any]) -> tuple[list[Any], tuple[tuple[str, str], ...]]:
    """One page of ``items`` and the ``Link`` header GitHub sends with it."""
    per_page = min(max(_int(call.query.get("per_page"), 30), 1), 100)
    page = max(_int(call.query.get("page"), 1), 1)
    last = max((len(items) + per_page - 1) // per_page, 1)
    chunk = list(items[(page - 1) * per_page : page * per_page])
    if last == 1:
        return chunk, ()

    def link(number: int, rel: str) -> str:
        query = {**call.query, "per_page": str(per_page), "page": str(number)}
        return f'<{call.shapes.base}{quote(call.path)}?{urlencode(query)}>; rel="{rel}"'

    links = []
    if page > 1:
        links += [link(page - 1, "prev"), link(1, "first")]
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    return chunk, (("Link", ", ".join(links)),)


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _page(call: Call, items: Sequence[Any]) -> Reply:
    chunk, headers = paginate(call, items)
    return Reply(200, chunk, headers)


def _parse_time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SandboxError(422, f"Invalid timestamp: {value}") from None


# -- installation and repositories ---------------------------------------------------------


@route("GET", "/repos/{owner}/{repo}/installation")
def repo_installation(call: Call) -> Reply:
    """The App's installation that covers this repository; 404 where it is not installed."""
    repo = call.repo
    installation = call.sandbox.access.installation_for(repo)
    if installation is None:
        raise not_found()
    owner = installation.account
    base = call.shapes.base
    body: JSON = {
        "id": installation.id,
        "app_id": APP_ID,
        "app_slug": APP_SLUG,
        "target_id": owner.id,
        "target_type": "User",
        "single_file_name": None,
        "repository_selection": "selected",
        "access_tokens_url": f"{base}/app/installations/{installation.id}/access_tokens",
        "html_url": f"{base}/settings/installations/{installation.id}",
        "repositories_url": f"{base}/installation/repositories",
        "events": ["issue_comment", "workflow_run"],
        "account": call.shapes.user(owner),
        "permissions": dict(installation.permissions),
        "created_at": iso(installation.created_at),
        "updated_at": iso(installation.created_at),
        "suspended_by": None,
        "suspended_at": None,
    }
    return Reply(200, body)


@route("POST", "/app/installations/{installation_id}/access_tokens")
def create_installation_token(call: Call) -> Reply:
    """An installation token, narrowed to the named repositories and permissions if asked."""
    body = call.body if isinstance(call.body, dict) else {}
    access = call.sandbox.access
    installation = access.installations.get(int(call.params["installation_id"]))
    if installation is None:
        raise not_found()
    names = body.get("repositories")
    ids = body.get("repository_ids")
    permissions = body.get("permissions")
    if names is not None and not isinstance(names, list):
        raise validation_failed("Installation", "repositories")
    if permissions is not None and not isinstance(permissions, dict):
        raise validation_failed("Installation", "permissions")
    repos: list[Repo] | None = None
    if names is not None or ids is not None:
        repos = []
        owner = installation.account.login
        for name in names or []:
            found = call.sandbox.repos.get(f"{owner}/{name}".lower())
            if found is None:
                raise SandboxError(
                    422,
                    "There is at least one repository that does not exist or is not accessible "
                    "to the parent installation.",
                )
            repos.append(found)
        for repo_id in ids or []:
            try:
                repos.append(call.sandbox.repo_by_id(int(repo_id)))
            except (SandboxError, ValueError, TypeError):
                raise SandboxError(
                    422,
                    "There is at least one repository that does not exist or is not accessible "
                    "to the parent installation.",
                ) from None
    expires = call.sandbox.clock.now() + timedelta(hours=1)
    grant = access.mint(
        installation,
        call.sandbox.bot,
        repos,
        {str(k): str(v) for k, v in permissions.items()} if permissions is not None else None,
        expires,
    )
    covered = sorted(
        (
            r
            for r in call.sandbox.repos.values()
            if r.full_name.lower() in (grant.repositories or ())
        ),
        key=lambda r: r.id,
    )
    answer: JSON = {
        "token": grant.token,
        "expires_at": iso(expires),
        "permissions": dict(grant.permissions),
        "repository_selection": "selected",
        "repositories": [call.shapes.repo_short(repo) for repo in covered],
    }
    return Reply(201, answer)


@route("GET", "/installation/repositories")
def installation_repositories(call: Call) -> Reply:
    """The repositories the installation token reaches."""
    reach = call.grant.repositories if call.grant is not None else None
    repos = sorted(
        (r for r in call.sandbox.repos.values() if reach is None or r.full_name.lower() in reach),
        key=lambda r: r.id,
    )
    chunk, headers = paginate(call, repos)
    body = {
        "total_count": len(repos),
        "repository_selection": "selected",
        "repositories": [call.shapes.repo_short(r) for r in chunk],
    }
    return Reply(200, body, headers)


@route("GET", "/repos/{owner}/{repo}")
def get_repo(call: Call) -> Reply:
    return Reply(200, call.shapes.repo_full(call.repo))


@route("GET", "/repos/{owner}/{repo}/contents/{path}")
def get_content(call: Call) -> Reply:
    repo = call.repo
    ref = call.query.get("ref") or repo.default_branch
    sha = call.sandbox.resolve(repo, ref)
    path = call.params["path"].strip("/")
    entry = repo.git.lookup(repo.git.commit_info(sha).tree, path)
    if entry is None:
        raise not_found()
    if entry.type == "tree":
        return Reply(200, call.shapes.content_dir(repo, path, ref, entry.sha))
    return Reply(200, call.shapes.content_file(repo, path, ref, entry.sha))


# -- git database --------------------------------------------------------------------------


@route("GET", "/repos/{owner}/{repo}/git/ref/{ref}")
def get_ref(call: Call) -> Reply:
    repo = call.repo
    name = f"refs/{call.params['ref']}"
    sha = repo.git.ref(name)
    if sha is None:
        raise not_found()
    return Reply(200, call.shapes.git_ref(repo, name, sha))


@route("GET", "/repos/{owner}/{repo}/git/matching-refs/{ref}")
def matching_refs(call: Call) -> Reply:
    repo = call.repo
    prefix = f"refs/{call.params['ref']}"
    refs = sorted(repo.git.refs(prefix).items())
    return _page(call, [call.shapes.git_ref(repo, name, sha) for name, sha in refs])


@route("POST", "/repos/{owner}/{repo}/git/refs")
def create_ref(call: Call) -> Reply:
    repo = call.repo
    name, sha = call.field("ref"), call.field("sha")
    call.sandbox.create_ref(repo, name, sha)
    return Reply(201, call.shapes.git_ref(repo, name, sha), _location(call, f"/git/{name}"))


@route("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}")
def update_ref(call: Call) -> Reply:
    repo = call.repo
    name = f"refs/{call.params['ref']}"
    sha = call.field("sha")
    force = bool(call.field("force", bool, required=False))
    call.sandbox.update_ref(repo, name, sha, force=force)
    return Reply(200, call.shapes.git_ref(repo, name, sha))


@route("DELETE", "/repos/{owner}/{repo}/git/refs/{ref}")
def delete_ref(call: Call) -> Reply:
    call.sandbox.delete_ref(call.repo, f"refs/{call.params['ref']}")
    return Reply(204)


@route("POST", "/repos/{owner}/{repo}/git/blobs")
def create_blob(call: Call) -> Reply:
    repo = call.repo
    content = call.field("content")
    encoding = call.field("encoding", required=False) or "utf-8"
    if encoding == "base64":
        try:
            data = base64.b64decode(content, validate=False)
        except binascii.Error:
            raise SandboxError(422, "Invalid base64 content") from None
    elif encoding in ("utf-8", "utf8"):
        data = content.encode("utf-8")
    else:
        raise validation_failed("Blob", "encoding")
    sha = repo.git.put_blob(data)
    url = call.shapes.api(repo, f"/git/blobs/{sha}")
    return Reply(201, {"url": url, "sha": sha}, (("Location", url),))


@route("GET", "/repos/{owner}/{repo}/git/blobs/{file_sha}")
def get_blob(call: Call) -> Reply:
    repo = call.repo
    sha = call.params["file_sha"]
    if repo.git.object_type(sha) != "blob":
        raise not_found()
    return Reply(200, call.shapes.blob(repo, sha))


@route("POST", "/repos/{owner}/{repo}/git/trees")
def create_tree(call: Call) -> Reply:
    repo = call.repo
    entries = call.field("tree", list)
    base_tree = call.field("base_tree", required=False)
    git = repo.git
    if base_tree is not None and git.object_type(base_tree) != "tree":
        raise SandboxError(422, "Invalid tree info")
    files = git.flat_tree(base_tree) if base_tree else {}
    for item in entries:
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise SandboxError(422, "Invalid tree info")
        path = item["path"].strip("/")
        mode = int(str(item.get("mode", "100644")), 8)
        if "content" in item and item["content"] is not None:
            files[path] = FileEntry(mode, git.put_blob(str(item["content"]).encode("utf-8")))
        elif item.get("sha") is None:
            for existing in [p for p in files if p == path or p.startswith(path + "/")]:
                del files[existing]
        elif mode == TREE_MODE:
            if git.object_type(item["sha"]) != "tree":
                raise SandboxError(422, "Invalid tree info")
            for sub, entry in git.flat_tree(item["sha"]).items():
                files[f"{path}/{sub}"] = entry
        else:
            if git.object_type(item["sha"]) is None:
                raise SandboxError(422, "Invalid tree info")
            files[path] = FileEntry(mode, item["sha"])
    try:
        sha = git.write_tree(files)
    except GitError as exc:
        raise SandboxError(422, "Invalid tree info") from exc
    return Reply(
        201, call.shapes.tree(repo, sha, recursive=False), _location(call, f"/git/trees/{sha}")
    )


@route("GET", "/repos/{owner}/{repo}/git/trees/{tree_sha}")
def get_tree(call: Call) -> Reply:
    repo = call.repo
    spec = call.params["tree_sha"]
    sha = spec if repo.git.object_type(spec) == "tree" else None
    if sha is None:
        try:
            sha = repo.git.commit_info(call.sandbox.resolve(repo, spec)).tree
        except SandboxError:
            raise not_found() from None
    recursive = call.query.get("recursive") not in (None, "", "0", "false")
    return Reply(200, call.shapes.tree(repo, sha, recursive=recursive))


@route("POST", "/repos/{owner}/{repo}/git/commits")
def create_commit(call: Call) -> Reply:
    repo = call.repo
    sandbox = call.sandbox
    message = call.field("message")
    tree = call.field("tree")
    parents = call.field("parents", list, required=False) or []
    author = _signature(call.field("author", dict, required=False), sandbox.bot_signature())
    committer = _signature(call.field("committer", dict, required=False), author)
    sha = sandbox.create_commit(repo, tree, parents, message, author, committer)
    body = call.shapes.git_commit(repo, repo.git.commit_info(sha))
    return Reply(201, body, _location(call, f"/git/commits/{sha}"))


def _signature(value: dict[str, Any] | None, default: Signature) -> Signature:
    if value is None:
        return default
    name, email = value.get("name"), value.get("email")
    if not isinstance(name, str) or not isinstance(email, str):
        raise validation_failed("Commit", "author")
    date = value.get("date")
    return Signature(name, email, _parse_time(date) if isinstance(date, str) else default.when)


@route("GET", "/repos/{owner}/{repo}/git/commits/{commit_sha}")
def get_git_commit(call: Call) -> Reply:
    repo = call.repo
    sha = call.params["commit_sha"]
    if repo.git.object_type(sha) != "commit":
        raise not_found()
    return Reply(200, call.shapes.git_commit(repo, repo.git.commit_info(sha)))


def _location(call: Call, tail: str) -> tuple[tuple[str, str], ...]:
    return (("Location", call.shapes.api(call.repo, tail)),)


# -- commits, compare, branches ------------------------------------------------------------


@route("GET", "/repos/{owner}/{repo}/commits")
def list_commits(call: Call) -> Reply:
    repo = call.repo
    head = call.sandbox.resolve(repo, call.query.get("sha") or repo.default_branch)
    path = call.query.get("path", "").strip("/")
    since = _parse_time(call.query["since"]) if call.query.get("since") else None
    until = _parse_time(call.query["until"]) if call.query.get("until") else None
    author = call.query.get("author")
    shas = []
    for sha in repo.git.ancestors(head):
        info = repo.git.commit_info(sha)
        if path and not repo.git.touches(sha, path):
            continue
        if (since and info.committer.when < since) or (until and info.committer.when > until):
            continue
        if author and author not in (info.author.email, info.author.name):
            continue
        shas.append(sha)
    chunk, headers = paginate(call, shas)
    return Reply(200, [call.shapes.commit(repo, sha) for sha in chunk], headers)


@route("GET", "/repos/{owner}/{repo}/commits/{ref}")
def get_commit(call: Call) -> Reply:
    repo = call.repo
    try:
        sha = call.sandbox.resolve(repo, call.params["ref"])
    except SandboxError:
        raise SandboxError(422, f"No commit found for SHA: {call.params['ref']}") from None
    return Reply(200, call.shapes.commit(repo, sha, with_files=True))


@route("GET", "/repos/{owner}/{repo}/compare/{basehead}")
def compare(call: Call) -> Reply:
    repo = call.repo
    spec = call.params["basehead"]
    base_spec, sep, head_spec = spec.partition("...")
    if not sep:
        raise not_found()
    resolved = []
    for side in (base_spec, head_spec):
        owner, _, ref = side.rpartition(":")
        if owner and owner.lower() != repo.owner.login.lower():
            raise not_found()
        resolved.append(call.sandbox.resolve(repo, ref))
    if repo.git.merge_base(resolved[0], resolved[1]) is None:
        # GitHub's answer for unrelated histories (docs/sandbox-rules.md row 18).
        raise not_found(f"No common ancestor between {base_spec} and {head_spec}.")
    body = call.shapes.compare(repo, resolved[0], resolved[1], spec)
    commits = body["commits"]
    if "page" in call.query or "per_page" in call.query:
        # Paged: oldest first, per_page at a time (row 17b).
        chunk, headers = paginate(call, commits)
    else:
        # Unpaged: at most 250 commits, ending with the newest.
        chunk, headers = commits[-COMPARE_UNPAGED_LIMIT:], ()
    body["commits"] = chunk
    return Reply(200, body, headers)


COMPARE_UNPAGED_LIMIT = 250


@route("GET", "/repos/{owner}/{repo}/branches")
def list_branches(call: Call) -> Reply:
    repo = call.repo
    branches = sorted(repo.git.refs("refs/heads/").items())
    return _page(
        call,
        [call.shapes.branch_short(repo, n.removeprefix("refs/heads/"), s) for n, s in branches],
    )


@route("GET", "/repos/{owner}/{repo}/branches/{branch}")
def get_branch(call: Call) -> Reply:
    repo = call.repo
    name = call.params["branch"]
    sha = call.sandbox.branch_head(repo, name)
    return Reply(200, call.shapes.branch(repo, name, sha))


# -- pull requests -------------------------------------------------------------------------


@route("GET", "/repos/{owner}/{repo}/pulls")
def list_pulls(call: Call) -> Reply:
    repo = call.repo
    state = call.query.get("state", "open")
    head = call.query.get("head")
    base = call.query.get("base")
    pulls = []
    for issue in repo.pulls():
        assert issue.pull is not None
        if state != "all" and issue.state != state:
            continue
        if head:
            owner, _, branch = head.rpartition(":")
            if owner.lower() != repo.owner.login.lower() or issue.pull.head_ref != branch:
                continue
        if base and issue.pull.base_ref != base:
            continue
        pulls.append(issue)
    sort = call.query.get("sort", "created")
    direction = call.query.get("direction", "desc" if sort == "created" else "asc")
    key = {
        "updated": lambda i: (i.updated_at, i.number),
        "popularity": lambda i: (len(i.comments), i.number),
    }.get(sort, lambda i: (i.created_at, i.number))
    pulls.sort(key=key, reverse=direction == "desc")
    chunk, headers = paginate(call, pulls)
    return Reply(200, [call.shapes.pull(repo, i, full=False) for i in chunk], headers)


@route("POST", "/repos/{owner}/{repo}/pulls")
def create_pull(call: Call) -> Reply:
    repo = call.repo
    issue = call.sandbox.create_pull(
        repo,
        call.actor,
        head=call.field("head"),
        base=call.field("base"),
        title=call.field("title"),
        body=call.field("body", required=False),
        draft=bool(call.field("draft", bool, required=False)),
    )
    body = call.shapes.pull(repo, issue)
    return Reply(201, body, _location(call, f"/pulls/{issue.number}"))


@route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}")
def get_pull(call: Call) -> Reply:
    return Reply(200, call.shapes.pull(call.repo, call.pull()))


@route("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}")
def update_pull(call: Call) -> Reply:
    repo, issue = call.repo, call.pull()
    state = call.field("state", required=False)
    if state not in (None, "open", "closed"):
        raise validation_failed("PullRequest", "state")
    call.sandbox.update_pull(
        repo,
        issue,
        call.actor,
        title=call.field("title", required=False),
        body=call.field("body", required=False),
        state=state,
        base=call.field("base", required=False),
    )
    return Reply(200, call.shapes.pull(repo, issue))


@route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/merge")
def check_merged(call: Call) -> Reply:
    issue = call.pull()
    assert issue.pull is not None
    if not issue.pull.merged:
        raise not_found()
    return Reply(204)


@route("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge")
def merge_pull(call: Call) -> Reply:
    repo, issue = call.repo, call.pull()
    sha = call.sandbox.merge_pull(
        repo,
        issue,
        call.actor,
        sha=call.field("sha", required=False),
        method=call.field("merge_method", required=False) or "merge",
        title=call.field("commit_title", required=False),
        message=call.field("commit_message", required=False),
    )
    return Reply(200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"})


@route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers")
def list_reviewers(call: Call) -> Reply:
    repo, issue = call.repo, call.pull()
    assert issue.pull is not None
    return Reply(
        200,
        {
            "users": [call.shapes.user(u) for u in issue.pull.requested_reviewers],
            "teams": [call.shapes.team(repo, t) for t in issue.pull.requested_teams],
        },
    )


@route("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers")
def request_reviewers(call: Call) -> Reply:
    repo, issue = call.repo, call.pull()
    logins = call.field("reviewers", list, required=False) or []
    teams = call.field("team_reviewers", list, required=False) or []
    if not logins and not teams:
        raise SandboxError(422, 'Invalid request.\n\nNo subschema in "anyOf" matched.')
    users = [call.sandbox.user(str(login)) for login in logins]
    call.sandbox.request_reviewers(repo, issue, users, [str(t) for t in teams])
    return Reply(201, call.shapes.pull(repo, issue, full=False))


# -- issues, labels, comments, reactions ---------------------------------------------------


@route("POST", "/repos/{owner}/{repo}/issues")
def create_issue(call: Call) -> Reply:
    repo = call.repo
    labels = call.field("labels", list, required=False) or []
    issue = call.sandbox.create_issue(
        repo,
        call.actor,
        call.field("title"),
        call.field("body", required=False),
        [str(label["name"] if isinstance(label, dict) else label) for label in labels],
    )
    return Reply(201, call.shapes.issue(repo, issue), _location(call, f"/issues/{issue.number}"))


@route("GET", "/repos/{owner}/{repo}/issues/{issue_number}")
def get_issue(call: Call) -> Reply:
    return Reply(200, call.shapes.issue(call.repo, call.issue()))


@route("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}")
def update_issue(call: Call) -> Reply:
    repo, issue = call.repo, call.issue()
    call.sandbox.update_issue(
        repo,
        issue,
        call.actor,
        title=call.field("title", required=False),
        body=call.field("body", required=False),
        state=call.field("state", required=False),
    )
    labels = call.field("labels", list, required=False)
    if labels is not None:
        call.sandbox.add_labels(repo, issue, [str(label) for label in labels], replace=True)
    return Reply(200, call.shapes.issue(repo, issue))


@route("GET", "/repos/{owner}/{repo}/issues/{issue_number}/labels")
def list_issue_labels(call: Call) -> Reply:
    repo, issue = call.repo, call.issue()
    return _page(call, [call.shapes.label(repo, label) for label in issue.labels])


@route("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels")
def add_issue_labels(call: Call) -> Reply:
    repo, issue = call.repo, call.issue()
    body = call.body
    raw = body.get("labels") if isinstance(body, dict) else body
    if not isinstance(raw, list) or not raw:
        raise validation_failed("Label", "labels", "missing_field")
    names = [str(item["name"] if isinstance(item, dict) else item) for item in raw]
    call.sandbox.add_labels(repo, issue, names)
    return Reply(200, [call.shapes.label(repo, label) for label in issue.labels])


@route("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments")
def list_comments(call: Call) -> Reply:
    repo, issue = call.repo, call.issue()
    since = _parse_time(call.query["since"]) if call.query.get("since") else None
    comments = [c for c in issue.comments if since is None or c.updated_at >= since]
    chunk, headers = paginate(call, comments)
    return Reply(200, [call.shapes.comment(repo, c) for c in chunk], headers)


@route("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments")
def create_comment(call: Call) -> Reply:
    repo, issue = call.repo, call.issue()
    comment = call.sandbox.add_comment(repo, issue, call.actor, call.field("body"))
    body = call.shapes.comment(repo, comment)
    return Reply(201, body, _location(call, f"/issues/comments/{comment.id}"))


def _repo_comment(call: Call) -> tuple[Repo, Any]:
    repo = call.repo
    found_repo, _, comment = call.sandbox.comment_by_id(call.number("comment_id"))
    if found_repo is not repo:
        raise not_found()
    return repo, comment


@route("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}")
def get_comment(call: Call) -> Reply:
    repo, comment = _repo_comment(call)
    return Reply(200, call.shapes.comment(repo, comment))


@route("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}")
def edit_comment(call: Call) -> Reply:
    repo, comment = _repo_comment(call)
    call.sandbox.edit_comment(comment, call.field("body"))
    return Reply(200, call.shapes.comment(repo, comment))


def _reactions_reply(call: Call, reactions: list[Any]) -> Reply:
    content = call.query.get("content")
    chosen = [r for r in reactions if content is None or r.content == content]
    chunk, headers = paginate(call, chosen)
    return Reply(200, [call.shapes.reaction(r) for r in chunk], headers)


def _react(call: Call, reactions: list[Any]) -> Reply:
    reaction, created = call.sandbox.add_reaction(reactions, call.actor, call.field("content"))
    return Reply(201 if created else 200, call.shapes.reaction(reaction))


@route("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions")
def list_comment_reactions(call: Call) -> Reply:
    return _reactions_reply(call, _repo_comment(call)[1].reactions)


@route("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions")
def react_to_comment(call: Call) -> Reply:
    return _react(call, _repo_comment(call)[1].reactions)


@route("GET", "/repos/{owner}/{repo}/issues/{issue_number}/reactions")
def list_issue_reactions(call: Call) -> Reply:
    return _reactions_reply(call, call.issue().reactions)


@route("POST", "/repos/{owner}/{repo}/issues/{issue_number}/reactions")
def react_to_issue(call: Call) -> Reply:
    return _react(call, call.issue().reactions)


# -- collaborators, actions ----------------------------------------------------------------


@route("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission")
def collaborator_permission(call: Call) -> Reply:
    repo = call.repo
    return Reply(200, call.shapes.permission(repo, call.sandbox.user(call.params["username"])))


@route("GET", "/repos/{owner}/{repo}/actions/runs")
def list_runs(call: Call) -> Reply:
    repo = call.repo
    query = call.query
    runs = [
        run
        for run in reversed(repo.runs)
        if query.get("head_sha") in (None, run.head_sha)
        and query.get("branch") in (None, run.head_branch)
        and query.get("event") in (None, run.event)
        and query.get("status") in (None, run.status, run.conclusion)
        and query.get("actor") in (None, run.actor.login)
    ]
    chunk, headers = paginate(call, runs)
    body: JSON = {
        "total_count": len(runs),
        "workflow_runs": [call.shapes.workflow_run(repo, run) for run in chunk],
    }
    return Reply(200, body, headers)


@route("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}")
def get_run(call: Call) -> Reply:
    repo = call.repo
    for run in repo.runs:
        if run.id == call.number("run_id"):
            return Reply(200, call.shapes.workflow_run(repo, run))
    raise not_found()


@route("GET", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}")
def get_workflow(call: Call) -> Reply:
    repo = call.repo
    flow = call.sandbox.find_workflow(repo, call.params["workflow_id"])
    return Reply(200, call.shapes.workflow(repo, flow))


@route("POST", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches")
def dispatch_workflow(call: Call) -> Reply:
    inputs = call.field("inputs", dict, required=False) or {}
    call.sandbox.dispatch(
        call.repo,
        call.params["workflow_id"],
        call.field("ref"),
        {str(k): str(v) for k, v in inputs.items()},
    )
    return Reply(204)


# Routes kept in their own modules register themselves on import.
from scoutflow_gitops.sandbox import rest_reviews, rest_statuses  # noqa: E402, F401
