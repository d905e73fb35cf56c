"""What the bot needs from a Git host, and nothing more.

``github.GitHubHost`` is the one implementation; the decisions never see it, and the writer
(``apply``) and the reader (``bot``) talk to it only through this protocol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from scoutflow_gitops.config import MergeMethod
from scoutflow_gitops.model import (
    Comparison,
    FileChange,
    FilesAndHistory,
    FileVersion,
    GitopsState,
    PullRequest,
    PullRequestStatus,
    WorkflowRun,
)


class ConflictError(Exception):
    """A write lost a race (stale expected oid, ref moved, PR already exists): re-read, retry."""


@dataclass(frozen=True)
class Published:
    pull_request: PullRequest
    commit_oid: str
    created: bool
    # The PR's merge status as the same answer gave it (None when it gave none).
    status: PullRequestStatus | None = None


@dataclass(frozen=True)
class MergeAnswer:
    """GitHub's answer to a merge or an auto-merge request."""

    done: bool
    # GitHub's message when it refused.
    refusal: str = ""
    # The labels sent along were attached.
    labelled: bool = False


@dataclass(frozen=True)
class PublishRequest:
    """One commit on top of the base, on the bot's branch, and its rolling PR."""

    repository: str
    repository_id: str
    branch: str
    branch_oid: str | None
    base_branch: str
    base_oid: str
    headline: str
    message_body: str
    changes: tuple[FileChange, ...]
    pull_request: PullRequest | None
    title: str
    body: str


class GitHost(Protocol):
    def read_gitops_state(self, repository: str, config_path: str) -> GitopsState:
        """Config text, default branch head, the bot's branches and PRs, holds, labels."""
        ...

    def list_workflow_runs(
        self, repository: str, head_sha: str, *, branch: str | None = None
    ) -> tuple[WorkflowRun, ...]:
        """Every push run for ``head_sha`` (on ``branch``), all pages."""
        ...

    def read_files_and_history(
        self,
        *,
        repository: str,
        paths: Sequence[str],
        revision: str,
        branch_revision: str | None,
        source_repository: str,
        commit: str,
        history_depth: int,
        source_branch: str | None = None,
    ) -> FilesAndHistory:
        """Values files at the default branch head (and the PR's branch), the candidate and its
        ancestors in the source repository, and, with ``source_branch``, that branch's head and
        newest commits."""
        ...

    def compare(self, repository: str, base: str, head: str) -> Comparison | None:
        """``None`` when the repository has no such commit (a token that cannot see the
        repository is an error, never a relation)."""
        ...

    def publish(self, request: PublishRequest) -> Published:
        """Raises ``ConflictError`` when the branch or PR moved since it was read. An open PR's
        branch moves to the new commit in one step: it never points at the base."""
        ...

    def start_merge(
        self,
        pull_request: PullRequest,
        head_oid: str,
        method: MergeMethod,
        label_ids: Sequence[str],
    ) -> MergeAnswer:
        """Enable auto-merge guarded by ``head_oid``, attaching the labels in the same request."""
        ...

    def merge(
        self,
        pull_request: PullRequest,
        head_oid: str,
        method: MergeMethod,
        label_ids: Sequence[str],
    ) -> MergeAnswer:
        """Merge guarded by ``head_oid``, attaching the labels in the same request."""
        ...

    def add_labels(self, repository: str, number: int, labels: Sequence[str]) -> None:
        """Attach labels by name, creating those the repository lacks."""
        ...

    def read_permission(self, repository: str, user: str) -> str | None:
        """The user's role (admin, maintain, write, triage, read, none); None if unreadable."""
        ...

    def read_histories(
        self, repository: str, revision: str, paths: Sequence[str], depth: int
    ) -> Mapping[str, tuple[FileVersion, ...]]:
        """Each path's versions on the history of ``revision``, newest first."""
        ...

    def read_pull_request(self, pull_request_id: str) -> PullRequestStatus | None:
        """The PR's merge status as GitHub has it now."""
        ...

    def react(self, repository: str, comment_id: int, content: str) -> None: ...

    def reply(self, repository: str, issue_number: int, body: str) -> str:
        """Comment on an issue or PR; the new comment's URL."""
        ...

    def request_reviewers(
        self, repository: str, number: int, users: Sequence[str], teams: Sequence[str]
    ) -> None: ...

    def close_pull_request(
        self,
        repository: str,
        repository_id: str,
        pull_request: PullRequest,
        branch: tuple[str, str] | None,
        comment: str,
    ) -> None:
        """Close the bot's PR, delete its branch (name, oid) while it is still at that oid,
        then say why on it."""
        ...


def label_ids(known: Mapping[str, str], wanted: Sequence[str]) -> tuple[tuple[str, ...], bool]:
    """Node ids of the wanted labels, and whether all of them already exist."""
    ids = tuple(known[name] for name in wanted if name in known)
    return ids, len(ids) == len(wanted)
