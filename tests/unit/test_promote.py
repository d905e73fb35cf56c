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
    9001,
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
        ci_note=None,
    )
    assert plan.merge == "none" and plan.branch == f"scoutflow-gitops/promote-prod-{NEW[:12]}"
    assert [c.path for c in plan.changes] == [PROD]
    # release-manager, the configured reviewer, asked: never one's own reviewer.
    assert plan.labels == ("promotion", "env:prod") and plan.reviewers == ()
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
        ci_note=None,
    )
    # The hold keeps CI away from stage; the quarantine keeps what it ran out of everything.
    assert [c.path for c in plan.changes] == [
        STAGE,
        ".github/holds/stage.yml",
        f".github/quarantine/{NEW}.yml",
    ]
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
        ci_note=None,
    )
    assert [(c.path, c.contents) for c in plan.changes] == [(".github/holds/stage.yml", None)]
    assert "-environment: stage" in plan.diff
    assert plan.title == "Release the hold on stage"


D, E, F = "d" * 40, "e" * 40, "f" * 40


def _dev_history(*tags: str) -> dict[str, tuple[FileVersion, ...]]:
    """dev's values file history, newest first, one change per tag."""
    dev = "environments/dev/values.yaml"
    return {dev: tuple(version(dev, tag, 100 - i) for i, tag in enumerate(tags))}


def test_a_second_rollback_is_offered_what_ran_before_newest_first_each_tag_once() -> None:
    """D -> E -> F, rolled back to E: the options are F (rolled back from) and D."""
    dev = "environments/dev/values.yaml"
    histories = _dev_history(E, F, E, D)
    found = promote.target(
        Command("rollback", "dev"), CONFIG, {dev: histories[dev][0].text}, histories
    )
    assert isinstance(found, promote.Target)
    assert (found.current, found.options) == (E, (F, D))


def test_choose_rollback_takes_an_option_what_runs_is_ahead_of() -> None:
    found = promote.Target(CONFIG.environments[0], E, D, (), (D,))
    picked = promote.choose_rollback(found, ["ahead"])
    assert isinstance(picked, promote.Target) and picked.candidate == D


def test_choose_rollback_passes_over_newer_options_and_asks_for_the_next() -> None:
    found = promote.Target(CONFIG.environments[0], E, F, (), (F, D))
    assert promote.choose_rollback(found, []) is None
    # What runs (E) is behind F: F is newer, passed over; D's relation is still unread.
    assert promote.choose_rollback(found, ["behind"]) is None
    picked = promote.choose_rollback(found, ["behind", "ahead"])
    assert isinstance(picked, promote.Target) and picked.candidate == D


@pytest.mark.parametrize(
    ("options", "relations", "words"),
    [
        ((F,), ["behind"], f"{F[:7]} is not older than {E[:7]}, which dev runs"),
        ((F,), [None], f"{F[:7]} is not older than {E[:7]}"),
        ((F, D), ["behind", "diverged"], f"dev has run no image older than {E[:7]}"),
    ],
    ids=["named-newer", "named-unknown", "none-older"],
)
def test_a_rollback_with_nothing_older_is_refused(
    options: tuple[str, ...], relations: list[str | None], words: str
) -> None:
    found = promote.Target(CONFIG.environments[0], E, options[0], (), options)
    refusal = promote.choose_rollback(found, relations)  # type: ignore[arg-type]
    assert isinstance(refusal, gates.Refusal)
    assert refusal.gate == "history" and words in refusal.reason


def test_a_rollback_of_a_gated_environment_needs_no_stage_evidence() -> None:
    prod = CONFIG.environment("prod")
    assert prod is not None
    found = promote.Target(prod, NEW, OLD, (), (OLD,))
    assert promote.evidence_gates(found, T0) is None


def test_a_promotion_of_another_sha_supersedes_the_open_promotion_pr() -> None:
    from scoutflow_gitops.model import BotBranch, PullRequest

    old_pr = PullRequest(
        "PR_1", 4, "https://github.com/o/r/pull/4", "a" * 40, "Promote", "<!-- none -->"
    )
    old = BotBranch(f"scoutflow-gitops/promote-prod-{OLD[:12]}", "a" * 40, old_pr)
    bump = BotBranch("scoutflow-gitops/bump-dev-stage", "b" * 40, old_pr)
    found = promote.target(Command("promote", "prod"), CONFIG, FILES, HISTORIES)
    assert isinstance(found, promote.Target)
    current = state()
    with_branches = GitopsState(
        current.repository_id,
        current.default_branch,
        current.head_oid,
        None,
        (old, bump),
        frozenset(),
        {},
        current.server_time,
    )
    plan = promote.plan_command(
        command=Command("promote", "prod"),
        config=CONFIG,
        state=with_branches,
        files=FILES,
        target_=found,
        changelog=None,
        request=REQUEST,
        server_url="https://github.com",
        ci_note=None,
    )
    assert plan.branch == f"scoutflow-gitops/promote-prod-{NEW[:12]}"
    assert plan.existing_pr is None and plan.supersedes == (old,)
    assert promote.same_promotion(with_branches, "prod", NEW) is None


def test_promotion_prs_of_an_environment_whose_name_starts_the_same_are_not_its_own() -> None:
    from scoutflow_gitops.model import BotBranch, PullRequest

    def branch(name: str, env: str) -> BotBranch:
        body = f'<!-- scoutflow-gitops:plan {{"candidate": "{NEW}", "environment": "{env}"}} -->'
        pr = PullRequest("PR_" + name, 1, "https://x/pull/1", "a" * 40, "t", body)
        return BotBranch(name, "a" * 40, pr)

    prod = branch(f"scoutflow-gitops/promote-prod-{OLD[:12]}", "prod")
    prod_eu = branch(f"scoutflow-gitops/promote-prod-eu-{OLD[:12]}", "prod-eu")
    eu_single = branch("scoutflow-gitops/promote-prod-eu", "prod-eu")
    current = state()
    with_branches = GitopsState(
        current.repository_id,
        current.default_branch,
        current.head_oid,
        None,
        (prod, prod_eu, eu_single),
        frozenset(),
        {},
        current.server_time,
    )
    assert promote.open_promotions(with_branches, "prod") == (prod,)
    assert promote.open_promotions(with_branches, "prod-eu") == (prod_eu, eu_single)


@pytest.mark.parametrize(
    ("gate", "promote_role", "rollback_role"),
    [
        ("permission: admin", "admin", "admin"),
        ("permission: write\n      rollback_permission: admin", "write", "admin"),
        ("", "maintain", "maintain"),
    ],
    ids=["rollback-defaults-to-permission", "each-its-own", "defaults"],
)
def test_promoting_and_rolling_back_each_need_their_own_role(
    gate: str, promote_role: str, rollback_role: str
) -> None:
    from scoutflow_gitops.bot import _permission_for

    text = (ROOT / ".github/scoutflow-gitops.yml").read_text()
    without = text.replace("      rollback_permission: maintain\n", "", 1)
    assert without != text
    text = without.replace("      permission: maintain\n", f"      {gate}\n" if gate else "", 1)
    config = load_config(text)
    assert _permission_for(Command("promote", "prod"), config) == (
        promote_role,
        "promoting to prod",
    )
    assert _permission_for(Command("rollback", "prod"), config) == (
        rollback_role,
        "rolling prod back",
    )


def test_every_refusing_gate_of_a_promotion_is_listed_in_order() -> None:
    found = promote.target(Command("promote", "prod"), CONFIG, FILES, HISTORIES)
    assert isinstance(found, promote.Target)
    evidence = promote.Evidence(
        ci_failing="Backend CI failed", on_branch="diverged", ahead="behind"
    )
    refusals = promote.promotion_refusals(
        found, T0 + timedelta(minutes=40), frozenset({NEW}), CONFIG.source, evidence
    )
    assert [r.gate for r in refusals] == ["quarantine", "soak", "ci", "on-branch", "newer"]
    clean = promote.Evidence(ci_failing=None, on_branch="ahead", ahead="ahead")
    assert (
        promote.promotion_refusals(
            found, T0 + timedelta(minutes=75), frozenset(), CONFIG.source, clean
        )
        == ()
    )
