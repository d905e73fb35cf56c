"""The records a sandbox holds: users, repositories, issues and pull requests, runs, the clock.

Entities are mutable and only changed by ``Sandbox`` under its lock; values handed to other
modules (identities, settings snapshots, merge answers) are frozen.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from scoutflow_gitops.sandbox.gitstore import GitStore

# Monday morning, so the demo's timestamps read like a working day. Fixed: seeded SHAs depend on it.
START_TIME = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
BOT_LOGIN = "scoutflow-gitops[bot]"
ROLES = ("admin", "maintain", "write", "triage", "read")
# GitHub's legacy `permission` value for each role.
LEGACY_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
}
REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")
# The check the legacy ``require_checks`` setting requires (``POST /_sandbox/checks`` default).
REQUIRED_CHECK = "ci"

UserType = Literal["User", "Bot", "Organization"]


class SandboxError(Exception):
    """A request GitHub would refuse: the HTTP status, GitHub's message and GraphQL error type."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        graphql_type: str = "",
        errors: tuple[dict[str, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.graphql_type = graphql_type or _GRAPHQL_TYPES.get(status, "UNPROCESSABLE")
        self.errors = errors


_GRAPHQL_TYPES = {403: "FORBIDDEN", 404: "NOT_FOUND", 409: "STALE_DATA", 422: "UNPROCESSABLE"}


def not_found(message: str = "Not Found") -> SandboxError:
    return SandboxError(404, message)


class Clock:
    """Simulated time: it only moves when told to, so every answer is reproducible."""

    def __init__(self, start: datetime = START_TIME) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, minutes: float) -> datetime:
        if minutes < 0:
            raise SandboxError(422, "advance_minutes must not be negative")
        self._now += timedelta(minutes=minutes)
        return self._now


def node_id(kind: str, *parts: object) -> str:
    """An opaque GraphQL id in GitHub's ``PREFIX_base64`` style that ``parse_node_id`` reverses."""
    payload = ":".join(str(p) for p in parts).encode("utf-8")
    return f"{kind}_{base64.urlsafe_b64encode(payload).decode('ascii').rstrip('=')}"


def parse_node_id(value: str) -> tuple[str, list[str]]:
    kind, _, payload = value.partition("_")
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return "", []
    return kind, raw.split(":")


@dataclass(frozen=True)
class User:
    login: str
    id: int
    type: UserType = "User"
    name: str | None = None

    @property
    def node_id(self) -> str:
        return node_id("BOT" if self.type == "Bot" else "U", self.id)

    @property
    def email(self) -> str:
        return f"{self.id}+{self.login}@users.noreply.github.com"


@dataclass
class RepoSettings:
    # Shorthand for branch protection requiring the ``ci`` check on the default branch.
    require_checks: bool = False
    allow_auto_merge: bool = True
    allow_merge_commit: bool = True
    allow_squash_merge: bool = True
    allow_rebase_merge: bool = False
    delete_branch_on_merge: bool = False
    # GitHub Enterprise Server pre-receive hooks: a mergeable pull request is HAS_HOOKS.
    pre_receive_hooks: bool = False


@dataclass
class Protection:
    """Branch protection of the default branch: the parts of GitHub's rule the sandbox enforces
    (field names as in ``PUT /repos/{o}/{r}/branches/{branch}/protection``)."""

    required_status_checks: list[str] = field(default_factory=list)
    strict: bool = False
    required_approving_review_count: int = 0
    require_code_owner_reviews: bool = False
    dismiss_stale_reviews: bool = False

    @property
    def reviews_required(self) -> bool:
        # A rule asking for 0 approvals and no code owners requires no review (reviewDecision
        # stays null), as GitHub treats it.
        return self.required_approving_review_count > 0 or self.require_code_owner_reviews


@dataclass
class Timing:
    """How late GitHub's background jobs are, counted in reads of the pull request (REST or
    GraphQL) and in seconds of the simulated clock; a job is done once both have passed.

    Mergeability is computed after a pull request opens or its head or base moves; a pull
    request's head follows its branch after a push. ``Timing.immediate()`` turns both off.
    """

    mergeability_reads: int = 1
    mergeability_seconds: float = 0.0
    head_reads: int = 1
    head_seconds: float = 0.0

    @classmethod
    def immediate(cls) -> Timing:
        return cls(0, 0.0, 0, 0.0)


@dataclass
class Job:
    """A background job of GitHub's still running: reads left before it may finish, and when."""

    reads_left: int
    due: datetime

    def done(self, now: datetime) -> bool:
        return self.reads_left <= 0 and now >= self.due


@dataclass(frozen=True)
class Label:
    id: int
    name: str
    color: str
    description: str | None
    default: bool
    created_at: datetime


@dataclass(frozen=True)
class Reaction:
    id: int
    content: str
    user: User
    created_at: datetime


@dataclass(eq=False)
class Comment:
    id: int
    issue_number: int
    user: User
    body: str
    created_at: datetime
    updated_at: datetime
    reactions: list[Reaction] = field(default_factory=list)


@dataclass(frozen=True)
class AutoMerge:
    enabled_by: User
    method: str
    commit_title: str
    commit_message: str
    enabled_at: datetime


@dataclass(eq=False)
class Review:
    id: int
    user: User
    # APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED or PENDING (not yet submitted).
    state: str
    body: str
    commit_id: str
    submitted_at: datetime | None


@dataclass(eq=False)
class Pull:
    id: int
    head_ref: str
    base_ref: str
    # The head GitHub has recorded for the pull request; it follows the branch late.
    head_sha: str
    base_sha: str
    draft: bool = False
    merged: bool = False
    merged_at: datetime | None = None
    merged_by: User | None = None
    merge_commit_sha: str | None = None
    auto_merge: AutoMerge | None = None
    requested_reviewers: list[User] = field(default_factory=list)
    requested_teams: list[str] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    # The branch tip the pull request has not caught up with yet, and the job that will.
    pending_head: str | None = None
    head_job: Job | None = None
    # Mergeability being computed in the background (None: known).
    mergeability_job: Job | None = None


@dataclass(eq=False)
class Issue:
    """An issue, or the issue half of a pull request (they share numbers, as on GitHub)."""

    number: int
    id: int
    title: str
    body: str | None
    user: User
    created_at: datetime
    updated_at: datetime
    state: Literal["open", "closed"] = "open"
    closed_at: datetime | None = None
    closed_by: User | None = None
    labels: list[Label] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    pull: Pull | None = None
    # Who last changed the body after it was created, and when (GraphQL ``editor`` and
    # ``lastEditedAt``); None while the body is as it was opened.
    editor: User | None = None
    last_edited_at: datetime | None = None


@dataclass(frozen=True)
class CommitStatus:
    """One commit status as posted (``POST /repos/{o}/{r}/statuses/{sha}``); a later status of
    the same context replaces it for branch protection and the combined status, but all stay
    listed."""

    id: int
    sha: str
    # error, failure, pending or success.
    state: str
    context: str
    description: str | None
    target_url: str | None
    creator: User
    created_at: datetime

    @property
    def context_key(self) -> str:
        # GitHub documents the context as case-insensitive.
        return self.context.lower()


@dataclass(frozen=True)
class Workflow:
    id: int
    name: str
    path: str
    created_at: datetime


@dataclass(eq=False)
class WorkflowRun:
    id: int
    workflow: Workflow
    run_number: int
    head_sha: str
    head_branch: str | None
    event: str
    status: str
    conclusion: str | None
    actor: User
    head_repo: Repo
    display_title: str
    created_at: datetime
    updated_at: datetime
    run_attempt: int = 1


@dataclass(frozen=True)
class Dispatch:
    """A workflow_dispatch event: the run it queued and its inputs."""

    run: WorkflowRun
    ref: str
    inputs: dict[str, str]


@dataclass(eq=False)
class Repo:
    owner: User
    name: str
    id: int
    created_at: datetime
    default_branch: str = "main"
    private: bool = True
    git: GitStore = field(default_factory=GitStore)
    settings: RepoSettings = field(default_factory=RepoSettings)
    collaborators: dict[str, str] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)
    labels: dict[str, Label] = field(default_factory=dict)
    # Each commit's checks: context -> latest conclusion, or "pending" (set by the control API).
    checks: dict[str, dict[str, str]] = field(default_factory=dict)
    # Commit statuses in the order they were posted (REST ``/statuses``).
    statuses: list[CommitStatus] = field(default_factory=list)
    protection: Protection = field(default_factory=Protection)
    workflows: dict[str, Workflow] = field(default_factory=dict)
    runs: list[WorkflowRun] = field(default_factory=list)
    dispatches: list[Dispatch] = field(default_factory=list)
    pushed_at: datetime | None = None

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"

    @property
    def node_id(self) -> str:
        return node_id("R", self.id)

    def pulls(self) -> list[Issue]:
        return [issue for issue in self.issues.values() if issue.pull is not None]


# GitHub's "no object" oid: as a guard, the ref must not exist; as a target, delete it.
ZERO_OID = "0" * 40


@dataclass(frozen=True)
class RefUpdate:
    """One entry of GraphQL ``updateRefs``; ``before`` None means unguarded."""

    name: str
    after: str
    before: str | None
    force: bool


@dataclass(frozen=True)
class Mergeability:
    """What GitHub would show for a pull request now, and the tree a merge would produce.

    ``state`` is REST's ``mergeable_state`` (GraphQL's ``mergeStateStatus`` in lower case):
    unknown, dirty, draft, blocked, behind, unstable, has_hooks or clean. ``blocked_reason``
    is GitHub's refusal text when a merge is not allowed in this state.
    """

    mergeable: bool | None
    state: str
    tree: str | None
    blocked_reason: str = ""


UNKNOWN_MERGEABILITY = Mergeability(None, "unknown", None)


@dataclass(frozen=True)
class PullSnapshot:
    """One client's read of a pull request: the head GitHub shows and its mergeability."""

    head_sha: str
    mergeability: Mergeability


class ReviewRefused(SandboxError):
    """GitHub's 422 for a review it will not take: ``errors`` is a list of plain strings."""

    def __init__(self, reason: str) -> None:
        super().__init__(422, "Unprocessable Entity")
        self.reason = reason


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    query: str
    status: int
    request_body: object
    response_body: object
