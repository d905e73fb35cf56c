"""Running the real entrypoint against the simulator, the way the Actions runner does: a thin
layer over ``scoutflow_gitops.sandbox.driver`` that keeps each job's files under ``tmp_path``
and checks that the token never shows up in anything the job produced."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scoutflow_gitops import cli
from scoutflow_gitops.sandbox.control import finish_workflow_run, push_commit
from scoutflow_gitops.sandbox.driver import JobResult, mint_job_token, run_job
from tests.sandbox.fixtures import LiveSandbox

APP = "omerbh7/scoutflow-app"
GITOPS = "omerbh7/scoutflow-gitops"
CI = ("Backend CI", "Frontend CI", "Database CI")
TOKEN = "ghs_e2eTOKENthatMustNeverBePrinted000"

BotRun = JobResult


def start_job(
    live: LiveSandbox,
    tmp_path: Path,
    payload: Mapping[str, Any] | str,
    *,
    event_name: str = "workflow_run",
    dry_run: bool = False,
    extra_env: Mapping[str, str] | None = None,
    token: str = TOKEN,
    mint: bool = True,
) -> JobResult:
    """One job of the real entrypoint against the simulator, its files under tmp_path, with
    no assertion made (a hostile case states its own expectations).

    ``token`` is minted afresh for each job as the App's installation token for both
    repositories (tokens expire after an hour of simulated time, as GitHub's do), unless
    ``mint`` is false: then the simulator does not know it and answers 401."""
    if token and mint:
        mint_job_token(live.url, live.sandbox, (GITOPS, APP), token)
    return run_job(
        live.url,
        event_name,
        payload,
        sandbox=live.sandbox,
        dry_run=dry_run,
        extra_env=extra_env,
        gitops_repository=GITOPS,
        token=token,
        workdir=tmp_path / f"job{len(list(tmp_path.glob('job*')))}",
    )


def run_bot(
    live: LiveSandbox,
    tmp_path: Path,
    payload: Mapping[str, Any] | str,
    *,
    event_name: str = "workflow_run",
    dry_run: bool = False,
    extra_env: Mapping[str, str] | None = None,
) -> BotRun:
    """One job that must neither leak the token nor crash."""
    run = start_job(
        live, tmp_path, payload, event_name=event_name, dry_run=dry_run, extra_env=extra_env
    )
    output_file = run_output_file(tmp_path)
    produced = (run.stdout, run.stderr, run.summary, output_file, json.dumps(run.requests))
    for text in produced:
        assert TOKEN not in text.replace(f"::add-mask::{TOKEN}", ""), "token leaked"
    # The runner would show a crash as exit status 1; a test wants the traceback itself.
    assert "Traceback (most recent call last)" not in run.stderr, run.stderr
    return run


def run_output_file(tmp_path: Path) -> str:
    """The GITHUB_OUTPUT file of the latest job, as the runner would read it."""
    jobs = sorted(tmp_path.glob("job*"), key=lambda path: int(path.name[3:]))
    output = jobs[-1] / "output" if jobs else None
    return output.read_text() if output is not None and output.exists() else ""


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


def run_cli(argv: Sequence[str], env: Mapping[str, str]) -> tuple[int, str, str]:
    """`scoutflow-gitops ARGV` in this process, with ``env`` as its whole GitHub-related
    environment (as a workflow step has it); its exit status, stdout and stderr."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "SCOUTFLOW_GITOPS_")):
            os.environ.pop(name)
    os.environ.update(env)
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(list(argv))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return code, out.getvalue(), err.getvalue()
