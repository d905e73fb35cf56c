"""Driving the real entrypoint with hostile input, and the assertions every case shares.

Unlike ``tests.e2e.harness.run_bot`` nothing is asserted while running: a hostile case states
the correct outcome itself (and is marked ``xfail`` while the bot gets it wrong), so a crash
must reach the test's own assertions instead of failing inside the helper.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from scoutflow_gitops.sandbox.control import finish_workflow_run, push_commit
from scoutflow_gitops.sandbox.driver import JobResult
from tests.e2e.harness import start_job
from tests.sandbox.fixtures import LiveSandbox

APP = "omerbh7/scoutflow-app"
GITOPS = "omerbh7/scoutflow-gitops"
CONFIG = ".github/scoutflow-gitops.yml"
CI = ("Backend CI", "Frontend CI", "Database CI")
TOKEN = "ghs_hostileTOKENneverPrinted0123456789"
TRACEBACK = "Traceback (most recent call last)"
# The only workflow-command lines the bot itself prints (see action.py).
OWN_COMMANDS = (
    "::add-mask::",
    "::error title=scoutflow-gitops::",
    "::warning title=scoutflow-gitops refused::",
)


def run(
    live: LiveSandbox,
    tmp_path: Path,
    payload: Mapping[str, Any] | str,
    *,
    event_name: str = "workflow_run",
    extra_env: Mapping[str, str] | None = None,
    token: str = TOKEN,
    dry_run: bool = False,
) -> JobResult:
    """One job of the real entrypoint against the simulator; its files stay under tmp_path."""
    return start_job(
        live,
        tmp_path,
        payload,
        event_name=event_name,
        dry_run=dry_run,
        extra_env=extra_env,
        token=token,
    )


def event_file(tmp_path: Path, data: bytes, name: str = "hostile-event.json") -> str:
    """A raw event file (for bytes ``run_job`` would not write as they are)."""
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def lines(text: str) -> list[str]:
    return text.split("\n")


def command_lines(job: JobResult) -> list[str]:
    """Lines the runner would take for workflow commands (it reads stdout and stderr)."""
    return [line for line in lines(job.stdout) + lines(job.stderr) if line.startswith("::")]


def assert_no_crash(job: JobResult) -> None:
    assert TRACEBACK not in job.stderr, job.stderr[-3000:]


def assert_no_injected_commands(job: JobResult) -> None:
    """Outside text never starts a log line of its own: no forged ``::command::``."""
    foreign = [line for line in command_lines(job) if not line.startswith(OWN_COMMANDS)]
    assert foreign == [], foreign


def assert_input_error(job: JobResult, *words: str, requests: int | None = 0) -> str:
    """Bad input: exit 1, one ``::error`` line naming the problem, nothing written.

    ``requests`` is how many requests the job may send (reads only); None: any number.
    """
    assert_no_crash(job)
    assert job.exit_code == 1
    errors = [line for line in lines(job.stdout) if line.startswith("::error")]
    assert len(errors) == 1, job.stdout
    (error,) = errors
    assert error.startswith("::error title=scoutflow-gitops::")
    for word in words:
        assert word in error, error
    assert job.writes == ()
    if requests is not None:
        assert len(job.requests) == requests, [r["path"] for r in job.requests]
    assert job.summary.startswith("## ScoutFlow GitOps: error")
    assert job.outputs == {}
    assert_no_injected_commands(job)
    return error


def assert_policy(job: JobResult, result: str, *words: str, requests: int | None = None) -> None:
    """A policy outcome: exit 0, the result and its reason, nothing written."""
    assert_no_crash(job)
    assert (job.exit_code, job.result) == (0, result), (job.stdout, job.stderr[-2000:])
    for word in words:
        assert word in job.outputs["reason"], job.outputs["reason"]
    assert job.writes == ()
    if requests is not None:
        assert len(job.requests) <= requests, [r["path"] for r in job.requests]
    assert_no_injected_commands(job)


def write_paths(job: JobResult) -> list[str]:
    return [f"{request['method']} {request['path']}" for request in job.writes]


def new_app_commit(live: LiveSandbox, name: str, message: str | None = None, **kw: Any) -> str:
    return push_commit(
        live.sandbox, APP, {f"src/{name}.py": name}, message=message or f"Add {name}", **kw
    )


def finish(live: LiveSandbox, sha: str, workflow: str, **fields: Any) -> dict[str, Any]:
    """A CI workflow finishes for ``sha``; its ``workflow_run`` payload."""
    payload: dict[str, Any] = finish_workflow_run(
        live.sandbox,
        live.server.shapes,
        APP,
        head_sha=sha,
        workflow=workflow,
        conclusion=fields.pop("conclusion", "success"),
        head_branch=fields.pop("head_branch", "main"),
        **fields,
    )
    return payload


def green_except_last(live: LiveSandbox, sha: str) -> dict[str, Any]:
    """The first required workflows pass (no job runs for them); the last one's payload."""
    for workflow in CI[:-1]:
        finish(live, sha, workflow)
    return finish(live, sha, CI[-1])


def file_on_main(live: LiveSandbox, path: str, repo_name: str = GITOPS) -> bytes:
    sandbox = live.sandbox
    with sandbox.lock:
        repo = sandbox.repo(repo_name)
        head = sandbox.branch_head(repo, repo.default_branch)
        tree = repo.git.flat_tree(repo.git.commit_info(head).tree)
        return bytes(repo.git.blob(tree[path].sha))


def values_path(env: str) -> str:
    return f"environments/{env}/values.yaml"


def commit_gitops(live: LiveSandbox, files: Mapping[str, str], message: str = "Edit") -> str:
    return push_commit(live.sandbox, GITOPS, dict(files), message=message)


def pulls(live: LiveSandbox) -> list[Any]:
    return sorted(live.sandbox.repo(GITOPS).pulls(), key=lambda issue: issue.number)


def everything_in_the_simulator(live: LiveSandbox) -> str:
    """Every text the bot could have left in GitHub: issues, PRs, comments, commit messages."""
    sandbox = live.sandbox
    parts: list[str] = []
    with sandbox.lock:
        for repo in sandbox.repos.values():
            for issue in repo.issues.values():
                parts += [issue.title, issue.body or ""]
                parts += [comment.body for comment in issue.comments]
            todo, seen = list(repo.git.refs("refs/heads/").values()), set()
            while todo:
                sha = todo.pop()
                if sha not in seen:
                    seen.add(sha)
                    info = repo.git.commit_info(sha)
                    parts.append(info.message)
                    todo.extend(info.parents)
    return "\n".join(parts)


def all_output(job: JobResult, tmp_path: Path) -> Iterable[str]:
    """Everything a job produced that a person or a log could see."""
    outputs = "".join(path.read_text() for path in tmp_path.glob("job*/output"))
    return (job.stdout, job.stderr, job.summary, outputs, json.dumps(job.requests))
