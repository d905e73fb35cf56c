"""REST routes for pull request reviews (registered on import by ``rest``)."""

from __future__ import annotations

from scoutflow_gitops.sandbox.model import ReviewRefused, SandboxError
from scoutflow_gitops.sandbox.protection import PENDING
from scoutflow_gitops.sandbox.rest import Call, Reply, paginate, route
from scoutflow_gitops.sandbox.shapes import error_body

REVIEWS_DOCS = "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request"


@route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews")
def list_reviews(call: Call) -> Reply:
    """Reviews oldest first; a pending review is shown to its author only."""
    repo, issue = call.repo, call.pull()
    assert issue.pull is not None
    reviews = [r for r in issue.pull.reviews if r.state != PENDING or r.user == call.actor]
    chunk, headers = paginate(call, reviews)
    return Reply(200, [call.shapes.review(repo, issue, r) for r in chunk], headers)


@route("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews")
def create_review(call: Call) -> Reply:
    repo, issue = call.repo, call.pull()
    if call.field("comments", list, required=False):
        raise SandboxError(422, "Review comments are not simulated by the sandbox.")
    try:
        review = call.sandbox.submit_review(
            repo,
            issue,
            call.actor,
            event=call.field("event", required=False),
            body=call.field("body", required=False),
            commit_id=call.field("commit_id", required=False),
        )
    except ReviewRefused as refused:
        # GitHub's "simple" validation error: the reasons are plain strings.
        body = error_body(refused.status, refused.message)
        body["documentation_url"] = REVIEWS_DOCS
        body["errors"] = [refused.reason]
        return Reply(refused.status, body)
    return Reply(200, call.shapes.review(repo, issue, review))
