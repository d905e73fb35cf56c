"""The gates a production promotion (or a rollback) must pass. Pure: one function per gate.

Each gate returns ``None`` when it passes, or a ``Refusal`` that says what failed and what
would satisfy it. ``check_gates`` runs them in order and stops at the first refusal, so the
person who asked gets one clear answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from scoutflow_gitops.config import PERMISSION_RANK, Permission, Windows
from scoutflow_gitops.model import Relation


@dataclass(frozen=True)
class Refusal:
    gate: str
    reason: str
    fix: str


@dataclass(frozen=True)
class TagPeriod:
    """An environment's tag between two commits of its values file (``until`` None: now)."""

    tag: str
    since: datetime
    commit: str
    pr_number: int | None
    pr_url: str | None
    until: datetime | None


def timeline(
    versions: Sequence[tuple[str, datetime, str | None, int | None, str | None]],
) -> tuple[TagPeriod, ...]:
    """Periods of one tag each, newest first, from (commit, date, tag, pr, pr_url) newest first.

    Consecutive commits that leave the tag alone extend one period back to the commit that set
    it; a version without a readable tag breaks the run and is not a period itself.
    """
    periods: list[TagPeriod] = []
    previous: str | None = None
    for commit, date, tag, pr_number, pr_url in versions:
        if tag is not None and periods and previous == tag:
            last = periods[-1]
            periods[-1] = replace(
                last, since=date, commit=commit, pr_number=pr_number, pr_url=pr_url
            )
        elif tag is not None:
            until = periods[-1].since if periods else None
            periods.append(TagPeriod(tag, date, commit, pr_number, pr_url, until))
        previous = tag
    return tuple(periods)


def permission_gate(user: str, role: str | None, needed: Permission, doing: str) -> Refusal | None:
    """``doing`` names what is asked ("promoting", "rolling back stage") in the refusal."""
    if role is None:
        return Refusal(
            "permission",
            f"@{user}'s permission on this repository could not be read",
            "try again; if it persists, check the bot's access to collaborator permissions",
        )
    if PERMISSION_RANK.get(role, 0) < PERMISSION_RANK[needed]:
        return Refusal(
            "permission",
            f"@{user} has the {role} role here; {doing} needs {needed} or higher",
            f"ask someone with the {needed} role (e.g. a release owner) to comment",
        )
    return None


def on_branch_gate(
    candidate: str, relation: Relation | None, repository: str, branch: str
) -> Refusal | None:
    """The candidate must be on the source branch now: its head is ``ahead`` of it or is it. A
    commit force-pushed off the branch after its CI ran is not."""
    if relation in ("ahead", "identical"):
        return None
    return Refusal(
        "on-branch",
        f"{candidate[:7]} is not on {repository}'s {branch} (any more)",
        f"promote only commits of {branch}; merge the change there and let it reach stage",
    )


# How far ahead the next opening of a window is looked for.
WINDOW_HORIZON_DAYS = 400


def window_gate(now: datetime, windows: Windows | None, env: str) -> Refusal | None:
    """A promotion opens only inside the gate's windows (GitHub's clock, the windows' zone);
    the refusal says when the next one opens."""
    if windows is None:
        return None
    zone = ZoneInfo(windows.zone)
    here = now.astimezone(zone)
    if _open_at(here, windows):
        return None
    freeze = next((f for f in windows.freezes if f.start <= here < f.end), None)
    why = (
        f"{env} is frozen until {freeze.end:%Y-%m-%d %H:%M} {windows.zone}"
        + (f" ({freeze.reason})" if freeze.reason else "")
        if freeze is not None
        else f"promotions to {env} open {_describe(windows)}"
    )
    opens = _next_opening(here, windows)
    if opens is None:
        return Refusal("window", why, f"no window opens within {WINDOW_HORIZON_DAYS} days")
    utc = opens.astimezone(UTC)
    return Refusal(
        "window",
        why,
        f"ask again after {opens:%Y-%m-%d %H:%M} {windows.zone} ({utc:%Y-%m-%d %H:%M} UTC)",
    )


def _open_at(moment: datetime, windows: Windows) -> bool:
    if moment.weekday() not in windows.weekdays:
        return False
    clock = moment.time().replace(tzinfo=None)
    if clock < windows.start or (windows.end is not None and clock >= windows.end):
        return False
    return not any(f.start <= moment < f.end for f in windows.freezes)


def _next_opening(here: datetime, windows: Windows) -> datetime | None:
    """The first moment after ``here`` a window is open: a day's opening time, or the end of
    a freeze that falls inside a window."""
    zone = here.tzinfo
    moments = [f.end for f in windows.freezes if f.end > here]
    for offset in range(WINDOW_HORIZON_DAYS + 1):
        day = here.date() + timedelta(days=offset)
        moments.append(datetime.combine(day, windows.start, tzinfo=zone))
    opening = sorted(m for m in moments if m > here and _open_at(m, windows))
    return opening[0] if opening else None


def _describe(windows: Windows) -> str:
    names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    days = ", ".join(names[day] for day in windows.weekdays)
    end = windows.end.strftime("%H:%M") if windows.end is not None else "24:00"
    return f"{days}, {windows.start:%H:%M}-{end} {windows.zone}"


def quarantine_gate(candidate: str, quarantined: frozenset[str]) -> Refusal | None:
    """A SHA an environment was rolled back from is never promoted until it is lifted."""
    if candidate not in quarantined:
        return None
    return Refusal(
        "quarantine",
        f"{candidate[:7]} is quarantined: an environment was rolled back from it",
        f"if it is fixed after all, someone with the rollback role comments `/unquarantine "
        f"{candidate}`",
    )


def rollback_gate(
    candidate: str, current: str | None, relation: Relation | None, env: str
) -> Refusal | None:
    """A rollback only goes back: to a commit the one running is ``ahead`` of."""
    if current is None or relation == "ahead":
        return None
    return Refusal(
        "history",
        f"{candidate[:7]} is not older than {current[:7]}, which {env} runs",
        f"a rollback only goes back; to move {env} forward, let CI or `/promote` do it",
    )


def differs_gate(candidate: str, current: str | None, env: str) -> Refusal | None:
    if candidate == current:
        return Refusal("differs", f"{env} already runs {candidate[:7]}", "nothing to do")
    return None


def ahead_gate(
    candidate: str, current: str | None, relation: Relation | None, env: str
) -> Refusal | None:
    if relation == "ahead":
        return None
    word = {
        "behind": "is older than",
        "identical": "is the same commit as",
        "diverged": "has diverged from",
    }.get(relation or "", "cannot be ordered against")
    return Refusal(
        "newer",
        f"{candidate[:7]} {word} what {env} runs ({(current or 'nothing')[:7]})",
        f"promotions only move {env} forward; use `/rollback {env} <sha>` to go back",
    )


def ci_gate(candidate: str, failing: str | None) -> Refusal | None:
    if failing is None:
        return None
    return Refusal(
        "ci",
        f"not every required workflow is green for {candidate[:7]}: {failing}",
        "re-run or fix the failing workflow, or promote a commit whose CI passed",
    )


def stage_gate(candidate: str, source: str, periods: Sequence[TagPeriod]) -> Refusal | None:
    if any(period.tag == candidate for period in periods):
        return None
    return Refusal(
        "promoted-from",
        f"{candidate[:7]} has never been {source}'s image tag",
        f"only what {source} has run can be promoted; wait until {source} runs it",
    )


def soak_gate(
    candidate: str, source: str, periods: Sequence[TagPeriod], now: datetime, minutes: int
) -> Refusal | None:
    period = next((p for p in periods if p.tag == candidate), None)
    if period is None:
        return None  # stage_gate answers this one
    soaked = (period.until or now) - period.since
    needed = timedelta(minutes=minutes)
    if soaked >= needed:
        return None
    ready = period.since + needed
    return Refusal(
        "soak",
        f"{candidate[:7]} has run in {source} for {_minutes(soaked)} of the {minutes} required",
        f"ask again after {ready:%Y-%m-%d %H:%M} UTC"
        if period.until is None
        else f"it left {source} too soon; promote a commit {source} ran for {minutes} minutes",
    )


def _minutes(delta: timedelta) -> str:
    total = int(delta.total_seconds() // 60)
    return f"{total} minute{'s' if total != 1 else ''}"
