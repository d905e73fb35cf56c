"""Values that travel between the adapter, the decisions and the writes.

All frozen: a snapshot is what GitHub said at one moment, a plan is what the bot means to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Relation = Literal["ahead", "behind", "identical", "diverged"]
Result = Literal[
    "merged",
    "auto-merge-enabled",
    "opened",
    "updated",
    "noop",
    "waiting",
    "blocked",
    "skipped",
    "refused",
]


@dataclass(frozen=True)
class WorkflowRun:
    id: int
    name: str
    event: str
    head_branch: str | None
    status: str
    conclusion: str | None
    run_attempt: int
    created_at: str
    url: str
    # The workflow file as GitHub sends it (`.github/workflows/ci.yml`, sometimes with `@ref`):
    # what identifies the workflow, since two files may share one name.
    path: str = ""
    workflow_id: int | None = None


@dataclass(frozen=True)
class Commit:
    sha: str
    headline: str
    author: str
    url: str


@dataclass(frozen=True)
class Comparison:
    """``compare(base...head)`` in the source repository."""

    base: str
    head: str
    status: Relation
    ahead_by: int
    behind_by: int
    commits: tuple[Commit, ...]
    url: str


@dataclass(frozen=True)
class PullRequest:
    id: str
    number: int
    url: str
    head_oid: str
    title: str
    body: str
    state: str = "OPEN"
    labels: frozenset[str] = frozenset()
    has_review_requests: bool = False


@dataclass(frozen=True)
class PullRequestStatus:
    """What GitHub says about merging a PR at one moment.

    ``head_oid`` (``headRefOid``) follows the branch with a delay after a push, so it is read
    next to ``branch_oid``, the branch's own tip (``None`` once the branch is deleted).
    ``merge_state`` is GitHub's ``mergeStateStatus``; ``mergeable`` its ``MergeableState``.
    """

    state: str
    head_oid: str
    branch_oid: str | None
    merge_state: str
    mergeable: str
    is_draft: bool = False
    auto_merge: bool = False


@dataclass(frozen=True)
class MergeSettings:
    """The repository's merge settings; the defaults are GitHub's for a new repository."""

    auto_merge_allowed: bool = False
    squash_allowed: bool = True
    merge_commit_allowed: bool = True
    rebase_allowed: bool = True


@dataclass(frozen=True)
class BotBranch:
    """A branch under the bot's own prefix, with its open PR if it has one."""

    name: str
    oid: str
    pull_request: PullRequest | None


@dataclass(frozen=True)
class GitopsState:
    """One read of the GitOps repository: config, default branch head, the bot's branches."""

    repository_id: str
    default_branch: str
    head_oid: str
    config_text: str | None
    branches: tuple[BotBranch, ...]
    holds: frozenset[str]
    labels: Mapping[str, str]
    # GitHub's clock (the Date header), so soak times never depend on the runner's clock.
    server_time: datetime
    merge_settings: MergeSettings = MergeSettings()
    # SHAs under ``.github/quarantine/`` on the default branch: rolled back from, kept out.
    quarantined: frozenset[str] = frozenset()

    def branch(self, name: str) -> BotBranch | None:
        return next((branch for branch in self.branches if branch.name == name), None)


@dataclass(frozen=True)
class FilesAndHistory:
    """Files at two revisions of the GitOps repo plus a source commit and its ancestors."""

    files: Mapping[str, bytes | None]
    branch_files: Mapping[str, bytes | None]
    candidate: Commit | None
    ancestors: tuple[Commit, ...]
    # The source branch's head and its newest commits (head first), when they were asked for.
    source_head: str | None = None
    source_history: tuple[str, ...] = ()


@dataclass(frozen=True)
class FileChange:
    """A file's new bytes, or ``None`` to delete it."""

    path: str
    contents: bytes | None


@dataclass(frozen=True)
class FileVersion:
    """A file as one commit of the default branch left it (newest first in a history)."""

    commit: str
    committed_at: datetime
    text: bytes | None
    pr_number: int | None
    pr_url: str | None


@dataclass(frozen=True)
class Outcome:
    result: Result
    reason: str
    image_tag: str = ""
    environments: tuple[str, ...] = ()
    pr_number: int | None = None
    pr_url: str = ""
    diff: str = ""
    details: tuple[str, ...] = field(default=())
