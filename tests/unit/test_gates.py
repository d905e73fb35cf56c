"""Each promotion gate on its own: passes when satisfied, says what would satisfy it when not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scoutflow_gitops import gates
from scoutflow_gitops.config import Gate, Windows

GATE = Gate("stage", 30, "maintain", ("release-manager",), (), ("promotion",))
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
A, B, C = "a" * 40, "b" * 40, "c" * 40


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("role", "passes"),
    [
        ("admin", True),
        ("maintain", True),
        ("write", False),
        ("triage", False),
        ("read", False),
        ("none", False),
        (None, False),
        ("custom-role", False),
    ],
)
def test_permission_gate_needs_the_configured_role_or_higher(
    role: str | None, passes: bool
) -> None:
    refusal = gates.permission_gate("someone", role, GATE.permission, "promoting to prod")
    assert (refusal is None) == passes
    if refusal is not None:
        assert refusal.gate == "permission" and refusal.fix


def test_an_unreadable_permission_denies() -> None:
    refusal = gates.permission_gate("someone", None, GATE.permission, "promoting to prod")
    assert refusal is not None and "could not be read" in refusal.reason


def test_differs_gate() -> None:
    assert gates.differs_gate(A, B, "prod") is None
    refusal = gates.differs_gate(A, A, "prod")
    assert refusal is not None and "already runs" in refusal.reason


@pytest.mark.parametrize(
    ("relation", "words"),
    [("behind", "is older than"), ("diverged", "has diverged from"), (None, "cannot be ordered")],
)
def test_ahead_gate_only_moves_forward(relation: gates.Relation | None, words: str) -> None:
    assert gates.ahead_gate(A, B, "ahead", "prod") is None
    refusal = gates.ahead_gate(A, B, relation, "prod")
    assert refusal is not None and words in refusal.reason
    assert "/rollback prod" in refusal.fix


def test_ci_gate() -> None:
    assert gates.ci_gate(A, None) is None
    refusal = gates.ci_gate(A, "Backend CI (failure)")
    assert refusal is not None and "Backend CI (failure)" in refusal.reason


def test_timeline_merges_unchanged_commits_into_one_period_newest_first() -> None:
    versions = [
        ("c3", at(50), C, 3, "u3"),
        ("c2", at(40), B, None, None),  # a later commit that left B alone (e.g. replicas)
        ("c1", at(20), B, 2, "u2"),
        ("c0", at(0), A, 1, "u1"),
    ]
    periods = gates.timeline(versions)
    assert [(p.tag, p.since, p.until) for p in periods] == [
        (C, at(50), None),
        (B, at(20), at(50)),
        (A, at(0), at(20)),
    ]
    assert periods[1].commit == "c1" and periods[1].pr_number == 2


def test_stage_gate_needs_the_sha_in_stage_history() -> None:
    periods = gates.timeline([("c1", at(0), B, None, None)])
    assert gates.stage_gate(B, "stage", periods) is None
    refusal = gates.stage_gate(C, "stage", periods)
    assert refusal is not None and "has never been stage's image tag" in refusal.reason


def test_soak_gate_counts_from_the_commit_that_set_the_tag_on_githubs_clock() -> None:
    periods = gates.timeline([("c1", at(0), B, None, None)])
    assert gates.soak_gate(B, "stage", periods, at(30), 30) is None
    refusal = gates.soak_gate(B, "stage", periods, at(12), 30)
    assert refusal is not None
    assert "for 12 minutes of the 30 required" in refusal.reason
    assert "ask again after 2026-11-27 12:30 UTC" in refusal.fix


def test_a_sha_that_left_stage_too_soon_never_soaks() -> None:
    periods = gates.timeline([("c2", at(10), C, None, None), ("c1", at(0), B, None, None)])
    refusal = gates.soak_gate(B, "stage", periods, at(500), 30)
    assert refusal is not None and "left stage too soon" in refusal.fix


# -- promotion windows -----------------------------------------------------------------------

WINDOWED = """
version: 1
source: {repository: o/app, required_workflows: [.github/workflows/ci.yml]}
environments:
  - {name: stage, values_file: s.yaml, image_tag_key: image.tag, follows_ci: true, merge: auto}
  - name: prod
    values_file: p.yaml
    image_tag_key: image.tag
    follows_ci: false
    merge: none
    gate:
      promoted_from: stage
      windows:
        time_zone: Europe/Berlin
        weekdays: [mon, tue, wed, thu]
        hours: "09:00-16:00"
        freezes:
          - {from: "2026-12-21", until: "2027-01-04T09:00", reason: year-end freeze}
"""


def _windows() -> Windows:
    from scoutflow_gitops.config import load_config

    prod = load_config(WINDOWED).environment("prod")
    assert prod is not None and prod.gate is not None and prod.gate.windows is not None
    return prod.gate.windows


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "opens", "words"),
    [
        # Tuesday 1 December 2026, 10:00 in Berlin (UTC+1): open.
        ("2026-12-01T09:00", None, ""),
        # Before hours: today at 09:00 Berlin.
        ("2026-12-01T07:30", "2026-12-01 09:00 Europe/Berlin (2026-12-01 08:00 UTC)", "open Mon"),
        # Thursday after hours: Friday is not a window day, so Monday.
        ("2026-12-03T15:30", "2026-12-07 09:00 Europe/Berlin (2026-12-07 08:00 UTC)", "open Mon"),
        # In the freeze: it ends on Monday 4 January at 09:00, inside that day's window.
        (
            "2026-12-22T10:00",
            "2027-01-04 09:00 Europe/Berlin (2027-01-04 08:00 UTC)",
            "frozen until 2027-01-04 09:00 Europe/Berlin (year-end freeze)",
        ),
    ],
    ids=["open", "before-hours", "over-the-weekend", "frozen"],
)
def test_a_promotion_opens_only_in_a_window_and_is_told_when_the_next_opens(
    now: str, opens: str | None, words: str
) -> None:
    refusal = gates.window_gate(_utc(now), _windows(), "prod")
    if opens is None:
        assert refusal is None
        return
    assert refusal is not None and refusal.gate == "window"
    assert words in refusal.reason
    assert refusal.fix == f"ask again after {opens}"


def test_the_window_follows_daylight_saving_time() -> None:
    """Summer in Berlin is UTC+2: 09:00 there is 07:00 UTC (Monday 6 July 2026)."""
    refusal = gates.window_gate(_utc("2026-07-06T06:30"), _windows(), "prod")
    assert refusal is not None
    assert refusal.fix == "ask again after 2026-07-06 09:00 Europe/Berlin (2026-07-06 07:00 UTC)"
    assert gates.window_gate(_utc("2026-07-06T07:00"), _windows(), "prod") is None


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (("Europe/Berlin", "Mars/Olympus"), "is not a time zone this machine knows"),
        (('"09:00-16:00"', '"16:00-09:00"'), "ends before it starts"),
        (('until: "2027-01-04T09:00"', 'until: "2026-12-01"'), "is not before"),
        (("[mon, tue, wed, thu]", "[mon, funday]"), "funday"),
    ],
    ids=["unknown-zone", "hours-backwards", "freeze-backwards", "bad-weekday"],
)
def test_a_window_that_cannot_work_is_a_config_error_at_its_line(
    change: tuple[str, str], words: str
) -> None:
    from scoutflow_gitops.config import load_config
    from scoutflow_gitops.errors import UserError

    with pytest.raises(UserError, match=words):
        load_config(WINDOWED.replace(*change))
