"""``four_eyes.read_target``: which PR and revisions an event names, from GitHub's payloads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scoutflow_gitops.errors import UserError
from scoutflow_gitops.four_eyes import Target, read_target

WEBHOOKS = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "webhooks"
SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"


def test_a_review_event_names_its_pr_and_base() -> None:
    """GitHub's own pull_request_review examples (tests/fixtures/github/webhooks)."""
    examples = json.loads((WEBHOOKS / "pull_request_review.json").read_text())
    for payload in examples:
        pull = payload["pull_request"]
        assert read_target(payload) == Target(pull["number"], pull["base"]["sha"], "HEAD", None)


def test_a_merge_group_names_the_pr_in_its_branch_and_reports_on_the_group_head() -> None:
    group = {
        "head_sha": "a" * 40,
        "head_ref": f"refs/heads/gh-readonly-queue/main/pr-42-{SHA}",
        "base_sha": "b" * 40,
        "base_ref": "refs/heads/main",
    }
    assert read_target({"merge_group": group}) == Target(42, "b" * 40, "a" * 40, "a" * 40)


@pytest.mark.parametrize(
    "payload",
    [
        {"merge_group": {"head_ref": "refs/heads/feature/pr-42", "head_sha": "a" * 40}},
        {"merge_group": {"head_ref": "refs/heads/gh-readonly-queue/main/pr-x-1"}},
        {"push": {}},
        {"pull_request": {"number": "seven"}},
    ],
    ids=["not-a-queue-branch", "no-number", "other-event", "broken-pull-request"],
)
def test_anything_else_is_a_clear_error(payload: dict[str, object]) -> None:
    with pytest.raises(UserError):
        read_target(payload)
