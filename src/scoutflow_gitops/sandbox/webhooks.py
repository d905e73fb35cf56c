"""The webhook payloads GitHub would deliver for sandbox events, field for field."""

from __future__ import annotations

from scoutflow_gitops.sandbox.model import (
    Comment,
    Dispatch,
    Issue,
    Repo,
    Review,
    User,
    WorkflowRun,
    node_id,
)
from scoutflow_gitops.sandbox.shapes import JSON, Shapes

# The app installation every sandbox delivery names, like a real GitHub App webhook.
INSTALLATION_ID = 45000001


def _envelope(shapes: Shapes, repo: Repo, sender: User) -> JSON:
    return {
        "repository": shapes.repo_webhook(repo),
        "sender": shapes.user(sender),
        "installation": {"id": INSTALLATION_ID, "node_id": node_id("MDIz", INSTALLATION_ID)},
    }


def workflow_run(shapes: Shapes, repo: Repo, run: WorkflowRun) -> JSON:
    """``action`` follows the run: requested when queued, in_progress, or completed."""
    action = {"queued": "requested", "completed": "completed"}.get(run.status, "in_progress")
    return {
        "action": action,
        "workflow_run": shapes.workflow_run(repo, run),
        "workflow": shapes.workflow(repo, run.workflow),
        **_envelope(shapes, repo, run.actor),
    }


def issue_comment(
    shapes: Shapes, repo: Repo, issue: Issue, comment: Comment, action: str = "created"
) -> JSON:
    return {
        "action": action,
        "issue": shapes.issue(repo, issue),
        "comment": shapes.comment(repo, comment),
        **_envelope(shapes, repo, comment.user),
    }


def workflow_dispatch(shapes: Shapes, repo: Repo, dispatch: Dispatch) -> JSON:
    return {
        "inputs": dict(dispatch.inputs) or None,
        "ref": dispatch.ref,
        "workflow": dispatch.run.workflow.path,
        **_envelope(shapes, repo, dispatch.run.actor),
    }


def pull_request_review(
    shapes: Shapes, repo: Repo, issue: Issue, review: Review, action: str, sender: User
) -> JSON:
    """``action`` submitted or dismissed; the pull request as GitHub has recorded it (the
    payload is not a client's read of it)."""
    return {
        "action": action,
        "review": shapes.review_webhook(repo, issue, review),
        "pull_request": shapes.pull(repo, issue, full=False, observe=False),
        **_envelope(shapes, repo, sender),
    }
