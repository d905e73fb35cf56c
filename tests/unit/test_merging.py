"""The merge state machine, table by table. Pure functions: status or refusal in, step out.

The states are GitHub's ``MergeStateStatus`` (GraphQL schema, enum MergeStateStatus:
https://docs.github.com/en/graphql/reference/enums#mergestatestatus): BEHIND "The head ref is
out of date", BLOCKED "The merge is blocked", CLEAN "Mergeable and passing commit status", DIRTY
"The merge commit cannot be cleanly created", DRAFT, HAS_HOOKS "Mergeable with passing commit
status and pre-receive hooks", UNKNOWN "The state cannot currently be determined", UNSTABLE
"Mergeable with non-passing commit status".
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from scoutflow_gitops import merging
from scoutflow_gitops.merging import (
    Finish,
    Goal,
    Policy,
    Progress,
    Read,
    Refuse,
    Replan,
    Step,
)
from scoutflow_gitops.model import MergeSettings, PullRequestStatus

HEAD = "c" * 40
OLD = "a" * 40
POLICY = Policy(max_waits=4, max_seconds=30.0, first_wait=1.0, longest_wait=4.0, max_attempts=3)
AUTO = Goal(head_oid=HEAD, mode="auto", auto_merge_allowed=True, rebuildable=True)
START = Progress()


def status(merge_state: str = "CLEAN", **fields: object) -> PullRequestStatus:
    values: dict[str, object] = {
        "state": "OPEN",
        "head_oid": HEAD,
        "branch_oid": HEAD,
        "merge_state": merge_state,
        "mergeable": "UNKNOWN" if merge_state == "UNKNOWN" else "MERGEABLE",
    }
    values.update(fields)
    return PullRequestStatus(**values)  # type: ignore[arg-type]


def kind(step: Step) -> str:
    """A step's shape, for tables: its class and the field that matters."""
    if isinstance(step, Finish):
        return f"finish:{step.result}"
    return type(step).__name__.lower()


@pytest.mark.parametrize(
    ("merge_state", "expected"),
    [
        ("CLEAN", "merge"),
        # Non-required checks failing or pending: GitHub merges it all the same.
        ("UNSTABLE", "merge"),
        ("HAS_HOOKS", "merge"),
        ("BLOCKED", "enableautomerge"),
        ("UNKNOWN", "read"),
        ("DIRTY", "replan"),
        ("BEHIND", "replan"),
        ("DRAFT", "finish:open"),
        ("QUEUED_SOMEDAY", "finish:open"),
    ],
)
def test_each_merge_state_status_has_its_step(merge_state: str, expected: str) -> None:
    """One step per ``mergeStateStatus`` (descriptions in the module docstring): merge what
    GitHub can merge now, hand BLOCKED to auto-merge, wait for UNKNOWN, re-plan what is out of
    date, and leave a draft or a state the bot does not know open."""
    assert kind(merging.next_step(status(merge_state), AUTO, START, POLICY)) == expected


@pytest.mark.parametrize(
    ("goal", "merge_state", "expected", "words"),
    [
        (replace(AUTO, mode="direct"), "BLOCKED", "finish:open", "never enables auto-merge"),
        (replace(AUTO, auto_merge_allowed=False), "BLOCKED", "finish:open", "auto-merge is off"),
        (replace(AUTO, auto_merge_allowed=False), "CLEAN", "merge", ""),
        (replace(AUTO, mode="direct"), "CLEAN", "merge", ""),
        (replace(AUTO, rebuildable=False), "DIRTY", "finish:open", "conflicts"),
        (replace(AUTO, rebuildable=False), "BEHIND", "finish:open", "behind"),
    ],
)
def test_the_goal_decides_what_blocked_and_out_of_date_mean(
    goal: Goal, merge_state: str, expected: str, words: str
) -> None:
    """Auto-merge needs the repository's "Allow auto-merge" setting ("Before you can use
    auto-merge with a pull request, auto-merge must be enabled for the repository",
    https://docs.github.com/en/pull-requests/collaborating-with-pull-requests/incorporating-changes-from-a-pull-request/automatically-merging-a-pull-request):
    without it a CLEAN PR is merged directly and a BLOCKED one is left open, saying why. A PR
    whose commit an earlier run made is not re-planned (the plan would be the same again)."""
    step = merging.next_step(status(merge_state), goal, START, POLICY)
    assert kind(step) == expected
    if words:
        assert isinstance(step, Finish) and words in step.why


def test_a_conflicting_mergeable_state_is_out_of_date_whatever_the_status() -> None:
    """``mergeable: CONFLICTING`` ("cannot be merged due to merge conflicts", schema enum
    MergeableState) is re-planned like DIRTY."""
    step = merging.next_step(status("BLOCKED", mergeable="CONFLICTING"), AUTO, START, POLICY)
    assert isinstance(step, Replan) and "conflicts" in step.why


def test_mergeable_still_unknown_waits_even_when_the_status_has_a_value() -> None:
    """GitHub computes mergeability in a background job; until it finishes ``mergeable`` is
    null/UNKNOWN ("If the value is null, then GitHub has started a background job to compute
    the mergeability. After giving the job time to complete, resubmit the request",
    https://docs.github.com/en/rest/pulls/pulls#get-a-pull-request)."""
    step = merging.next_step(status("CLEAN", mergeable="UNKNOWN"), AUTO, START, POLICY)
    assert isinstance(step, Read)


def test_an_auto_merge_already_enabled_is_not_asked_for_again() -> None:
    step = merging.next_step(status("BLOCKED", auto_merge=True), AUTO, START, POLICY)
    assert step == Finish("auto-merge-enabled")


def test_a_draft_flag_stops_the_bot_whatever_the_status() -> None:
    """``DRAFT`` is deprecated in favour of ``isDraft`` (schema: "Use PullRequest.isDraft
    instead"), so the flag counts too."""
    step = merging.next_step(status("BLOCKED", is_draft=True), AUTO, START, POLICY)
    assert isinstance(step, Finish) and step.result == "open" and "draft" in step.why


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        ({"state": "MERGED"}, Finish("merged")),
        ({"state": "MERGED", "head_oid": OLD}, Replan("it was merged meanwhile at another commit")),
        ({"state": "CLOSED"}, Replan("it was closed meanwhile")),
        ({"branch_oid": None}, Replan("its branch was deleted")),
        ({"branch_oid": OLD, "head_oid": OLD}, Replan("its branch moved to another commit")),
    ],
)
def test_a_pr_that_moved_elsewhere_is_replanned_and_one_merged_at_our_head_is_done(
    changed: dict[str, object], expected: Step
) -> None:
    """Merged at the bot's commit: its merge (or GitHub's auto-merge) landed. Merged at
    another commit, closed, or its branch moved or deleted: another job got there first, so
    everything is read again."""
    assert merging.next_step(status("CLEAN", **changed), AUTO, START, POLICY) == expected


def test_none_means_the_pr_is_gone() -> None:
    assert isinstance(merging.next_step(None, AUTO, START, POLICY), Replan)


def test_a_head_that_lags_its_branch_is_waited_for() -> None:
    """A PR's ``headRefOid`` follows its branch with a delay; merging with the new head before
    GitHub caught up is refused (strands-labs/robots#2538: ``headRefOid`` kept the older commit
    while the branch had moved, and ``mergePullRequest`` answered "Head branch is out of date.
    Review and try the merge again."; quern-dev/quern#88: one second after a push the API
    still reported the previous head)."""
    lagging = status("CLEAN", head_oid=OLD)
    step = merging.next_step(lagging, AUTO, START, POLICY)
    assert isinstance(step, Read) and "caught up" in step.why


@pytest.mark.parametrize(
    ("waits", "expected"),
    [(0, 1.0), (1, 2.0), (2, 4.0), (3, 4.0)],
)
def test_waits_double_up_to_the_longest_wait(waits: int, expected: float) -> None:
    step = merging.next_step(status("UNKNOWN"), AUTO, Progress(waits=waits), POLICY)
    assert step == Read(expected, "GitHub is still computing whether it can be merged")


@pytest.mark.parametrize(
    "progress",
    [Progress(waits=4, elapsed=7.0), Progress(waits=1, elapsed=28.5)],
    ids=["too many waits", "out of time"],
)
def test_a_pr_still_unknown_past_the_bound_is_left_open_saying_why(progress: Progress) -> None:
    """Bounded by the number of waits and by time (the next wait would pass ``max_seconds``).
    The PR exists, so the run ends with it open and a reason, not with an error."""
    step = merging.next_step(status("UNKNOWN"), AUTO, progress, POLICY)
    assert isinstance(step, Finish) and step.result == "open"
    assert "still computing whether it can be merged" in step.why
    assert f"after {progress.elapsed:.0f} s" in step.why


def test_a_head_that_never_catches_up_leaves_the_pr_open() -> None:
    step = merging.next_step(status("CLEAN", head_oid=OLD), AUTO, Progress(waits=4), POLICY)
    assert isinstance(step, Finish) and step.result == "open"
    assert HEAD[:7] in step.why


def test_merges_are_bounded_and_the_last_refusal_is_quoted() -> None:
    progress = Progress(attempts=3, refusal="Base branch was modified. Review and try again.")
    step = merging.next_step(status("CLEAN"), AUTO, progress, POLICY)
    assert isinstance(step, Refuse) and step.message == progress.refusal


# -- GitHub's refusals ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "message", "expected"),
    [
        # peter-evans/enable-pull-request-automerge#343 and #1118, rjwalters/loom#3379: GitHub
        # refuses auto-merge on a PR it could merge right now; a direct merge then succeeds.
        ("auto-merge", "Pull request Pull request is in clean status", "merge"),
        # peter-evans/enable-pull-request-automerge#343 and #355:
        # also answered right after a PR is opened, while GitHub is still settling its state.
        ("auto-merge", "Pull request Pull request is in unstable status", "read"),
        # indexable-inc/index#2948, enfabrica/enkit#1172: the repository setting is off.
        ("auto-merge", "Pull request Auto merge is not allowed for this repository", "finish:open"),
        ("auto-merge", "Pull request Pull request is in draft state", "finish:open"),
        ("auto-merge", "Pull request Pull request is closed", "replan"),
        # OpenAPI, PUT /pulls/{n}/merge 409: "Conflict if sha was provided and pull request head
        # did not match"; dlang/dlang-bot#77, kubernetes/test-infra#6343.
        ("merge", "Head branch was modified. Review and try the merge again.", "read"),
        (
            "auto-merge",
            "Pull request Head branch was modified. Review and try the merge again.",
            "read",
        ),
        # strands-labs/robots#2538: the same refusal while headRefOid lagged its branch.
        ("merge", "Head branch is out of date. Review and try the merge again.", "read"),
        # KnpLabs/php-github-api#497: answered right after the branch and PR were created.
        ("merge", "Base branch was modified. Review and try the merge again.", "read"),
        # OpenAPI, PUT /pulls/{n}/merge 405 "Pull Request is not mergeable"; said while
        # mergeability is unknown, and for merges that landed (strands-labs/robots#2251).
        ("merge", "Pull Request is not mergeable", "read"),
        # ridedott/merge-me-action#329; bazelbuild/continuous-integration#2178.
        ("merge", "Squash merges are not allowed on this repository.", "refuse"),
        ("merge", "Merge commits are not allowed on this repository.", "refuse"),
        ("merge", 'Required status check "ci" is expected.', "refuse"),
        ("merge", "Resource not accessible by integration", "refuse"),
        # Clean status from the merge mutation itself means nothing special: not retried.
        ("merge", "Pull request Pull request is in clean status", "refuse"),
    ],
)
def test_each_refusal_has_its_step(action: merging.Action, message: str, expected: str) -> None:
    assert kind(merging.after_refusal(action, message, Progress(attempts=1), POLICY)) == expected


def test_a_refusal_that_waiting_cannot_fix_keeps_githubs_words_and_gives_a_hint() -> None:
    step = merging.after_refusal(
        "merge", "Squash merges are not allowed on this repository.", Progress(), POLICY
    )
    assert step == Refuse("Squash merges are not allowed on this repository.", merging._METHOD_HINT)
    assert "merge_method" in step.hint


def test_a_refusal_that_waiting_may_fix_gives_up_with_githubs_words_past_the_bound() -> None:
    message = "Base branch was modified. Review and try the merge again."
    step = merging.after_refusal("merge", message, Progress(waits=4, attempts=2), POLICY)
    assert isinstance(step, Refuse) and step.message == message and step.hint


def test_clean_status_past_the_attempt_bound_is_refused_not_looped() -> None:
    progress = Progress(attempts=3, refusal="Pull request Pull request is in clean status")
    step = merging.after_refusal("auto-merge", progress.refusal, progress, POLICY)
    assert isinstance(step, Refuse) and "clean status" in step.message


def test_auto_merge_turned_off_is_left_open_quoting_github() -> None:
    message = "Pull request Auto merge is not allowed for this repository"
    step = merging.after_refusal("auto-merge", message, Progress(attempts=1), POLICY)
    assert isinstance(step, Finish) and message in step.why and "allow auto-merge" in step.why


def test_an_empty_refusal_still_says_what_failed() -> None:
    step = merging.after_refusal("auto-merge", "", Progress(attempts=1), POLICY)
    assert step == Refuse("GitHub did not enable auto-merge", merging._GENERIC_HINT)


# -- the merge method --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "settings", "refused", "suggested"),
    [
        ("squash", MergeSettings(), False, ""),
        ("squash", MergeSettings(squash_allowed=False), True, "merge_method: merge"),
        (
            "merge",
            MergeSettings(merge_commit_allowed=False, rebase_allowed=False),
            True,
            "merge_method: squash",
        ),
        ("rebase", MergeSettings(squash_allowed=False, merge_commit_allowed=False), False, ""),
        (
            "rebase",
            MergeSettings(rebase_allowed=False, squash_allowed=False),
            True,
            "merge_method: merge",
        ),
    ],
)
def test_the_configured_merge_method_must_be_one_the_repository_allows(
    method: merging.MergeMethod, settings: MergeSettings, refused: bool, suggested: str
) -> None:
    """A repository enables each merge method on its own (``squashMergeAllowed``,
    ``mergeCommitAllowed``, ``rebaseMergeAllowed`` in the GraphQL schema; "You can enforce one
    type of merge method ... by only enabling the desired method for your repository",
    https://docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/configuring-pull-request-merges/about-merge-methods-on-github).
    GitHub refuses the others ("Squash merges are not allowed on this repository.",
    ridedott/merge-me-action#329)."""
    refusal = merging.method_refusal(method, settings)
    assert (refusal is not None) == refused
    if refusal is not None:
        assert f"merge_method is {method}" in refusal.message
        assert suggested in refusal.hint


def test_a_repository_with_no_method_at_all_still_gets_a_hint() -> None:
    refusal = merging.method_refusal(
        "squash",
        MergeSettings(squash_allowed=False, merge_commit_allowed=False, rebase_allowed=False),
    )
    assert refusal is not None and "no merge method" in refusal.message and refusal.hint
