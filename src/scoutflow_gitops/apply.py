"""Carrying out a bump plan: the only code on the bump path that writes to GitHub.

Every write is guarded: the branch reset is a compare-and-swap on the oid that was read, the
commit names the oid it expects, the merge names the head it reviewed. A lost race surfaces as
``ConflictError`` and the caller re-reads and decides again; nothing is half-written silently.
"""

from __future__ import annotations

from dataclasses import replace

from scoutflow_gitops.bump import BumpPlan
from scoutflow_gitops.model import GitopsState, Outcome, PullRequest, Result
from scoutflow_gitops.port import GitHost, PublishRequest, label_ids


def apply_bump(plan: BumpPlan, state: GitopsState, host: GitHost, repository: str) -> Outcome:
    pr, head_oid, created = _publish(plan, state, host, repository)
    envs = tuple(bump.name for bump in plan.environments)
    short, where = plan.candidate[:7], ", ".join(envs)
    verb: Result = "opened" if created else "updated"
    outcome = Outcome(
        result=verb,
        reason=f"PR #{pr.number} {verb} to deploy {short} to {where}; "
        "it waits for a person to review and merge it",
        image_tag=plan.candidate,
        environments=envs,
        pr_number=pr.number,
        pr_url=pr.url,
        diff=plan.diff,
        details=plan.notes,
    )

    # Labels go on a new PR only. With auto-merge they ride along in the same mutation when
    # the repository has them all; otherwise one REST call creates and attaches them by name.
    ids, all_known = label_ids(state.labels, plan.labels)
    ride_along = created and plan.merge == "auto" and all_known
    if created and plan.labels and not ride_along:
        host.add_labels(repository, pr.number, plan.labels)

    if plan.merge == "none":
        return outcome
    if plan.merge == "auto":
        started = host.start_merge(pr, head_oid, ids if ride_along else ())
        if started == "auto-merge-enabled":
            return replace(
                outcome,
                result="auto-merge-enabled",
                reason=f"PR #{pr.number} {verb} to deploy {short} to {where}; GitHub merges it "
                "when its required checks pass",
            )
    host.merge(pr, head_oid)
    return replace(
        outcome,
        result="merged",
        reason=f"{where} now {'runs' if len(envs) == 1 else 'run'} {short} "
        f"(PR #{pr.number}, squash-merged)",
    )


def _publish(
    plan: BumpPlan, state: GitopsState, host: GitHost, repository: str
) -> tuple[PullRequest, str, bool]:
    if not plan.needs_commit:
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
