"""Running the real entrypoint (`scoutflow-gitops run`) against the simulator, the way the
Actions runner does: event payload file, INPUT_* variables, GITHUB_OUTPUT and step summary."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scoutflow_gitops import cli
from scoutflow_gitops.sandbox.control import finish_workflow_run, push_commit
from tests.sandbox.fixtures import LiveSandbox

APP = "omerbh7/scoutflow-app"
GITOPS = "omerbh7/scoutflow-gitops"
CI = ("Backend CI", "Frontend CI", "Database CI")
TOKEN = "ghs_e2eTOKENthatMustNeverBePrinted000"
_OUTPUT_RE = re.compile(r"^(\w+)<<(ghadelimiter_[0-9a-f-]+)\n(.*?)\n\2\n", re.S | re.M)


@dataclass(frozen=True)
class BotRun:
    exit_code: int
    outputs: Mapping[str, str]
    summary: str
    stdout: str
    stderr: str
    requests: tuple[Mapping[str, Any], ...]

    @property
    def result(self) -> str:
        return self.outputs.get("result", "")

    @property
    def writes(self) -> tuple[Mapping[str, Any], ...]:
        """Requests that change state: REST writes and GraphQL mutations."""
        return tuple(
            r
            for r in self.requests
            if (r["method"] != "GET" and r["path"] != "/graphql")
            or (
                r["path"] == "/graphql"
                and "mutation" in str((r.get("body") or {}).get("query", ""))[:40]
            )
        )


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_bot(
    live: LiveSandbox,
    tmp_path: Path,
    payload: Mapping[str, Any] | str,
    *,
    event_name: str = "workflow_run",
    dry_run: bool = False,
    extra_env: Mapping[str, str] | None = None,
) -> BotRun:
    """One job: the runner's environment, the real CLI entrypoint, what it left behind."""
    work = tmp_path / f"job{len(list(tmp_path.glob('job*')))}"
    work.mkdir()
    event = work / "event.json"
    event.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": APP,
        "GITHUB_API_URL": live.url,
        "GITHUB_SERVER_URL": live.url,
        "GITHUB_OUTPUT": str(work / "output"),
        "GITHUB_STEP_SUMMARY": str(work / "summary"),
        "INPUT_TOKEN": TOKEN,
        "INPUT_GITOPS_REPOSITORY": GITOPS,
        "INPUT_CONFIG_PATH": ".github/scoutflow-gitops.yml",
        "INPUT_API_URL": live.url,
        "INPUT_DRY_RUN": "true" if dry_run else "false",
        "SCOUTFLOW_GITOPS_WRITE_INTERVAL": "0",
        **(extra_env or {}),
    }
    live.sandbox.clear_requests()
    out, err = io.StringIO(), io.StringIO()
    with _environment(env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["run"])
    output_text = (work / "output").read_text() if (work / "output").exists() else ""
    outputs = {m.group(1): m.group(3) for m in _OUTPUT_RE.finditer(output_text)}
    summary = (work / "summary").read_text() if (work / "summary").exists() else ""
    requests = tuple(live.control("GET", "/requests?full=1").json())
    for produced in (out.getvalue(), err.getvalue(), summary, output_text, json.dumps(requests)):
        assert TOKEN not in produced.replace(f"::add-mask::{TOKEN}", ""), "token leaked"
    return BotRun(code, outputs, summary, out.getvalue(), err.getvalue(), requests)


def new_app_commit(live: LiveSandbox, message: str = "Add shot charts") -> str:
    return push_commit(
        live.sandbox, APP, {f"src/{message.replace(' ', '_')}.py": message}, message=message
    )


def ci_event(
    live: LiveSandbox, sha: str, workflow: str, conclusion: str | None = "success", **fields: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = finish_workflow_run(
        live.sandbox,
        live.server.shapes,
        APP,
        head_sha=sha,
        workflow=workflow,
        conclusion=conclusion,
        head_branch=fields.pop("head_branch", "main"),
        **fields,
    )
    return payload


def values_on_main(live: LiveSandbox, env: str) -> bytes:
    sandbox = live.sandbox
    repo = sandbox.repo(GITOPS)
    head = sandbox.branch_head(repo, repo.default_branch)
    tree = repo.git.flat_tree(repo.git.commit_info(head).tree)
    return repo.git.blob(tree[f"environments/{env}/values.yaml"].sha)


def tag_on_main(live: LiveSandbox, env: str) -> str:
    match = re.search(rb"imageTag: \"?([0-9a-f]{40})", values_on_main(live, env))
    assert match is not None
    return match.group(1).decode()


def bump_pulls(live: LiveSandbox) -> list[Any]:
    """The GitOps repo's pull requests (issues with a ``pull``), oldest first."""
    return sorted(live.sandbox.repo(GITOPS).pulls(), key=lambda issue: issue.number)
