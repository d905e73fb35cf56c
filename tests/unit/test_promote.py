"""Choosing what a command moves an environment to, and the plan for its PR (golden bodies)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scoutflow_gitops import gates, promote
from scoutflow_gitops.commands import Command
from scoutflow_gitops.config import load_config
from scoutflow_gitops.model import Commit, Comparison, FileVersion, GitopsState
from tests.unit.test_messages import check_golden

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_config((ROOT / ".github/scoutflow-gitops.yml").read_text())
PROD, STAGE = "environments/prod/values.yaml", "environments/stage/values.yaml"
OLD = "e7c24f013e837f438f66a6e039e673f880e2cb89"
NEW = "1f3c5e7a9b2d4f6081a3c5e7f9b1d3f5a7c9e1b3"
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
REQUEST = promote.Request(
    "release-manager",
    "https://github.com/omerbh7/scoutflow-gitops/issues/4#issuecomment-9",
    "comment",
)


def values(path: str, tag: str) -> bytes:
    return (ROOT / path).read_bytes().replace(OLD.encode(), tag.encode())


def version(path: str, tag: str, minutes: int, pr: int | None = None) -> FileVersion:
    url = f"https://github.com/omerbh7/scoutflow-gitops/pull/{pr}" if pr else None
    return FileVersion(
        f"{minutes:040x}", T0 + timedelta(minutes=minutes), values(path, tag), pr, url
    )


HISTORIES = {
    STAGE: (version(STAGE, NEW, 30, pr=3), version(STAGE, OLD, 0)),
    PROD: (version(PROD, OLD, 0),),
}
FILES = {PROD: values(PROD, OLD), STAGE: values(STAGE, NEW)}


def state(holds: frozenset[str] = frozenset()) -> GitopsState:
    return GitopsState("R_1", "main", "f" * 40, None, (), holds, {}, T0 + timedelta(minutes=75))


def test_promote_takes_what_stage_runs_now() -> None:
    found = promote.target(Command("promote", "prod"), CONFIG, FILES, HISTORIES)
    assert isinstance(found, promote.Target)
    assert (found.current, found.candidate) == (OLD, NEW)
    assert promote.evidence_gates(found, T0 + timedelta(minutes=75)) is None


def test_promote_refuses_before_the_soak_time() -> None:
    found = promote.target(Command("promote", "prod"), CONFIG, FILES, HISTORIES)
    assert isinstance(found, promote.Target)
    refusal = promote.evidence_gates(found, T0 + timedelta(minutes=40))
    assert refusal is not None and refusal.gate == "soak"


def test_rollback_picks_the_previous_tag_from_history() -> None:
    files = {STAGE: values(STAGE, NEW)}
    found = promote.target(Command("rollback", "stage"), CONFIG, files, {STAGE: HISTORIES[STAGE]})
    assert isinstance(found, promote.Target) and found.candidate == OLD


@pytest.mark.parametrize(
    ("command", "gate", "words"),
    [
        (Command("rollback", "stage", "9" * 40), "history", "has never run 9999999"),
        (Command("rollback", "prod"), "history", "has run no other image"),
        (Command("promote", "prod", OLD), "differs", "already runs"),
    ],
)
def test_targets_that_cannot_be_reached_are_refused(
    command: Command, gate: str, words: str
) -> None:
    refusal = promote.target(command, CONFIG, FILES, HISTORIES)
    assert isinstance(refusal, gates.Refusal)
    assert refusal.gate == gate and words in refusal.reason


def _changelog() -> Comparison:
    commit = Commit(
        NEW, "Add shot charts", "octocat", f"https://github.com/omerbh7/scoutflow-app/commit/{NEW}"
    )
    return Comparison(OLD, NEW, "ahead", 1, 0, (commit,), "https://github.com/x/compare")


def test_the_prod_pr_body_matches_golden_and_is_never_merged() -> None:
    found = promote.target(Command("promote", "prod"), CONFIG, FILES, HISTORIES)
    assert isinstance(found, promote.Target)
    plan = promote.plan_command(
        command=Command("promote", "prod"),
        config=CONFIG,
        state=state(),
        files=FILES,
        target_=found,
        changelog=_changelog(),
        request=REQUEST,
        server_url="https://github.com",
    )
    assert plan.merge == "none" and plan.branch == "scoutflow-gitops/promote-prod"
    assert [c.path for c in plan.changes] == [PROD]
    assert plan.labels == ("promotion", "env:prod") and plan.reviewers == ("release-manager",)
    check_golden("promote_body.md", plan.body)


def test_a_stage_rollback_adds_the_hold_marker_in_the_same_commit() -> None:
    files = {STAGE: values(STAGE, NEW)}
    found = promote.target(Command("rollback", "stage"), CONFIG, files, {STAGE: HISTORIES[STAGE]})
    assert isinstance(found, promote.Target)
    plan = promote.plan_command(
        command=Command("rollback", "stage"),
        config=CONFIG,
        state=state(),
        files=files,
        target_=found,
        changelog=None,
        request=REQUEST,
        server_url="https://github.com",
    )
    assert [c.path for c in plan.changes] == [STAGE, ".github/holds/stage.yml"]
    assert plan.merge == "auto"
    check_golden("rollback_body.md", plan.body)


def test_release_deletes_the_hold_marker() -> None:
    hold = b"environment: stage\n"
    plan = promote.plan_command(
        command=Command("release", "stage"),
        config=CONFIG,
        state=state(frozenset({"stage"})),
        files={".github/holds/stage.yml": hold},
        target_=None,
        changelog=None,
        request=REQUEST,
        server_url="https://github.com",
    )
    assert [(c.path, c.contents) for c in plan.changes] == [(".github/holds/stage.yml", None)]
    assert "-environment: stage" in plan.diff
    assert plan.title == "Release the hold on stage"
