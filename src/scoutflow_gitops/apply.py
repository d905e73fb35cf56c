"""Carrying out a plan: the only code that writes branches, commits and pull requests.

Every write is guarded: refs move by compare-and-swap on the oid that was read, the commit names
the oid it expects, the merge names the head it is for. A lost race surfaces as
``ConflictError`` and the caller re-reads and decides again; nothing is half-written silently.

Merging follows ``merging``'s state machine: this module reads, waits and writes as it says.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from scoutflow_gitops import merging
from scoutflow_gitops.config import MergeMethod, MergeMode
from scoutflow_gitops.errors import UserError
from scoutflow_gitops.model import (
    FileChange,
    GitopsState,
    Outcome,
    PullRequest,
    PullRequestStatus,
    Result,
)
from scoutflow_gitops.port import ConflictError, GitHost, Published, PublishRequest, label_ids

MERGED_WORDS = {"squash": "squash-merged", "merge": "merged", "rebase": "rebase-merged"}


class PullRequestPlan(Protocol):
    """What a bump plan and a command plan have in common: one commit and its rolling PR."""

    @property
    def branch(self) -> str: ...
    @property
    def branch_oid(self) -> str | None: ...
    @property
    def base_oid(self) -> str: ...
    @property
    def existing_pr(self) -> PullRequest | None: ...
    @property
    def changes(self) -> tuple[FileChange, ...]: ...
    @property
    def diff(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def commit_headline(self) -> str: ...
    @property
    def commit_body(self) -> str: ...
    @property
    def merge(self) -> MergeMode: ...
    @property
    def labels(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Waiting:
    """How the merge loop waits for GitHub; tests pass a sleep and a clock that never block."""

    policy: merging.Policy = field(default_factory=merging.Policy)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


def check_merge_method(plan: PullRequestPlan, state: GitopsState, method: MergeMethod) -> None:
    """Refuse, before anything is written, a plan the repository would never let merge."""
    if plan.merge == "none":
        return
    refusal = merging.method_refusal(method, state.merge_settings)
    if refusal is not None:
        raise UserError(refusal.message, refusal.hint)


def apply_plan(
    plan: PullRequestPlan,
    state: GitopsState,
    host: GitHost,
    repository: str,
    *,
    what: str,
    image_tag: str,
    environments: tuple[str, ...],
    notes: tuple[str, ...] = (),
    reviewers: Sequence[str] = (),
    team_reviewers: Sequence[str] = (),
    merge_method: MergeMethod = "squash",
    waiting: Waiting = Waiting(),
) -> Outcome:
    """Publish the plan's commit and PR, then merge as the plan says. ``what`` completes
    "PR #N opened to ..." in the outcome's reason."""
    check_merge_method(plan, state, merge_method)
    published = _publish(plan, state, host, repository)
    pr, created = published.pull_request, published.created
    existing_labels = pr.labels if not created else frozenset()
    has_reviewers = pr.has_review_requests and not created
    verb: Result = "opened" if created else "updated"
    outcome = Outcome(
        result=verb,
        reason=f"PR #{pr.number} {verb} to {what}; it waits for a person to review and merge it",
        image_tag=image_tag,
        environments=environments,
        pr_number=pr.number,
        pr_url=pr.url,
        diff=plan.diff,
        details=notes,
    )

    # Labels and reviewers go on whenever the PR lacks them: on a new PR, and on one whose
    # creation answer was lost (a retried job adopts it). When the bot merges, labels ride along
    # with its first merge request if the repository has them all; otherwise one REST call
    # creates and attaches them by name.
    missing = tuple(label for label in plan.labels if label not in existing_labels)
    ids, all_known = label_ids(state.labels, missing)
    ride_along = bool(missing) and plan.merge != "none" and all_known
    if missing and not ride_along:
        host.add_labels(repository, pr.number, missing)
    if (reviewers or team_reviewers) and not has_reviewers:
        host.request_reviewers(repository, pr.number, reviewers, team_reviewers)
    mode = plan.merge
    if mode == "none":
        return outcome

    goal = merging.Goal(
        head_oid=published.commit_oid,
        mode=mode,
        auto_merge_allowed=state.merge_settings.auto_merge_allowed,
        rebuildable=bool(plan.changes),
    )
    run = _MergeRun(host, pr, goal, merge_method, ids if ride_along else (), waiting)
    final = run.drive(published.status)
    if isinstance(final, merging.Replan):
        raise ConflictError(f"PR #{pr.number}: {final.why}")
    if ride_along and not run.labelled:
        host.add_labels(repository, pr.number, missing)
    if isinstance(final, merging.Refuse):
        raise UserError(
            f"PR #{pr.number} ({pr.url}) {verb} but not merged: {final.message}", final.hint
        )
    if final.result == "merged":
        return replace(
            outcome,
            result="merged",
            reason=f"PR #{pr.number} {MERGED_WORDS[merge_method]} to {what}",
        )
    if final.result == "auto-merge-enabled":
        return replace(
            outcome,
            result="auto-merge-enabled",
            reason=f"PR #{pr.number} {verb} to {what}; GitHub merges it once the reviews "
            "and checks branch protection requires have passed",
        )
    # Open, not merged: the PR and its link are the result, and the reason says what is left.
    return replace(outcome, reason=f"PR #{pr.number} {verb} to {what}; not merged: {final.why}")


class _MergeRun:
    """One pass of the merge state machine over a PR: read, wait, merge, as ``merging`` says."""

    def __init__(
        self,
        host: GitHost,
        pr: PullRequest,
        goal: merging.Goal,
        method: MergeMethod,
        label_ids: tuple[str, ...],
        waiting: Waiting,
    ) -> None:
        self._host = host
        self._pr = pr
        self._goal = goal
        self._method = method
        self._label_ids = label_ids
        self._waiting = waiting
        self.labelled = False

    def drive(self, status: PullRequestStatus | None) -> merging.Final:
        """Steps until a final one (``Finish``, ``Refuse`` or ``Replan``); ``status`` is what
        the publishing answer said, or ``None`` to read it first."""
        policy = self._waiting.policy
        started = self._waiting.clock()
        progress = merging.Progress()
        if status is None:
            status = self._host.read_pull_request(self._pr.id)
        step = merging.next_step(status, self._goal, progress, policy)
        while not isinstance(step, merging.Final):
            if isinstance(step, merging.Read):
                self._waiting.sleep(step.seconds)
                status = self._host.read_pull_request(self._pr.id)
                progress = replace(
                    progress,
                    waits=progress.waits + 1,
                    elapsed=self._waiting.clock() - started,
                )
                step = merging.next_step(status, self._goal, progress, policy)
            else:
                action: merging.Action = (
                    "merge" if isinstance(step, merging.Merge) else "auto-merge"
                )
                labels = () if self.labelled else self._label_ids
                send = self._host.merge if action == "merge" else self._host.start_merge
                answer = send(self._pr, self._goal.head_oid, self._method, labels)
                self.labelled = self.labelled or answer.labelled
                if answer.done:
                    return merging.Finish("merged" if action == "merge" else "auto-merge-enabled")
                progress = replace(
                    progress,
                    attempts=progress.attempts + 1,
                    elapsed=self._waiting.clock() - started,
                    refusal=answer.refusal,
                )
                step = merging.after_refusal(action, answer.refusal, progress, policy)
        return step


def _publish(
    plan: PullRequestPlan, state: GitopsState, host: GitHost, repository: str
) -> Published:
    if not plan.changes:
        if plan.existing_pr is None:
            raise ValueError("a plan without changes must name the open PR it completes")
        # The branch's tip as read, not the PR's head, which may still lag behind it.
        return Published(
            plan.existing_pr, plan.branch_oid or plan.existing_pr.head_oid, created=False
        )
    return host.publish(
        PublishRequest(
            repository=repository,
            repository_id=state.repository_id,
            branch=plan.branch,
            branch_oid=plan.branch_oid,
            base_branch=state.default_branch,
            base_oid=plan.base_oid,
            headline=plan.commit_headline,
            message_body=plan.commit_body,
            changes=plan.changes,
            pull_request=plan.existing_pr,
            title=plan.title,
            body=plan.body,
        )
    )
