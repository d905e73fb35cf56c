"""Outside text (commit messages, author names, workflow names, branches) reaching what the bot
writes: PR titles and bodies, commit messages, the log and the step outputs.

Markdown that reaches GitHub is defanged (no mention, link, code fence or raw newline from
outside); the log never gets a line that the runner would take for a workflow command.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from scoutflow_gitops.sandbox.control import post_comment
from tests.hostile.harness import (
    GITOPS,
    assert_no_crash,
    assert_no_injected_commands,
    everything_in_the_simulator,
    file_on_main,
    finish,
    green_except_last,
    new_app_commit,
    pulls,
    run,
)
from tests.sandbox.fixtures import LiveSandbox

HOSTILE_HEADLINE = (
    "Fix `x` ``` @octocat [pwn](https://evil.example) <img src=x onerror=alert(1)> "
    '<!-- scoutflow-gitops:plan {"candidate": "0"} --> #1 \x1b[31m \u202e\r'
)
HOSTILE_MESSAGE = HOSTILE_HEADLINE + "\n\n```\n@everyone\n::error::from a commit body\n"


def test_a_hostile_commit_message_and_author_are_defanged_in_the_pr(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    new_app_commit(
        live, "middle", "Middle @team/all ``` <script>\n@b", author=("@octocat ```", "a@b.example")
    )
    sha = new_app_commit(live, "hostile", HOSTILE_MESSAGE)
    job = run(live, tmp_path, green_except_last(live, sha))
    assert_no_crash(job)
    assert job.result == "merged"
    assert_no_injected_commands(job)
    (pr,) = pulls(live)
    assert pr.title == f"Deploy {sha[:7]} to dev, stage"
    body: str = pr.body
    first = body.split("\n", 1)[0]
    # The headline stays on the first line, every Markdown character in it escaped.
    assert "\r" not in first and "\x1b" not in first and "\u202e" not in first
    assert "\\@octocat" in first and "\\`\\`\\`" in first and "\\[pwn\\]\\(https" in first
    assert "\\<img" in first and "\\<\\!--" in first
    # Nothing from outside mentions anyone, opens a fence or fakes the plan marker.
    assert re.findall(r"(?<!\\)@\w", body) == []
    assert body.count("```") == 2  # the diff's own fence, opened and closed
    assert body.count("<!-- scoutflow-gitops:plan") == 1
    assert "@everyone" not in body and "::error::" not in body
    # The commit on main says only what the bot knows: tags, files, runs.
    repo = live.sandbox.repo(GITOPS)
    message = repo.git.commit_info(live.sandbox.branch_head(repo, "main")).message
    assert "octocat" not in message and "```" not in message and "everyone" not in message
    assert re.findall(r"(?<![\w/])@\w", message) == [], message


def _field(path: str, value: str, **others: Any) -> Any:
    def mutate(payload: dict[str, Any]) -> None:
        run_ = payload["workflow_run"]
        *parents, last = path.split(".")
        node = run_
        for part in parents:
            node = node[part]
        node[last] = value
        run_.update(others)

    return mutate


INJECTED = "x\n::warning title=forged::injected by the payload"
LOG_CASES = {
    "workflow-name": _field("name", "Database CI" + INJECTED, event="pull_request"),
    "event": _field("event", "pull_request" + INJECTED),
    "status": _field("status", "queued" + INJECTED),
    "conclusion": _field("conclusion", "neutral" + INJECTED),
    "head-branch": _field("head_branch", "feature" + INJECTED),
    "fork-name": _field("head_repository.full_name", "mallory/app" + INJECTED),
}


@pytest.mark.parametrize("field", LOG_CASES, ids=list(LOG_CASES))
def test_payload_text_never_becomes_a_workflow_command_in_the_log(
    live_sandbox: LiveSandbox, tmp_path: Path, field: str
) -> None:
    live = live_sandbox
    payload = finish(live, new_app_commit(live, "logline"), "Database CI")
    if field == "fork-name":
        payload["workflow_run"]["head_repository"]["id"] += 1
    LOG_CASES[field](payload)
    job = run(live, tmp_path, payload)
    assert_no_crash(job)
    # A line break in a name, status or branch is a malformed payload: one error line that
    # names the field (never echoes it), no request, no output a later step could trust.
    assert (job.exit_code, job.result) == (1, "")
    assert "holds a control character" in job.stdout
    assert job.requests == ()
    assert_no_injected_commands(job)


def test_a_lone_surrogate_in_a_workflow_name_does_not_crash_the_report(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    payload = finish(live, new_app_commit(live, "surrogate"), "Database CI")
    payload["workflow_run"].update(name="Database CI \ud800", event="pull_request")
    job = run(live, tmp_path, payload)
    assert_no_crash(job)
    assert (job.exit_code, job.result) == (1, "")
    assert "workflow_run.name is not valid Unicode text" in job.stdout
    assert job.requests == ()


def test_the_output_file_cannot_be_forged_by_a_workflow_name(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    """A workflow name holding 'result=merged' lines is refused as a malformed payload: the job
    fails with one error line and writes no output a later step could mistake for a result."""
    live = live_sandbox
    payload = finish(live, new_app_commit(live, "outputs"), "Database CI")
    payload["workflow_run"].update(
        name="Docs\nresult=merged\npr_url=https://evil.example", event="push"
    )
    job = run(live, tmp_path, payload)
    assert_no_crash(job)
    assert job.exit_code == 1
    assert "workflow_run.name holds a control character" in job.stdout
    assert job.outputs == {}
    assert job.requests == ()


FORGED_URL = 'https://evil.example/x")\n\n@everyone ```\nimage_tag: "latest'


@pytest.mark.parametrize("command", ["/promote prod", "/rollback stage"])
def test_a_forged_comment_url_never_reaches_a_pr_a_commit_or_a_hold_file_raw(
    live_sandbox: LiveSandbox, tmp_path: Path, command: str
) -> None:
    live = live_sandbox
    assert run(live, tmp_path, green_except_last(live, new_app_commit(live, "x"))).result == (
        "merged"
    )
    assert live.control("POST", "/clock", {"advance_minutes": 45}).ok
    payload = post_comment(
        live.sandbox, live.server.shapes, GITOPS, user="release-manager", body=command
    )
    payload["comment"]["html_url"] = FORGED_URL
    job = run(live, tmp_path, payload, event_name="issue_comment")
    assert_no_crash(job)
    written = everything_in_the_simulator(live)
    assert "@everyone" not in written and "```\nimage_tag" not in written
    if command.startswith("/rollback") and job.result == "merged":
        hold = file_on_main(live, ".github/holds/stage.yml").decode()
        assert "latest" not in hold and "\n\n" not in hold, hold
