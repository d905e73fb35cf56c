"""Carrying out a plan against a scripted host: the merge loop reads, waits and merges as
``merging`` decides, and every way it ends reaches the user as an outcome or one clear error.

GitHub's behaviour behind the scripts is cited in tests/unit/test_merging.py (the decisions)
and tests/unit/test_github_writes.py (the requests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import pytest

from scoutflow_gitops.apply import Waiting, apply_plan
from scoutflow_gitops.bot import Settings, _carry_out
from scoutflow_gitops.config import MergeMethod, MergeMode
from scoutflow_gitops.errors import UserError
from scoutflow_gitops.merging import Policy
from scoutflow_gitops.model import (
    FileChange,
    GitopsState,
    MergeSettings,
    Outcome,
    PullRequest,
    PullRequestStatus,
)
from scoutflow_gitops.port import ConflictError, MergeAnswer, Published, PublishRequest

BASE = "a" * 40
BRANCH = "b" * 40
COMMIT = "c" * 40
PR = PullRequest("PR_1", 7, "https://github.test/o/r/pull/7", COMMIT, "Deploy", "body")
CLEAN_STATUS = "Pull request Pull request is in clean status"


@dataclass(frozen=True)
class Plan:
    branch: str = "scoutflow-gitops/bump-dev-stage"
    branch_oid: str | None = None
    base_oid: str = BASE
    existing_pr: PullRequest | None = None
    changes: tuple[FileChange, ...] = (FileChange("environments/dev/values.yaml", b"tag: x\n"),)
    diff: str = "-tag: w\n+tag: x\n"
    title: str = "Deploy c to dev"
    body: str = "body"
    commit_headline: str = "Deploy c to dev"
    commit_body: str = ""
    merge: MergeMode = "auto"
    labels: tuple[str, ...] = ("promotion",)


def gitops_state(**settings: bool) -> GitopsState:
    return GitopsState(
        repository_id="R_1",
        default_branch="main",
        head_oid=BASE,
        config_text=None,
        branches=(),
        holds=frozenset(),
        labels={"promotion": "LA_1"},
        server_time=datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
        merge_settings=MergeSettings(**{"auto_merge_allowed": True, **settings}),
    )


def pr_status(merge_state: str = "CLEAN", **fields: object) -> PullRequestStatus:
    values: dict[str, object] = {
        "state": "OPEN",
        "head_oid": COMMIT,
        "branch_oid": COMMIT,
        "merge_state": merge_state,
        "mergeable": "UNKNOWN" if merge_state == "UNKNOWN" else "MERGEABLE",
    }
    values.update(fields)
    return PullRequestStatus(**values)  # type: ignore[arg-type]


@dataclass
class ScriptedHost:
    """The writes and reads ``apply_plan`` makes, answered from scripts; every call is one
    request to GitHub (``publish`` stands for its own requests, counted in test_github_writes)."""

    published_status: PullRequestStatus | None = field(default_factory=lambda: pr_status("UNKNOWN"))
    statuses: list[PullRequestStatus | None] = field(default_factory=list)
    answers: list[MergeAnswer] = field(default_factory=list)
    created: bool = True
    calls: list[str] = field(default_factory=list)
    sent: list[tuple[str, MergeMethod, tuple[str, ...]]] = field(default_factory=list)
    labelled: list[tuple[str, ...]] = field(default_factory=list)

    def publish(self, request: PublishRequest) -> Published:
        self.calls.append("publish")
        return Published(PR, COMMIT, created=self.created, status=self.published_status)

    def read_pull_request(self, pull_request_id: str) -> PullRequestStatus | None:
        self.calls.append("read")
        assert pull_request_id == PR.id
        # The last status repeats, as GitHub keeps answering the same until something changes.
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]

    def merge(
        self,
        pull_request: PullRequest,
        head_oid: str,
        method: MergeMethod,
        label_ids: Sequence[str],
    ) -> MergeAnswer:
        return self._answer("merge", head_oid, method, label_ids)

    def start_merge(
        self,
        pull_request: PullRequest,
        head_oid: str,
        method: MergeMethod,
        label_ids: Sequence[str],
    ) -> MergeAnswer:
        return self._answer("auto-merge", head_oid, method, label_ids)

    def _answer(
        self, action: str, head_oid: str, method: MergeMethod, label_ids: Sequence[str]
    ) -> MergeAnswer:
        self.calls.append(action)
        assert head_oid == COMMIT, "every merge is guarded by the commit just made"
        self.sent.append((action, method, tuple(label_ids)))
        answer = self.answers.pop(0) if self.answers else MergeAnswer(True)
        return replace(answer, labelled=bool(label_ids) and answer.refusal != "labels failed")

    def add_labels(self, repository: str, number: int, labels: Sequence[str]) -> None:
        self.calls.append("add_labels")
        self.labelled.append(tuple(labels))

    def request_reviewers(
        self, repository: str, number: int, users: Sequence[str], teams: Sequence[str]
    ) -> None:
        self.calls.append("request_reviewers")


class FakeTime:
    """Sleeps return at once; the clock moves by what was slept plus a second per request."""

    def __init__(self, host: ScriptedHost) -> None:
        self.host = host
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def clock(self) -> float:
        return sum(self.slept) + len(self.host.calls)


@pytest.fixture
def host() -> ScriptedHost:
    return ScriptedHost()


@pytest.fixture
def fake_time(host: ScriptedHost) -> FakeTime:
    return FakeTime(host)


def carry_out(
    host: ScriptedHost,
    fake_time: FakeTime,
    plan: Plan | None = None,
    state: GitopsState | None = None,
    method: MergeMethod = "squash",
    policy: Policy | None = None,
) -> Outcome:
    return apply_plan(
        plan or Plan(),
        state or gitops_state(),
        host,  # type: ignore[arg-type]
        "o/r",
        what="deploy ccccccc to dev",
        image_tag=COMMIT,
        environments=("dev",),
        merge_method=method,
        waiting=Waiting(policy or Policy(), fake_time.sleep, fake_time.clock),
    )


def test_a_fresh_pr_waits_once_for_mergeability_then_merges_with_its_labels(
    host: ScriptedHost, fake_time: FakeTime
) -> None:
    """A new PR's mergeability is UNKNOWN at first: one wait, one read, one merge that also
    attaches the labels. Three requests after the publish."""
    host.statuses = [pr_status("CLEAN")]
    outcome = carry_out(host, fake_time)
    assert host.calls == ["publish", "read", "merge"]
    assert host.sent == [("merge", "squash", ("LA_1",))]
    assert fake_time.slept == [1.0]
    assert outcome.result == "merged"
    assert outcome.reason == "PR #7 squash-merged to deploy ccccccc to dev"


def test_a_blocked_pr_gets_auto_merge_with_its_labels(
    host: ScriptedHost, fake_time: FakeTime
) -> None:
    host.statuses = [pr_status("BLOCKED")]
    outcome = carry_out(host, fake_time)
    assert host.calls == ["publish", "read", "auto-merge"]
    assert host.sent == [("auto-merge", "squash", ("LA_1",))]
    assert outcome.result == "auto-merge-enabled"
    assert "GitHub merges it once the reviews and checks" in outcome.reason


def test_a_known_status_in_the_publish_answer_saves_the_read(
    host: ScriptedHost, fake_time: FakeTime
) -> None:
    host.published_status = pr_status("CLEAN")
    outcome = carry_out(host, fake_time, method="rebase")
    assert host.calls == ["publish", "merge"]
    assert fake_time.slept == []
    assert outcome.reason.startswith("PR #7 rebase-merged")


def test_auto_merge_answered_clean_status_merges_directly(
    host: ScriptedHost, fake_time: FakeTime
) -> None:
    host.statuses = [pr_status("BLOCKED")]
    host.answers = [MergeAnswer(False, CLEAN_STATUS)]
    outcome = carry_out(host, fake_time)
    assert host.calls == ["publish", "read", "auto-merge", "merge"]
    # The labels rode along with the first request and are not sent twice.
    assert [labels for _, _, labels in host.sent] == [("LA_1",), ()]
    assert outcome.result == "merged"


def test_a_merge_refused_because_the_base_moved_reads_again_and_merges(
    host: ScriptedHost, fake_time: FakeTime
) -> None:
    host.published_status = pr_status("CLEAN")
    host.statuses = [pr_status("CLEAN")]
    host.answers = [MergeAnswer(False, "Base branch was modified. Review and try the merge again.")]
    outcome = carry_out(host, fake_time)
    assert host.calls == ["publish", "merge", "read", "merge"]
    assert outcome.result == "merged"


def test_a_refused_merge_that_landed_anyway_is_merged(
    host: ScriptedHost, fake_time: FakeTime
) -> None:
    host.published_status = pr_status("CLEAN")
    host.statuses = [pr_status("CLEAN", state="MERGED")]
    host.answers = [MergeAnswer(False, "Pull Request is not mergeable")]
    outcome = carry_out(host, fake_time)
    assert host.calls == ["publish", "merge", "read"]
    assert outcome.result == "merged"


def test_a_lagging_head_is_waited_for_before_merging(
    host: ScriptedHost, fake_time: FakeTime
) -> None:
    host.published_status = pr_status("CLEAN", head_oid=BRANCH)
    host.statuses = [pr_status("CLEAN")]
    carry_out(host, fake_time)
    assert host.calls == ["publish", "read", "merge"]


def test_a_pr_still_unknown_past_the_bound_stays_open_with_its_link_and_labels(
    host: ScriptedHost, fake_time: FakeTime
) -> None:
    """Bounded by waits and by time; the outcome keeps the PR (number, URL) and says why it was
    not merged, and the labels that would have ridden along are attached on their own."""
    host.statuses = [pr_status("UNKNOWN")]
    outcome = carry_out(host, fake_time, policy=Policy(max_waits=3, max_seconds=60.0))
    assert host.calls == ["publish", "read", "read", "read", "add_labels"]
    assert fake_time.slept == [1.0, 2.0, 4.0]
    assert host.labelled == [("promotion",)]
    assert outcome.result == "opened"
    assert outcome.pr_url == PR.url
    assert "not merged: GitHub was still computing whether it can be merged" in outcome.reason


def test_the_time_bound_counts_time_spent_in_requests(
    host: ScriptedHost, fake_time: FakeTime
) -> None:
    host.statuses = [pr_status("UNKNOWN")]
    policy = Policy(max_waits=10, max_seconds=12.0, longest_wait=4.0)
    carry_out(host, fake_time, policy=policy)
    # Sleeping alone, 7 s have passed and a fourth wait of 4 s would fit; with a second per
    # request, 10 s have passed and it would not.
    assert fake_time.slept == [1.0, 2.0, 4.0]


def test_a_refusal_is_one_line_with_githubs_message_the_pr_and_a_hint(
    host: ScriptedHost, fake_time: FakeTime
) -> None:
    host.published_status = pr_status("CLEAN")
    host.answers = [MergeAnswer(False, "Squash merges are not allowed on this repository.")]
    with pytest.raises(UserError) as caught:
        carry_out(host, fake_time)
    message = caught.value.message
    assert message == (
        f"PR #7 ({PR.url}) opened but not merged: Squash merges are not allowed on this repository."
    )
    assert "\n" not in str(caught.value)
    assert "merge_method" in caught.value.hint
    # The labels rode along with the refused request: nothing more is sent.
    assert host.calls == ["publish", "merge"] and host.labelled == []


def test_a_merge_method_the_repository_forbids_fails_before_anything_is_written(
    host: ScriptedHost, fake_time: FakeTime
) -> None:
    with pytest.raises(UserError) as caught:
        carry_out(host, fake_time, state=gitops_state(squash_allowed=False))
    assert "does not allow squash merging" in caught.value.message
    assert host.calls == []


def test_a_pr_left_for_people_needs_no_usable_merge_method(
    host: ScriptedHost, fake_time: FakeTime
) -> None:
    state = gitops_state(squash_allowed=False)
    outcome = carry_out(host, fake_time, plan=Plan(merge="none"), state=state)
    assert host.calls == ["publish", "add_labels"]
    assert outcome.result == "opened"


def test_auto_merge_off_in_the_repository_leaves_a_blocked_pr_open_saying_why(
    host: ScriptedHost, fake_time: FakeTime
) -> None:
    host.statuses = [pr_status("BLOCKED")]
    outcome = carry_out(host, fake_time, state=gitops_state(auto_merge_allowed=False))
    assert "auto-merge" not in host.calls
    assert outcome.result == "opened"
    assert "auto-merge is off in the repository's settings" in outcome.reason


def test_auto_merge_off_in_the_repository_still_merges_a_clean_pr(
    host: ScriptedHost, fake_time: FakeTime
) -> None:
    host.statuses = [pr_status("CLEAN")]
    outcome = carry_out(host, fake_time, state=gitops_state(auto_merge_allowed=False))
    assert outcome.result == "merged"


@pytest.mark.parametrize("merge_state", ["DIRTY", "BEHIND"])
def test_a_pr_out_of_date_with_its_base_is_replanned(
    host: ScriptedHost, fake_time: FakeTime, merge_state: str
) -> None:
    host.statuses = [pr_status(merge_state)]
    with pytest.raises(ConflictError, match=merge_state):
        carry_out(host, fake_time)
    assert "merge" not in host.calls


def test_a_plan_without_changes_reads_first_and_expects_the_branch_tip(
    host: ScriptedHost, fake_time: FakeTime
) -> None:
    """The open PR already carries the bytes: the status is read (the state read's PR head
    may lag), and the merge is guarded by the branch's tip as the state read saw it."""
    lagging_pr = replace(PR, head_oid=BRANCH)
    plan = Plan(changes=(), existing_pr=lagging_pr, branch_oid=COMMIT)
    host.statuses = [pr_status("CLEAN")]
    outcome = carry_out(host, fake_time, plan=plan)
    assert host.calls == ["read", "merge"]
    assert outcome.result == "merged"


def test_a_pr_merged_elsewhere_meanwhile_is_replanned(
    host: ScriptedHost, fake_time: FakeTime
) -> None:
    host.statuses = [pr_status("CLEAN", state="MERGED", head_oid=BRANCH)]
    with pytest.raises(ConflictError, match="merged meanwhile"):
        carry_out(host, fake_time)


def test_an_updated_pr_says_updated(host: ScriptedHost, fake_time: FakeTime) -> None:
    host.created = False
    host.statuses = [pr_status("UNKNOWN")]
    outcome = carry_out(host, fake_time, policy=Policy(max_waits=1))
    assert outcome.result == "updated"
    assert outcome.reason.startswith("PR #7 updated to deploy ccccccc to dev; not merged")


def test_a_dry_run_refuses_a_merge_method_the_repository_forbids_as_a_real_run_would(
    host: ScriptedHost,
) -> None:
    settings = Settings("o/r", ".github/scoutflow-gitops.yml", "https://github.test", dry_run=True)
    forbidding = gitops_state(merge_commit_allowed=False)
    with pytest.raises(UserError, match="does not allow merge commits"):
        _carry_out(
            Plan(),
            forbidding,
            host,  # type: ignore[arg-type]
            settings,
            what="x",
            image_tag="",
            environments=(),
            merge_method="merge",
        )
    dry = _carry_out(
        Plan(),
        forbidding,
        host,  # type: ignore[arg-type]
        settings,
        what="x",
        image_tag="",
        environments=(),
        merge_method="squash",
    )
    assert dry is not None and dry.result == "opened" and "dry run" in dry.reason
    assert host.calls == []
