"""Branch protection as GitHub evaluates it: CODEOWNERS, reviews, checks and the merge state.

Pure functions over plain values, so each rule reads (and is tested) apart from the sandbox's
state: ``Sandbox`` gathers the facts of a pull request and applies the verdict. The texts are
GitHub's own; ``tests/sandbox/test_pull_rules.py`` cites where each one was observed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Check conclusions that satisfy a required check (GitHub counts skipped and neutral as passed).
PASSING = frozenset({"success", "neutral", "skipped"})
# Check conclusions and commit status states (``error``) that fail one.
FAILING = frozenset({"failure", "cancelled", "timed_out", "error"})
# The states a commit status may have (``POST /repos/{o}/{r}/statuses/{sha}``).
STATUS_STATES = ("error", "failure", "pending", "success")
# Where GitHub looks for CODEOWNERS on the base branch, in this order; the first found is used.
CODEOWNERS_PATHS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")

APPROVED = "APPROVED"
CHANGES_REQUESTED = "CHANGES_REQUESTED"
COMMENTED = "COMMENTED"
DISMISSED = "DISMISSED"
PENDING = "PENDING"

CHANGES_REQUESTED_TEXT = "Changes requested by a reviewer with write access."
DRAFT_TEXT = "Pull Request is still a draft"
OUT_OF_DATE_TEXT = "Head branch is out of date. Review and try the merge again."


@dataclass(frozen=True)
class OwnerRule:
    """One CODEOWNERS line: its pattern and owners as written (``@`` dropped from handles)."""

    pattern: str
    regex: re.Pattern[str]
    owners: tuple[str, ...]


def parse_codeowners(text: str) -> tuple[OwnerRule, ...]:
    """The rules of a CODEOWNERS file, in file order (the last matching rule wins)."""
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tokens = line.split()
        owners = []
        for token in tokens[1:]:
            if token.startswith("#"):
                break
            owners.append(token.removeprefix("@"))
        pattern = tokens[0].replace("\\#", "#")
        rules.append(OwnerRule(pattern, _pattern_regex(pattern), tuple(owners)))
    return tuple(rules)


def owners_of(rules: Sequence[OwnerRule], path: str) -> tuple[str, ...]:
    """The owners of ``path``: those of the last rule that matches it (none when unowned)."""
    for rule in reversed(rules):
        if rule.regex.match(path):
            return rule.owners
    return ()


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """gitignore-style matching, minus what CODEOWNERS leaves out (``!`` and ``[ ]``).

    Written apart from ``scoutflow_gitops.codeowners`` on purpose: the simulator stands in for
    GitHub, and a bot checked against its own matcher would agree with its own mistakes."""
    directory = pattern.endswith("/")
    core = pattern.removeprefix("/").removesuffix("/") if len(pattern) > 1 else pattern
    # A slash at the start or in the middle ties the pattern to the repository root.
    anchored = pattern.startswith("/") or "/" in core
    out = []
    i = 0
    while i < len(core):
        if core.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif core.startswith("/**", i) and i + 3 == len(core):
            out.append("/.*")
            i += 3
        elif core.startswith("**", i):
            out.append(".*")
            i += 2
        elif core[i] == "*":
            out.append("[^/]*")
            i += 1
        elif core[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(core[i]))
            i += 1
    last = core.rsplit("/", 1)[-1]
    if directory:
        suffix = "/.*"
    elif "*" in last or "?" in last:
        suffix = ""  # `docs/*` owns the files in docs/, not those in its subfolders
    else:
        suffix = "(?:/.*)?"  # a plain name also owns everything under it when it is a folder
    prefix = "" if anchored else "(?:.*/)?"
    return re.compile(f"^{prefix}{''.join(out)}{suffix}$")


def either_of(names: Sequence[str]) -> str:
    """``a``, ``a and/or b``, ``a, b, and/or c``: how GitHub lists the owners it waits on."""
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]} and/or {names[1]}"
    return ", ".join(names[:-1]) + f", and/or {names[-1]}"


@dataclass(frozen=True)
class Owner:
    """A code owner as GitHub names it in messages, and the account it resolves to (if any)."""

    display: str
    login: str | None


def review_blockers(
    states: Mapping[str, str],
    required_count: int,
    owner_sets: Sequence[Sequence[Owner]],
) -> tuple[str, ...]:
    """What keeps required reviews from being met, most important first.

    ``states``: each write-access reviewer's (lowercase login) latest review that counts;
    ``owner_sets``: for every changed file with code owners (when their review is required), the
    owners any one of whom must approve.
    """
    approvers = {login for login, state in states.items() if state == APPROVED}
    blockers = []
    if any(state == CHANGES_REQUESTED for state in states.values()):
        blockers.append(CHANGES_REQUESTED_TEXT)
    if len(approvers) < required_count:
        noun = "review is" if required_count == 1 else "reviews are"
        blockers.append(
            f"At least {required_count} approving {noun} required by reviewers with write access."
        )
    waiting: list[str] = []
    for owners in owner_sets:
        if not any(owner.login in approvers for owner in owners if owner.login):
            waiting += [o.display for o in owners if o.display not in waiting]
    if waiting:
        blockers.append(f"Waiting on code owner review from {either_of(waiting)}.")
    return tuple(blockers)


def review_decision(
    required: bool, states: Mapping[str, str], blockers: Sequence[str]
) -> str | None:
    """GraphQL ``reviewDecision``: null where the base branch requires no reviews."""
    if not required:
        return None
    if any(state == CHANGES_REQUESTED for state in states.values()):
        return "CHANGES_REQUESTED"
    return "REVIEW_REQUIRED" if blockers else "APPROVED"


def context_state(states: Sequence[str]) -> str | None:
    """The state of one status check context from everything reported under its name (a check
    run and a commit status may share it; GitHub then requires both): the first failing state,
    else the first that has not passed, else a passing one. None: nothing was reported."""
    failing = [state for state in states if state in FAILING]
    waiting = [state for state in states if state not in PASSING]
    return next(iter(failing or waiting or states), None)


def combined_status(states: Sequence[str]) -> str:
    """REST's combined status of a commit's latest statuses: ``failure`` if any is error or
    failure, ``pending`` if there is none or one is pending, else ``success``."""
    if any(state in ("error", "failure") for state in states):
        return "failure"
    if not states or any(state == "pending" for state in states):
        return "pending"
    return "success"


def required_checks_text(required: Sequence[tuple[str, str | None]]) -> str:
    """Why required status checks block a merge ("" when they all passed)."""
    failing = [context for context, state in required if state in FAILING]
    if failing:
        return f'Required status check "{failing[0]}" is failing.'
    waiting = [context for context, state in required if state not in PASSING]
    if len(waiting) == 1:
        return f'Required status check "{waiting[0]}" is expected.'
    if waiting:
        return f"{len(waiting)} of {len(required)} required status checks are expected."
    return ""


@dataclass(frozen=True)
class MergeFacts:
    """What decides a conflict-free pull request's merge state."""

    draft: bool
    # Each required check context and its state on the head (None: not reported yet).
    required: tuple[tuple[str, str | None], ...]
    # The states of the head's other (not required) checks.
    optional: tuple[str, ...]
    review_blockers: tuple[str, ...]
    # "Require branches to be up to date" is on and the base has commits the head lacks.
    behind: bool
    # GitHub Enterprise Server pre-receive hooks run on the base repository.
    hooks: bool


def merge_state(facts: MergeFacts) -> tuple[str, str]:
    """GitHub's ``mergeable_state`` for a pull request without conflicts, and why it is blocked."""
    if facts.draft:
        return "draft", DRAFT_TEXT
    blockers = [*facts.review_blockers, required_checks_text(facts.required)]
    reason = next((text for text in blockers if text), "")
    if reason:
        return "blocked", reason
    if facts.behind:
        return "behind", OUT_OF_DATE_TEXT
    if any(state not in PASSING for state in facts.optional):
        return "unstable", ""
    if facts.hooks:
        return "has_hooks", ""
    return "clean", ""


def rollup_state(states: Sequence[str]) -> str:
    """GraphQL ``StatusCheckRollup.state`` of a commit's checks."""
    if any(state in FAILING for state in states):
        return "FAILURE"
    if any(state not in PASSING for state in states):
        return "PENDING"
    return "SUCCESS"
