"""Merging the PR the bot has just written: a small state machine on GitHub's merge status.

GitHub computes a PR's mergeability in the background (``UNKNOWN`` right after a change), moves
the PR's head a moment after its branch, and refuses a merge in many ways. Each decision here is
pure: the PR's status (or GitHub's refusal) and the progress so far in, the next step out.
``apply`` runs the loop: it sends the requests and does the waiting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from scoutflow_gitops.config import MergeMethod
from scoutflow_gitops.model import MergeSettings, PullRequestStatus

Action = Literal["merge", "auto-merge"]
METHOD_NAMES: Mapping[MergeMethod, str] = {
    "squash": "squash merging",
    "merge": "merge commits",
    "rebase": "rebase merging",
}
# GitHub merges directly in these states; BLOCKED waits for required reviews or checks.
MERGEABLE_NOW = frozenset({"CLEAN", "UNSTABLE", "HAS_HOOKS"})
OUT_OF_DATE = {
    "DIRTY": "it conflicts with the default branch",
    "BEHIND": "it is behind the default branch and branch protection wants it up to date",
}
_METHOD_HINT = (
    "set merge_method in the pipeline config to a method the repository allows, or allow it "
    "in the repository's settings (General, Pull Requests)"
)
_GENERIC_HINT = (
    "the PR stays open: fix what GitHub names (branch protection, rules, the token's "
    "permissions), then merge it by hand or re-run the job"
)
_MOVING_HINT = "the PR or the default branch kept moving; re-run the job"
_VERB: Mapping[Action, str] = {"merge": "merge the PR", "auto-merge": "enable auto-merge"}


@dataclass(frozen=True)
class Policy:
    """How long the bot waits for GitHub before it leaves the PR open.

    Waits double from ``first_wait`` up to ``longest_wait``; at most ``max_waits`` of them and
    ``max_seconds`` in all (time spent in requests included).
    """

    max_waits: int = 8
    max_seconds: float = 60.0
    first_wait: float = 1.0
    longest_wait: float = 8.0
    # Merge and auto-merge requests in one run; each refusal that waiting may fix costs one.
    max_attempts: int = 4


@dataclass(frozen=True)
class Goal:
    """What the loop is after: the PR merged (or set to merge) at ``head_oid``."""

    head_oid: str
    mode: Literal["auto", "direct"]
    auto_merge_allowed: bool
    # This run made the head commit, so reading again and re-planning rebuilds it on the new
    # base; a commit left by an earlier run would be planned the same way again.
    rebuildable: bool


@dataclass(frozen=True)
class Progress:
    waits: int = 0
    elapsed: float = 0.0
    attempts: int = 0
    # GitHub's last refusal, quoted when the bot gives up after it.
    refusal: str = ""


@dataclass(frozen=True)
class Read:
    """Wait ``seconds``, then read the PR's status again."""

    seconds: float
    why: str


@dataclass(frozen=True)
class Merge:
    """Merge now, guarded by the head commit."""


@dataclass(frozen=True)
class EnableAutoMerge:
    """Ask GitHub to merge once the required reviews and checks pass."""


@dataclass(frozen=True)
class Replan:
    """The PR or its base moved under the bot: read everything again and decide afresh."""

    why: str


@dataclass(frozen=True)
class Finish:
    """Nothing more to do: merged, auto-merge on, or left open (``why`` says why)."""

    result: Literal["merged", "auto-merge-enabled", "open"]
    why: str = ""


@dataclass(frozen=True)
class Refuse:
    """GitHub refused in a way waiting cannot fix; ``message`` is GitHub's own."""

    message: str
    hint: str


Final = Finish | Refuse | Replan
Step = Read | Merge | EnableAutoMerge | Final


def method_refusal(method: MergeMethod, settings: MergeSettings) -> Refuse | None:
    """Why the configured merge method cannot be used in this repository, if it cannot."""
    allowed: Mapping[MergeMethod, bool] = {
        "squash": settings.squash_allowed,
        "merge": settings.merge_commit_allowed,
        "rebase": settings.rebase_allowed,
    }
    if allowed[method]:
        return None
    others = [name for name, on in allowed.items() if on]
    what = ", ".join(METHOD_NAMES[name] for name in others) if others else "no merge method"
    return Refuse(
        f"merge_method is {method}, but the repository does not allow {METHOD_NAMES[method]} "
        f"(it allows {what})",
        f"set merge_method: {others[0]} in the pipeline config, or allow "
        f"{METHOD_NAMES[method]} in the repository's settings (General, Pull Requests)"
        if others
        else _METHOD_HINT,
    )


def next_step(
    status: PullRequestStatus | None, goal: Goal, progress: Progress, policy: Policy
) -> Step:
    """The step after reading the PR's status."""
    if status is None:
        return Replan("the PR no longer exists")
    if status.state == "MERGED":
        if status.head_oid == goal.head_oid:
            return Finish("merged")
        return Replan("it was merged meanwhile at another commit")
    if status.state != "OPEN":
        return Replan("it was closed meanwhile")
    if status.branch_oid != goal.head_oid:
        return Replan(
            "its branch was deleted"
            if status.branch_oid is None
            else "its branch moved to another commit"
        )
    if status.head_oid != goal.head_oid:
        return _read_again(
            "the PR's head has not caught up with its branch yet",
            progress,
            policy,
            Finish(
                "open",
                f"GitHub had not moved the PR to the new commit {goal.head_oid[:7]} after "
                f"{progress.elapsed:.0f} s; merge it by hand or re-run the job",
            ),
        )
    state = status.merge_state
    if status.is_draft or state == "DRAFT":
        return Finish("open", "it is a draft: mark it ready for review, then merge it")
    if "UNKNOWN" in (state, status.mergeable):
        return _read_again(
            "GitHub is still computing whether it can be merged",
            progress,
            policy,
            Finish(
                "open",
                "GitHub was still computing whether it can be merged (mergeStateStatus "
                f"{state}) after {progress.elapsed:.0f} s; merge it by hand or re-run the job",
            ),
        )
    if state in OUT_OF_DATE or status.mergeable == "CONFLICTING":
        why = OUT_OF_DATE.get(state, OUT_OF_DATE["DIRTY"])
        if goal.rebuildable:
            return Replan(f"{why} (mergeStateStatus {state})")
        return Finish(
            "open",
            f"{why} (mergeStateStatus {state}); the next bump rebuilds it, or update the "
            "branch by hand",
        )
    if state in MERGEABLE_NOW:
        return _attempt(Merge(), progress, policy)
    if state == "BLOCKED":
        blocked = "GitHub blocks merging it until its required reviews or checks pass"
        if goal.mode == "direct":
            return Finish("open", f"{blocked}; merge: direct never enables auto-merge")
        if not goal.auto_merge_allowed:
            return Finish(
                "open",
                f"{blocked}, and auto-merge is off in the repository's settings; allow "
                "auto-merge (General, Pull Requests) or merge it by hand",
            )
        if status.auto_merge:
            return Finish("auto-merge-enabled")
        return _attempt(EnableAutoMerge(), progress, policy)
    return Finish("open", f"GitHub reports mergeStateStatus {state}, which the bot does not merge")


def after_refusal(action: Action, message: str, progress: Progress, policy: Policy) -> Step:
    """The step after GitHub refused to merge (``merge``) or to enable auto-merge."""
    text = message.lower()
    if action == "auto-merge":
        if "clean status" in text:
            # Mergeable right now, so GitHub will not wait for anything: merge it directly.
            return _attempt(Merge(), progress, policy)
        if "unstable status" in text:
            return _read_again(
                "GitHub's view of the checks was still settling",
                progress,
                policy,
                Refuse(message, _MOVING_HINT),
            )
        if "auto merge is not allowed" in text:
            return Finish(
                "open",
                f"auto-merge is off in the repository's settings (GitHub: {message}); allow "
                "auto-merge (General, Pull Requests) or merge it by hand",
            )
    if "draft" in text:
        return Finish("open", "it is a draft: mark it ready for review, then merge it")
    if "is closed" in text:
        return Replan("it was closed meanwhile")
    if any(
        words in text
        for words in ("head branch was modified", "head branch is out of date", "base branch was")
    ):
        # The PR's head or base lags the refs GitHub checks the guard against: read again.
        return _read_again(
            "GitHub saw the PR move", progress, policy, Refuse(message, _MOVING_HINT)
        )
    if "not mergeable" in text:
        # Said while mergeability is still being computed, and sometimes for a merge that
        # landed: the next read tells which.
        return _read_again(
            "GitHub could not merge it yet", progress, policy, Refuse(message, _GENERIC_HINT)
        )
    if "merges are not allowed" in text or "merge commits are not allowed" in text:
        return Refuse(message, _METHOD_HINT)
    return Refuse(message or f"GitHub did not {_VERB[action]}", _GENERIC_HINT)


def _read_again(why: str, progress: Progress, policy: Policy, give_up: Step) -> Step:
    if progress.waits >= policy.max_waits:
        return give_up
    wait = min(policy.first_wait * 2.0**progress.waits, policy.longest_wait)
    if progress.elapsed + wait > policy.max_seconds:
        return give_up
    return Read(wait, why)


def _attempt(step: Merge | EnableAutoMerge, progress: Progress, policy: Policy) -> Step:
    if progress.attempts >= policy.max_attempts:
        return Refuse(progress.refusal or "GitHub did not merge the PR", _GENERIC_HINT)
    return step
