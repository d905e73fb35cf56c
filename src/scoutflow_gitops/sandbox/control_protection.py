"""Control API routes for branch protection, reviews and the simulator's timing knobs
(registered on import by ``control``).

Protection is written and read in the shape of GitHub's ``PUT .../branches/{branch}/protection``
(the parts the sandbox enforces), on the default branch. Reviews come from people: any login
with access to the repository; ``review_payload`` builds the ``pull_request_review`` webhook
GitHub would deliver for one. The timing knobs relax GitHub's background jobs (see
``model.Timing``); a test that relaxes one says so.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from scoutflow_gitops.sandbox import webhooks
from scoutflow_gitops.sandbox.control import ControlCall, _control, _get
from scoutflow_gitops.sandbox.model import (
    Protection,
    ReviewRefused,
    SandboxError,
    Timing,
    not_found,
)
from scoutflow_gitops.sandbox.protection import DISMISSED, PENDING
from scoutflow_gitops.sandbox.rest import Reply
from scoutflow_gitops.sandbox.shapes import JSON, Shapes
from scoutflow_gitops.sandbox.state import Sandbox

_CHECK_KEYS = frozenset({"strict", "contexts"})
_REVIEW_KEYS = frozenset(
    {"required_approving_review_count", "require_code_owner_reviews", "dismiss_stale_reviews"}
)


def protection_from_json(body: Any) -> Protection:
    """A protection rule from ``{"required_status_checks": {...} | null,
    "required_pull_request_reviews": {...} | null}`` (a missing key is null: off)."""
    if not isinstance(body, dict):
        raise SandboxError(422, "protection must be a JSON object")
    _only(body, {"required_status_checks", "required_pull_request_reviews"}, "protection")
    rule = Protection()
    checks = body.get("required_status_checks")
    if checks is not None:
        _only(checks, _CHECK_KEYS, "required_status_checks")
        contexts = checks.get("contexts", [])
        if not isinstance(contexts, list) or not all(
            isinstance(c, str) and c.strip() for c in contexts
        ):
            raise SandboxError(422, "required_status_checks.contexts must be a list of names")
        rule.required_status_checks = list(dict.fromkeys(contexts))
        rule.strict = _flag(checks, "strict")
    reviews = body.get("required_pull_request_reviews")
    if reviews is not None:
        _only(reviews, _REVIEW_KEYS, "required_pull_request_reviews")
        count = reviews.get("required_approving_review_count", 1)
        if not isinstance(count, int) or isinstance(count, bool):
            raise SandboxError(422, "required_approving_review_count must be a number")
        rule.required_approving_review_count = count
        rule.require_code_owner_reviews = _flag(reviews, "require_code_owner_reviews")
        rule.dismiss_stale_reviews = _flag(reviews, "dismiss_stale_reviews")
    return rule


def _only(value: Any, keys: set[str] | frozenset[str], where: str) -> None:
    if not isinstance(value, dict):
        raise SandboxError(422, f"{where} must be a JSON object or null")
    unknown = sorted(set(value) - set(keys))
    if unknown:
        raise SandboxError(422, f"{where}: unknown or unsimulated setting {unknown[0]}")


def _flag(value: dict[str, Any], name: str) -> bool:
    flag = value.get(name, False)
    if not isinstance(flag, bool):
        raise SandboxError(422, f"{name} must be true or false")
    return flag


def protect_branch(sandbox: Sandbox, shapes: Shapes, repo_name: str, body: Any) -> JSON:
    """Set the default branch's protection; the rule as it now reads."""
    with sandbox.lock:
        repo = sandbox.repo(repo_name)
        sandbox.set_protection(repo, protection_from_json(body))
        return shapes.protection(repo)


def review_pull(
    sandbox: Sandbox,
    shapes: Shapes,
    repo_name: str,
    number: int,
    *,
    user: str,
    event: str | None,
    body: str | None = None,
    commit_id: str | None = None,
) -> JSON:
    """A person's review of a pull request (``event`` None leaves it pending): REST's shape."""
    with sandbox.lock:
        repo = sandbox.repo(repo_name)
        issue = sandbox.pull(repo, number)
        review = sandbox.submit_review(
            repo, issue, sandbox.user(user), event=event, body=body, commit_id=commit_id
        )
        return shapes.review(repo, issue, review)


REVIEW_ACTIONS = ("submitted", "dismissed")


def review_payload(
    sandbox: Sandbox,
    shapes: Shapes,
    repo_full_name: str,
    pr_number: int,
    review_id: int,
    action: str,
    *,
    sender: str | None = None,
) -> JSON:
    """The ``pull_request_review`` webhook GitHub delivers for a review the sandbox holds.

    ``action`` is ``submitted`` (a review submitted and not dismissed since) or ``dismissed``
    (a dismissed one). Build it when the event happens: a payload shows the review and the pull
    request as they are then, so one kept and handed over later is a late delivery. ``sender``
    (a login) defaults to the reviewer; who dismissed a stale review is not recorded.
    """
    if action not in REVIEW_ACTIONS:
        raise SandboxError(422, f"action must be one of {', '.join(REVIEW_ACTIONS)}")
    with sandbox.lock:
        repo = sandbox.repo(repo_full_name)
        issue = sandbox.pull(repo, pr_number)
        assert issue.pull is not None
        review = next((r for r in issue.pull.reviews if r.id == review_id), None)
        if review is None:
            raise not_found()
        if action == "submitted" and review.state in (PENDING, DISMISSED):
            raise SandboxError(
                422, f"review {review_id} is {review.state.lower()}, not a submitted review"
            )
        if action == "dismissed" and review.state != DISMISSED:
            raise SandboxError(422, f"review {review_id} is {review.state.lower()}, not dismissed")
        who = sandbox.user(sender) if sender is not None else review.user
        return webhooks.pull_request_review(shapes, repo, issue, review, action, who)


def set_timing(sandbox: Sandbox, values: Any) -> JSON:
    """Change some of the timing knobs; all of them as they now are."""
    if not isinstance(values, dict):
        raise SandboxError(422, "timing must be a JSON object")
    with sandbox.lock:
        known = asdict(sandbox.timing)
        for name, value in values.items():
            if name not in known:
                raise SandboxError(422, f"Unknown timing knob: {name}")
            counted = name.endswith("_reads")
            kinds = int if counted else (int, float)
            if not isinstance(value, kinds) or isinstance(value, bool) or value < 0:
                what = "a whole number" if counted else "a number of seconds"
                raise SandboxError(422, f"{name} must be {what}, 0 or more")
            known[name] = value if counted else float(value)
        sandbox.timing = Timing(**known)
        return asdict(sandbox.timing)


# -- HTTP routes -----------------------------------------------------------------------------

_REPO = r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"


def _repo_name(call: ControlCall) -> str:
    return f"{call.match['owner']}/{call.match['name']}"


@_control("GET", f"{_REPO}/protection")
def _get_protection(call: ControlCall) -> Reply:
    return Reply(200, call.shapes.protection(call.sandbox.repo(_repo_name(call))))


@_control("POST", f"{_REPO}/protection")
def _set_protection(call: ControlCall) -> Reply:
    return Reply(200, protect_branch(call.sandbox, call.shapes, _repo_name(call), call.body))


@_control("DELETE", f"{_REPO}/protection")
def _delete_protection(call: ControlCall) -> Reply:
    call.sandbox.set_protection(call.sandbox.repo(_repo_name(call)), Protection())
    return Reply(204)


@_control("POST", "/reviews")
def _reviews(call: ControlCall) -> Reply:
    try:
        review = review_pull(
            call.sandbox,
            call.shapes,
            _get(call.body, "repo"),
            _get(call.body, "pull", int),
            user=_get(call.body, "user"),
            event=_get(call.body, "event", required=False),
            body=_get(call.body, "body", required=False),
            commit_id=_get(call.body, "commit_id", required=False),
        )
    except ReviewRefused as refused:
        raise SandboxError(422, refused.reason) from None
    return Reply(201, review)


@_control("POST", "/review-payloads")
def _review_payloads(call: ControlCall) -> Reply:
    payload = review_payload(
        call.sandbox,
        call.shapes,
        _get(call.body, "repo"),
        _get(call.body, "pull", int),
        _get(call.body, "review", int),
        _get(call.body, "action"),
        sender=_get(call.body, "sender", required=False),
    )
    return Reply(200, payload)


@_control("GET", "/timing")
def _get_timing(call: ControlCall) -> Reply:
    return Reply(200, asdict(call.sandbox.timing))


@_control("POST", "/timing")
def _set_timing(call: ControlCall) -> Reply:
    return Reply(200, set_timing(call.sandbox, call.body))


@_control("POST", "/merge-races")
def _merge_races(call: ControlCall) -> Reply:
    """The next ``base_modified`` merges are refused as if the base moved under them."""
    count = _get(call.body, "base_modified", int)
    if isinstance(count, bool) or count < 0:
        raise SandboxError(422, "base_modified must be a whole number, 0 or more")
    call.sandbox.base_modified_merges = count
    return Reply(200, {"base_modified": count})
