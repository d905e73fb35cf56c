"""Carrying out a plan: the only code that writes branches, commits and pull requests.

Every write is guarded: the branch reset is a compare-and-swap on the oid that was read, the
commit names the oid it expects, the merge names the head it reviewed. A lost race surfaces as
``ConflictError`` and the caller re-reads and decides again; nothing is half-written silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from scoutflow_gitops.config import MergeMode
from scoutflow_gitops.model import FileChange, GitopsState, Outcome, PullRequest, Result
from scoutflow_gitops.port import (
    ConflictError,
    GitHost,
    NotMergeableError,
    PublishRequest,
    label_ids,
)


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
) -> Outcome:
    """Publish the plan's commit and PR, then merge as the plan says. ``what`` completes
    "PR #N opened to ..." in the outcome's reason."""
    pr, head_oid, created = _publish(plan, state, host, repository)
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
    # creation answer was lost (a retried job adopts it). With auto-merge, labels ride along in
    # the same mutation when the repository has them all; otherwise one REST call creates and
    # attaches them by name.
    missing = tuple(label for label in plan.labels if label not in existing_labels)
    ids, all_known = label_ids(state.labels, missing)
    ride_along = bool(missing) and plan.merge == "auto" and all_known
    if missing and not ride_along:
        host.add_labels(repository, pr.number, missing)
    if (reviewers or team_reviewers) and not has_reviewers:
        host.request_reviewers(repository, pr.number, reviewers, team_reviewers)

    if plan.merge == "none":
        return outcome
    try:
        if plan.merge == "auto":
            started = host.start_merge(pr, head_oid, ids if ride_along else ())
            if started == "auto-merge-enabled":
                return replace(
                    outcome,
                    result="auto-merge-enabled",
                    reason=f"PR #{pr.number} {verb} to {what}; GitHub merges it when its "
                    "required checks pass",
                )
        host.merge(pr, head_oid)
    except NotMergeableError:
        if not _merged_anyway(host, pr, head_oid):
            raise
    return replace(outcome, result="merged", reason=f"PR #{pr.number} squash-merged to {what}")


def _merged_anyway(host: GitHost, pr: PullRequest, head_oid: str) -> bool:
    """After GitHub refused to merge, look at the PR once.

    Merged at our head: our own merge landed and only its answer was lost, so it is done.
    Moved, closed, or merged at another head: a concurrent job got there first, so read
    everything again and decide afresh. Still open at our head: really not mergeable.
    """
    now = host.read_pull_request(pr.id)
    if now is not None and now.state == "MERGED" and now.head_oid == head_oid:
        return True
    if now is None or now.state != "OPEN" or now.head_oid != head_oid:
        raise ConflictError(f"PR #{pr.number} changed while it was being merged")
    return False


def _publish(
    plan: PullRequestPlan, state: GitopsState, host: GitHost, repository: str
) -> tuple[PullRequest, str, bool]:
    if not plan.changes:
        if plan.existing_pr is None:
            raise ValueError("a plan without changes must name the open PR it completes")
        return plan.existing_pr, plan.existing_pr.head_oid, False
    published = host.publish(
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
    return published.pull_request, published.commit_oid, published.created
