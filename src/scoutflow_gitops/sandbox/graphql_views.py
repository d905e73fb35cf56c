"""The objects that answer GitHub's GraphQL types, over sandbox state.

A field resolves to the view attribute with its snake_case name (a method is called with the
field's arguments); ``graphql_api.type_views`` says which class answers each object type, so a
test can prove every field of the schema has an answer.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scoutflow_gitops.sandbox.access import Grant
from scoutflow_gitops.sandbox.gitstore import CommitInfo, FileEntry, GitError, Signature
from scoutflow_gitops.sandbox.model import (
    Comment,
    Issue,
    Label,
    PullSnapshot,
    Reaction,
    Repo,
    Review,
    SandboxError,
    User,
    node_id,
    not_found,
    parse_node_id,
)
from scoutflow_gitops.sandbox.protection import rollup_state
from scoutflow_gitops.sandbox.shapes import JSON, Shapes, iso
from scoutflow_gitops.sandbox.state import Sandbox

MAX_PAGE = 100
REACTION_CONTENT = {
    "THUMBS_UP": "+1",
    "THUMBS_DOWN": "-1",
    "LAUGH": "laugh",
    "HOORAY": "hooray",
    "CONFUSED": "confused",
    "HEART": "heart",
    "ROCKET": "rocket",
    "EYES": "eyes",
}


class GraphQLFailure(Exception):
    """A GraphQL-only refusal (pagination limits, bad ids) in GitHub's error format."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.type = error_type
        self.message = message


@dataclass(frozen=True)
class Context:
    sandbox: Sandbox
    shapes: Shapes
    # The token the request came with; None in direct calls that act as the App's bot.
    grant: Grant | None = None
    # The pull requests this document has read, per sandbox revision: one document is one read
    # of a pull request however many of its fields (or aliases) it asks for.
    reads: dict[tuple[int, int], str] = field(default_factory=dict, compare=False)
    mergeability_reads: dict[tuple[int, int], PullSnapshot] = field(
        default_factory=dict, compare=False
    )

    @property
    def viewer(self) -> User:
        return self.grant.actor if self.grant is not None else self.sandbox.bot

    def read_head(self, repo: Repo, issue: Issue) -> str:
        """The head this document is shown (one read of it per document)."""
        assert issue.pull is not None
        key = (issue.pull.id, self.sandbox.revision)
        if key not in self.reads:
            self.reads[key] = self.sandbox.observe_head(repo, issue)
        return self.reads[key]

    def read_pull(self, repo: Repo, issue: Issue) -> PullSnapshot:
        """The head and mergeability this document is shown (one read of each per document)."""
        assert issue.pull is not None
        key = (issue.pull.id, self.sandbox.revision)
        if key not in self.mergeability_reads:
            head = self.read_head(repo, issue)
            self.mergeability_reads[key] = PullSnapshot(
                head, self.sandbox.observe_mergeability(repo, issue)
            )
        return self.mergeability_reads[key]


# -- connections -------------------------------------------------------------------------------


def cursor(index: int) -> str:
    return base64.b64encode(f"cursor:v2:{index}".encode()).decode("ascii")


def _cursor_index(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        return int(base64.b64decode(cursor).decode().rsplit(":", 1)[1])
    except (ValueError, IndexError, binascii.Error, UnicodeDecodeError):
        raise GraphQLFailure(
            "INVALID_CURSOR_ARGUMENTS", f"`{cursor}` does not appear to be a valid cursor."
        ) from None


class Connection:
    """GitHub's cursor pagination over an already ordered list."""

    def __init__(
        self,
        name: str,
        items: Sequence[Any],
        first: int | None = None,
        last: int | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> None:
        if first is None and last is None:
            raise GraphQLFailure(
                "MISSING_PAGINATION_BOUNDARIES",
                "You must provide a `first` or `last` value to properly paginate the "
                f"`{name}` connection.",
            )
        for value, arg in ((first, "first"), (last, "last")):
            if value is not None and value > MAX_PAGE:
                raise GraphQLFailure(
                    "EXCESSIVE_PAGINATION",
                    f"Requesting {value} records on the `{name}` connection exceeds the `{arg}` "
                    f"limit of {MAX_PAGE} records.",
                )
            if value is not None and value < 0:
                raise GraphQLFailure(
                    "INVALID_PAGINATION",
                    f"`{arg}` on the `{name}` connection cannot be less than zero.",
                )
        start, end = 0, len(items)
        after_index, before_index = _cursor_index(after), _cursor_index(before)
        if after_index is not None:
            start = after_index + 1
        if before_index is not None:
            end = min(end, before_index)
        if first is not None:
            end = min(end, start + first)
        if last is not None:
            start = max(start, end - last)
        self._all = len(items)
        self._start, self._end = start, max(start, end)
        self.nodes = list(items[self._start : self._end])
        self.total_count = len(items)

    @property
    def edges(self) -> list[JSON]:
        return [
            {"cursor": cursor(self._start + i), "node": node} for i, node in enumerate(self.nodes)
        ]

    @property
    def page_info(self) -> JSON:
        return {
            "hasNextPage": self._end < self._all,
            "hasPreviousPage": self._start > 0,
            "startCursor": cursor(self._start) if self.nodes else None,
            "endCursor": cursor(self._end - 1) if self.nodes else None,
        }


def _ordered(
    items: list[Any], order_by: JSON | None, keys: dict[str, Callable[[Any], Any]]
) -> list[Any]:
    if not order_by:
        return items
    key = keys.get(order_by["field"])
    if key is None:
        return items
    return sorted(items, key=key, reverse=order_by["direction"] == "DESC")


def _time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise GraphQLFailure("INVALID_ARGUMENTS", f"Invalid timestamp: {value}") from None


# -- views ---------------------------------------------------------------------------------------


class View:
    typename = ""

    def __init__(self, ctx: Context, repo: Repo) -> None:
        self.ctx = ctx
        self.repo = repo

    @property
    def repository(self) -> RepositoryView:
        return RepositoryView(self.ctx, self.repo)


class UserView:
    def __init__(self, ctx: Context, user: User, *, as_user: bool = False) -> None:
        self.ctx = ctx
        self.user = user
        self.typename = "User" if as_user else ("Bot" if user.type == "Bot" else "User")
        self.id = user.node_id
        self.database_id = user.id
        # GraphQL spells an App's bot without REST's "[bot]" suffix (`Bot.login`:
        # fullsend-ai/fullsend#6205 shows {"login": "fullsend-ai-review", "__typename": "Bot"};
        # palantir/policy-bot#44).
        bot = self.typename == "Bot"
        self.login = user.login.removesuffix("[bot]") if bot else user.login
        self.name = user.name

    @property
    def url(self) -> str:
        return str(self.ctx.shapes.user(self.user)["html_url"])


class RepositoryView(View):
    typename = "Repository"

    @property
    def id(self) -> str:
        return self.repo.node_id

    @property
    def database_id(self) -> int:
        return self.repo.id

    @property
    def name(self) -> str:
        return self.repo.name

    @property
    def name_with_owner(self) -> str:
        return self.repo.full_name

    @property
    def owner(self) -> UserView:
        return UserView(self.ctx, self.repo.owner)

    @property
    def url(self) -> str:
        return self.ctx.shapes.html(self.repo)

    @property
    def is_private(self) -> bool:
        return self.repo.private

    @property
    def viewer_permission(self) -> str:
        return "WRITE"

    # The repository's merge settings, as GitHub shows them to a token that can read it.
    @property
    def auto_merge_allowed(self) -> bool:
        return self.repo.settings.allow_auto_merge

    @property
    def merge_commit_allowed(self) -> bool:
        return self.repo.settings.allow_merge_commit

    @property
    def squash_merge_allowed(self) -> bool:
        return self.repo.settings.allow_squash_merge

    @property
    def rebase_merge_allowed(self) -> bool:
        return self.repo.settings.allow_rebase_merge

    @property
    def default_branch_ref(self) -> RefView | None:
        return self.ref(f"refs/heads/{self.repo.default_branch}")

    def ref(self, qualified_name: str) -> RefView | None:
        for name in (qualified_name, f"refs/heads/{qualified_name}", f"refs/tags/{qualified_name}"):
            if name.startswith("refs/") and self.repo.git.ref(name):
                return RefView(self.ctx, self.repo, name)
        return None

    def refs(
        self,
        ref_prefix: str,
        first: int | None = None,
        last: int | None = None,
        after: str | None = None,
        before: str | None = None,
        query: str | None = None,
        order_by: JSON | None = None,
        direction: str | None = None,
    ) -> Connection:
        if not ref_prefix.endswith("/"):
            raise GraphQLFailure("INVALID_ARGUMENTS", "refPrefix must end with a slash (/)")
        names = sorted(
            n for n in self.repo.git.refs(ref_prefix) if not query or query in n[len(ref_prefix) :]
        )
        if (order_by or {}).get("direction", direction) == "DESC":
            names.reverse()
        views = [RefView(self.ctx, self.repo, n, ref_prefix) for n in names]
        return Connection("refs", views, first, last, after, before)

    def object(self, expression: str | None = None, oid: str | None = None) -> Any:
        if oid is not None:
            return git_object(self.ctx, self.repo, oid)
        if expression is None:
            return None
        rev, colon, path = expression.partition(":")
        rev = self.repo.default_branch if rev in ("", "HEAD") else rev
        try:
            sha = self.ctx.sandbox.resolve(self.repo, rev)
        except SandboxError:
            return None
        if not colon:
            return CommitView(self.ctx, self.repo, sha)
        tree = self.repo.git.commit_info(sha).tree
        entry = self.repo.git.lookup(tree, path)
        return None if entry is None else git_object(self.ctx, self.repo, entry.sha, path)

    def pull_requests(
        self,
        first: int | None = None,
        last: int | None = None,
        after: str | None = None,
        before: str | None = None,
        states: list[str] | None = None,
        head_ref_name: str | None = None,
        base_ref_name: str | None = None,
        labels: list[str] | None = None,
        order_by: JSON | None = None,
    ) -> Connection:
        issues = _filter_pulls(self.repo.pulls(), states, head_ref_name, base_ref_name, labels)
        issues = _ordered(issues, order_by, _ISSUE_ORDER)
        views = [PullRequestView(self.ctx, self.repo, i) for i in issues]
        return Connection("pullRequests", views, first, last, after, before)

    def pull_request(self, number: int) -> PullRequestView:
        issue = self.repo.issues.get(number)
        if issue is None or issue.pull is None:
            raise not_found(f"Could not resolve to a PullRequest with the number of {number}.")
        return PullRequestView(self.ctx, self.repo, issue)

    def issue(self, number: int) -> IssueView:
        issue = self.repo.issues.get(number)
        if issue is None or issue.pull is not None:
            raise not_found(f"Could not resolve to an Issue with the number of {number}.")
        return IssueView(self.ctx, self.repo, issue)

    def label(self, name: str) -> LabelView | None:
        found = self.repo.labels.get(name.lower())
        return LabelView(self.ctx, self.repo, found) if found else None

    def labels(
        self,
        first: int | None = None,
        last: int | None = None,
        after: str | None = None,
        before: str | None = None,
        order_by: JSON | None = None,
        query: str | None = None,
    ) -> Connection:
        found = [
            label
            for label in sorted(self.repo.labels.values(), key=lambda lbl: lbl.name.lower())
            if not query or query.lower() in label.name.lower()
        ]
        found = _ordered(found, order_by, _LABEL_ORDER)
        views = [LabelView(self.ctx, self.repo, label) for label in found]
        return Connection("labels", views, first, last, after, before)


_ISSUE_ORDER: dict[str, Callable[[Any], Any]] = {
    "CREATED_AT": lambda i: (i.created_at, i.number),
    "UPDATED_AT": lambda i: (i.updated_at, i.number),
    "COMMENTS": lambda i: (len(i.comments), i.number),
}
_LABEL_ORDER: dict[str, Callable[[Any], Any]] = {
    "NAME": lambda label: label.name.lower(),
    "CREATED_AT": lambda label: (label.created_at, label.id),
}


def _pull_state(issue: Issue) -> str:
    if issue.pull is not None and issue.pull.merged:
        return "MERGED"
    return issue.state.upper()


def _filter_pulls(
    issues: Iterable[Issue],
    states: list[str] | None,
    head_ref_name: str | None,
    base_ref_name: str | None,
    labels: list[str] | None,
) -> list[Issue]:
    chosen = []
    for issue in issues:
        pull = issue.pull
        assert pull is not None
        if states and _pull_state(issue) not in states:
            continue
        if head_ref_name is not None and pull.head_ref != head_ref_name:
            continue
        if base_ref_name is not None and pull.base_ref != base_ref_name:
            continue
        if labels and not {label.name for label in issue.labels} & set(labels):
            continue
        chosen.append(issue)
    return chosen


class RefView(View):
    typename = "Ref"

    def __init__(self, ctx: Context, repo: Repo, qualified: str, prefix: str | None = None) -> None:
        super().__init__(ctx, repo)
        self.qualified = qualified
        if prefix is None:
            parts = qualified.split("/")
            prefix = "/".join(parts[:2]) + "/" if len(parts) > 2 else "refs/"
        self.prefix = prefix
        self.name = qualified[len(prefix) :]
        self.id = node_id("REF", repo.id, qualified)

    @property
    def target(self) -> CommitView | None:
        sha = self.repo.git.ref(self.qualified)
        return git_object(self.ctx, self.repo, sha) if sha else None

    def associated_pull_requests(
        self,
        first: int | None = None,
        last: int | None = None,
        after: str | None = None,
        before: str | None = None,
        states: list[str] | None = None,
        head_ref_name: str | None = None,
        base_ref_name: str | None = None,
        labels: list[str] | None = None,
        order_by: JSON | None = None,
    ) -> Connection:
        branch = self.qualified.removeprefix("refs/heads/")
        issues = [
            i
            for i in self.repo.pulls()
            if i.pull is not None
            and branch in (i.pull.head_ref, i.pull.base_ref)
            and (i.pull.head_ref == branch or head_ref_name is not None)
        ]
        issues = _filter_pulls(issues, states, head_ref_name, base_ref_name, labels)
        issues = _ordered(issues, order_by, _ISSUE_ORDER)
        views = [PullRequestView(self.ctx, self.repo, i) for i in issues]
        return Connection("associatedPullRequests", views, first, last, after, before)


def git_object(ctx: Context, repo: Repo, oid: str, path: str = "") -> Any:
    kind = repo.git.object_type(oid)
    if kind == "commit":
        return CommitView(ctx, repo, oid)
    if kind == "tree":
        return TreeView(ctx, repo, oid, path)
    if kind == "blob":
        return BlobView(ctx, repo, oid)
    return None


class GitObjectView(View):
    def __init__(self, ctx: Context, repo: Repo, oid: str) -> None:
        super().__init__(ctx, repo)
        self.oid = oid
        self.abbreviated_oid = oid[:7]


class GitActorView:
    def __init__(self, ctx: Context, signature: Signature) -> None:
        self.name = signature.name
        self.email = signature.email
        self.date = iso(signature.when)
        matched = [u for u in ctx.sandbox.users.values() if u.email == signature.email]
        self.user = (
            UserView(ctx, matched[0], as_user=True)
            if matched and matched[0].type == "User"
            else None
        )


class CommitView(GitObjectView):
    typename = "Commit"

    @property
    def _info(self) -> CommitInfo:
        return self.repo.git.commit_info(self.oid)

    @property
    def id(self) -> str:
        return node_id("C", self.repo.id, self.oid)

    @property
    def url(self) -> str:
        return self.ctx.shapes.html(self.repo, f"/commit/{self.oid}")

    @property
    def message(self) -> str:
        return str(self._info.message)

    @property
    def message_headline(self) -> str:
        return str(self._info.headline)

    @property
    def message_body(self) -> str:
        return str(self._info.body)

    @property
    def committed_date(self) -> str | None:
        return iso(self._info.committer.when)

    @property
    def authored_date(self) -> str | None:
        return iso(self._info.author.when)

    @property
    def author(self) -> GitActorView:
        return GitActorView(self.ctx, self._info.author)

    @property
    def committer(self) -> GitActorView:
        return GitActorView(self.ctx, self._info.committer)

    @property
    def tree(self) -> TreeView:
        return TreeView(self.ctx, self.repo, self._info.tree, "")

    def file(self, path: str) -> TreeEntryView | None:
        clean = path.strip("/")
        entry = self.repo.git.lookup(self._info.tree, clean)
        if entry is None or not clean:
            return None
        return TreeEntryView(self.ctx, self.repo, clean, FileEntry(entry.mode, entry.sha))

    @property
    def status_check_rollup(self) -> StatusCheckRollupView | None:
        # Check runs and commit statuses both roll up; a commit with neither has no rollup.
        states = self.ctx.sandbox.check_states(self.repo, self.oid)
        if not states:
            return None
        return StatusCheckRollupView(self.ctx, self.repo, self.oid, rollup_state(states))

    def parents(
        self,
        first: int | None = None,
        last: int | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> Connection:
        views = [CommitView(self.ctx, self.repo, p) for p in self._info.parents]
        return Connection("parents", views, first, last, after, before)

    def history(
        self,
        first: int | None = None,
        last: int | None = None,
        after: str | None = None,
        before: str | None = None,
        path: str | None = None,
        since: str | None = None,
        until: str | None = None,
        author: JSON | None = None,
    ) -> Connection:
        git = self.repo.git
        since_time, until_time = _time(since), _time(until)
        emails = set((author or {}).get("emails") or ())
        author_id = (author or {}).get("id")
        if author_id:
            _, parts = parse_node_id(author_id)
            if parts and parts[0].isdigit():
                emails.add(self.ctx.sandbox.user_by_id(int(parts[0])).email)
        chosen = []
        for sha in git.ancestors(self.oid):
            info = git.commit_info(sha)
            if path and not git.touches(sha, path):
                continue
            if since_time and info.committer.when < since_time:
                continue
            if until_time and info.committer.when > until_time:
                continue
            if (author is not None) and info.author.email not in emails:
                continue
            chosen.append(CommitView(self.ctx, self.repo, sha))
        return Connection("history", chosen, first, last, after, before)

    def associated_pull_requests(
        self,
        first: int | None = None,
        last: int | None = None,
        after: str | None = None,
        before: str | None = None,
        order_by: JSON | None = None,
    ) -> Connection:
        git = self.repo.git
        found = []
        for issue in self.repo.pulls():
            pull = issue.pull
            assert pull is not None
            if pull.merge_commit_sha == self.oid:
                found.append(issue)
            elif pull.merged and pull.merge_commit_sha:
                base = git.commit_info(pull.merge_commit_sha).parents[0]
                if self.oid in git.ancestors(pull.head_sha) and not git.is_ancestor(self.oid, base):
                    found.append(issue)
            elif issue.state == "open" and self.oid in self.ctx.sandbox.pull_commits(
                self.repo, issue
            ):
                found.append(issue)
        found = _ordered(
            found,
            order_by,
            {
                "CREATED_AT": lambda i: (i.created_at, i.number),
                "UPDATED_AT": lambda i: (i.updated_at, i.number),
            },
        )
        views = [PullRequestView(self.ctx, self.repo, i) for i in found]
        return Connection("associatedPullRequests", views, first, last, after, before)


class TreeView(GitObjectView):
    typename = "Tree"

    def __init__(self, ctx: Context, repo: Repo, oid: str, path: str) -> None:
        super().__init__(ctx, repo, oid)
        self.path = path.strip("/")
        self.id = node_id("TR", repo.id, oid)

    @property
    def entries(self) -> list[TreeEntryView]:
        prefix = f"{self.path}/" if self.path else ""
        return [
            TreeEntryView(self.ctx, self.repo, prefix + e.name, FileEntry(e.mode, e.sha))
            for e in self.repo.git.entries(self.oid)
        ]


class TreeEntryView(View):
    def __init__(self, ctx: Context, repo: Repo, path: str, entry: FileEntry) -> None:
        super().__init__(ctx, repo)
        self.path = path
        self.name = path.rsplit("/", 1)[-1]
        self.mode = entry.mode
        self.oid = entry.sha
        self.type = {0o040000: "tree", 0o160000: "commit"}.get(entry.mode, "blob")

    @property
    def object(self) -> Any:
        return git_object(self.ctx, self.repo, self.oid, self.path)


class BlobView(GitObjectView):
    typename = "Blob"

    def __init__(self, ctx: Context, repo: Repo, oid: str) -> None:
        super().__init__(ctx, repo, oid)
        self.id = node_id("B", repo.id, oid)
        self._data = repo.git.blob(oid)
        self.byte_size = len(self._data)
        self.is_truncated = False

    @property
    def is_binary(self) -> bool:
        if b"\0" in self._data:
            return True
        try:
            self._data.decode("utf-8")
        except UnicodeDecodeError:
            return True
        return False

    @property
    def text(self) -> str | None:
        return None if self.is_binary else self._data.decode("utf-8")


class StatusCheckRollupView(View):
    typename = "StatusCheckRollup"

    def __init__(self, ctx: Context, repo: Repo, oid: str, state: str) -> None:
        super().__init__(ctx, repo)
        self.id = node_id("SCR", repo.id, oid)
        self.state = state
        self.commit = CommitView(ctx, repo, oid)


class LabelView(View):
    typename = "Label"

    def __init__(self, ctx: Context, repo: Repo, label: Label) -> None:
        super().__init__(ctx, repo)
        self.id = node_id("LA", label.id)
        self.name = label.name
        self.color = label.color
        self.description = label.description
        self.url = ctx.shapes.html(repo, f"/labels/{label.name.replace(' ', '%20')}")


class ReactionView(View):
    typename = "Reaction"

    def __init__(self, ctx: Context, repo: Repo, reaction: Reaction, subject: Any) -> None:
        super().__init__(ctx, repo)
        self.id = node_id("REA", reaction.id)
        self.database_id = reaction.id
        self.content = {v: k for k, v in REACTION_CONTENT.items()}[reaction.content]
        self.created_at = iso(reaction.created_at)
        self.user = (
            UserView(ctx, reaction.user, as_user=True) if reaction.user.type == "User" else None
        )
        self.reactable = subject


def _reactions(
    view: Any,
    reactions: list[Reaction],
    first: int | None,
    last: int | None,
    after: str | None,
    before: str | None,
    content: str | None,
    order_by: JSON | None,
) -> Connection:
    wanted = REACTION_CONTENT.get(content) if content else None
    chosen = [r for r in reactions if wanted is None or r.content == wanted]
    chosen = _ordered(chosen, order_by, {"CREATED_AT": lambda r: (r.created_at, r.id)})
    views = [ReactionView(view.ctx, view.repo, r, view) for r in chosen]
    return Connection("reactions", views, first, last, after, before)


class IssueLike(View):
    """Fields issues and pull requests share."""

    def __init__(self, ctx: Context, repo: Repo, issue: Issue) -> None:
        super().__init__(ctx, repo)
        self.issue_record = issue
        self.number = issue.number
        self.title = issue.title
        self.body = issue.body or ""
        self.created_at = iso(issue.created_at)
        self.author = UserView(ctx, issue.user)

    def labels(
        self,
        first: int | None = None,
        last: int | None = None,
        after: str | None = None,
        before: str | None = None,
        order_by: JSON | None = None,
    ) -> Connection:
        found = _ordered(list(self.issue_record.labels), order_by, _LABEL_ORDER)
        views = [LabelView(self.ctx, self.repo, label) for label in found]
        return Connection("labels", views, first, last, after, before)

    def comments(
        self,
        first: int | None = None,
        last: int | None = None,
        after: str | None = None,
        before: str | None = None,
        order_by: JSON | None = None,
    ) -> Connection:
        found = _ordered(
            list(self.issue_record.comments),
            order_by,
            {"UPDATED_AT": lambda c: (c.updated_at, c.id)},
        )
        views = [IssueCommentView(self.ctx, self.repo, c) for c in found]
        return Connection("comments", views, first, last, after, before)

    def reactions(
        self,
        first: int | None = None,
        last: int | None = None,
        after: str | None = None,
        before: str | None = None,
        content: str | None = None,
        order_by: JSON | None = None,
    ) -> Connection:
        return _reactions(
            self, self.issue_record.reactions, first, last, after, before, content, order_by
        )


class IssueView(IssueLike):
    typename = "Issue"

    def __init__(self, ctx: Context, repo: Repo, issue: Issue) -> None:
        super().__init__(ctx, repo, issue)
        self.id = node_id("I", issue.id)
        self.database_id = issue.id
        self.state = issue.state.upper()
        self.url = ctx.shapes.html(repo, f"/issues/{issue.number}")


class PullRequestView(IssueLike):
    typename = "PullRequest"

    def __init__(self, ctx: Context, repo: Repo, issue: Issue) -> None:
        super().__init__(ctx, repo, issue)
        pull = issue.pull
        assert pull is not None
        self.pull = pull
        self.id = node_id("PR", repo.id, issue.number)
        self.database_id = pull.id
        self.url = ctx.shapes.html(repo, f"/pull/{issue.number}")
        self.state = _pull_state(issue)
        self.closed = issue.state == "closed"
        self.closed_at = iso(issue.closed_at)
        self.updated_at = iso(issue.updated_at)
        self.is_draft = pull.draft
        self.merged = pull.merged
        self.merged_at = iso(pull.merged_at)
        self.head_ref_name = pull.head_ref
        self.base_ref_name = pull.base_ref

    @property
    def head_ref_oid(self) -> str:
        # The head GitHub has recorded: it follows a push late.
        return self.ctx.read_head(self.repo, self.issue_record)

    @property
    def base_ref_oid(self) -> str:
        return self.repo.git.ref(f"refs/heads/{self.pull.base_ref}") or self.pull.base_sha

    @property
    def head_ref(self) -> RefView | None:
        return RepositoryView(self.ctx, self.repo).ref(f"refs/heads/{self.pull.head_ref}")

    @property
    def base_ref(self) -> RefView | None:
        return RepositoryView(self.ctx, self.repo).ref(f"refs/heads/{self.pull.base_ref}")

    @property
    def mergeable(self) -> str:
        state = self.ctx.read_pull(self.repo, self.issue_record).mergeability
        if state.mergeable is None:
            return "UNKNOWN"
        return "MERGEABLE" if state.mergeable else "CONFLICTING"

    @property
    def merge_state_status(self) -> str:
        return self.ctx.read_pull(self.repo, self.issue_record).mergeability.state.upper()

    @property
    def review_decision(self) -> str | None:
        return self.ctx.sandbox.review_decision(self.repo, self.issue_record)

    @property
    def editor(self) -> UserView | None:
        """Who last edited the body (null while it is as the pull request was opened)."""
        editor = self.issue_record.editor
        return UserView(self.ctx, editor) if editor is not None else None

    @property
    def last_edited_at(self) -> str | None:
        return iso(self.issue_record.last_edited_at)

    def commits(
        self,
        first: int | None = None,
        last: int | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> Connection:
        """The commits of the head the pull request has recorded that its base lacks, oldest
        first (``last: 1`` is the head)."""
        # One read of the head, as ``headRefOid`` is: the list follows a push as late.
        self.ctx.read_head(self.repo, self.issue_record)
        shas = self.ctx.sandbox.pull_commits(self.repo, self.issue_record)
        views = [PullRequestCommitView(self.ctx, self.repo, self.issue_record, sha) for sha in shas]
        return Connection("commits", views, first, last, after, before)

    def reviews(
        self,
        first: int | None = None,
        last: int | None = None,
        after: str | None = None,
        before: str | None = None,
        author: str | None = None,
        states: list[str] | None = None,
    ) -> Connection:
        viewer = self.ctx.viewer
        chosen = [
            review
            for review in self.pull.reviews
            if (author is None or review.user.login.lower() == author.lower())
            and (not states or review.state in states)
            # A pending review is visible to its author only.
            and (review.state != "PENDING" or review.user == viewer)
        ]
        views = [PullRequestReviewView(self.ctx, self.repo, self.issue_record, r) for r in chosen]
        return Connection("reviews", views, first, last, after, before)

    @property
    def merge_commit(self) -> CommitView | None:
        sha = self.pull.merge_commit_sha
        return CommitView(self.ctx, self.repo, sha) if sha else None

    @property
    def auto_merge_request(self) -> JSON | None:
        auto = self.pull.auto_merge
        if auto is None:
            return None
        return {
            "enabledAt": iso(auto.enabled_at),
            "enabledBy": UserView(self.ctx, auto.enabled_by),
            "mergeMethod": auto.method.upper(),
            "commitHeadline": auto.commit_title,
            "commitBody": auto.commit_message,
            "pullRequest": self,
        }

    def review_requests(
        self,
        first: int | None = None,
        last: int | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> Connection:
        requested: list[Any] = [UserView(self.ctx, u) for u in self.pull.requested_reviewers]
        requested += [TeamView(self.ctx, self.repo, slug) for slug in self.pull.requested_teams]
        views = [
            {
                "id": node_id("RR", self.repo.id, self.number, i),
                "pullRequest": self,
                "requestedReviewer": reviewer,
            }
            for i, reviewer in enumerate(requested)
        ]
        return Connection("reviewRequests", views, first, last, after, before)


class PullRequestReviewView(View):
    typename = "PullRequestReview"

    def __init__(self, ctx: Context, repo: Repo, issue: Issue, review: Review) -> None:
        super().__init__(ctx, repo)
        self.issue_record = issue
        self.review = review
        self.id = node_id("PRR", review.id)
        self.database_id = review.id
        self.body = review.body
        self.state = review.state
        self.submitted_at = iso(review.submitted_at)
        self.author = UserView(ctx, review.user)
        self.url = ctx.shapes.html(repo, f"/pull/{issue.number}#pullrequestreview-{review.id}")

    @property
    def commit(self) -> CommitView | None:
        found = self.repo.git.object_type(self.review.commit_id) == "commit"
        return CommitView(self.ctx, self.repo, self.review.commit_id) if found else None

    @property
    def pull_request(self) -> PullRequestView:
        return PullRequestView(self.ctx, self.repo, self.issue_record)

    @property
    def author_can_push_to_repository(self) -> bool:
        # Decided at the time of the read: a reviewer who lost write access no longer can.
        return self.ctx.sandbox.can_write(self.repo, self.review.user)


class PullRequestCommitView(View):
    typename = "PullRequestCommit"

    def __init__(self, ctx: Context, repo: Repo, issue: Issue, oid: str) -> None:
        super().__init__(ctx, repo)
        self.issue_record = issue
        self.id = node_id("PURC", repo.id, issue.number, oid)
        self.url = ctx.shapes.html(repo, f"/pull/{issue.number}/commits/{oid}")
        self.commit = CommitView(ctx, repo, oid)

    @property
    def pull_request(self) -> PullRequestView:
        return PullRequestView(self.ctx, self.repo, self.issue_record)


class TeamView(View):
    typename = "Team"

    def __init__(self, ctx: Context, repo: Repo, slug: str) -> None:
        super().__init__(ctx, repo)
        self.id = node_id("T", repo.owner.login, slug)
        self.slug = slug
        self.name = slug


class IssueCommentView(View):
    typename = "IssueComment"

    def __init__(self, ctx: Context, repo: Repo, comment: Comment) -> None:
        super().__init__(ctx, repo)
        self.comment = comment
        self.id = node_id("IC", comment.id)
        self.database_id = comment.id
        self.body = comment.body
        self.created_at = iso(comment.created_at)
        self.updated_at = iso(comment.updated_at)
        self.author = UserView(ctx, comment.user)
        issue = repo.issues[comment.issue_number]
        kind = "pull" if issue.pull else "issues"
        self.url = ctx.shapes.html(repo, f"/{kind}/{issue.number}#issuecomment-{comment.id}")
        self._issue = issue

    @property
    def issue(self) -> IssueView:
        # GitHub answers `issue` for comments on pull requests too, with the PR's issue half.
        return IssueView(self.ctx, self.repo, self._issue)

    @property
    def pull_request(self) -> PullRequestView | None:
        if self._issue.pull is None:
            return None
        return PullRequestView(self.ctx, self.repo, self._issue)

    def reactions(
        self,
        first: int | None = None,
        last: int | None = None,
        after: str | None = None,
        before: str | None = None,
        content: str | None = None,
        order_by: JSON | None = None,
    ) -> Connection:
        return _reactions(
            self, self.comment.reactions, first, last, after, before, content, order_by
        )


# -- node ids ------------------------------------------------------------------------------------


def resolve_node(ctx: Context, value: str) -> Any:
    sandbox = ctx.sandbox
    kind, parts = parse_node_id(value)
    try:
        if kind == "R":
            return RepositoryView(ctx, sandbox.repo_by_id(int(parts[0])))
        if kind == "PR":
            repo = sandbox.repo_by_id(int(parts[0]))
            return PullRequestView(ctx, repo, sandbox.pull(repo, int(parts[1])))
        if kind == "REF":
            repo = sandbox.repo_by_id(int(parts[0]))
            name = ":".join(parts[1:])
            if repo.git.ref(name) is not None:
                return RefView(ctx, repo, name)
        if kind == "I":
            for repo in sandbox.repos.values():
                for issue in repo.issues.values():
                    if issue.id == int(parts[0]):
                        view: Any = PullRequestView if issue.pull else IssueView
                        return view(ctx, repo, issue)
        if kind == "IC":
            repo, _, comment = sandbox.comment_by_id(int(parts[0]))
            return IssueCommentView(ctx, repo, comment)
        if kind == "PRR":
            repo, issue, review = sandbox.review_by_id(int(parts[0]))
            return PullRequestReviewView(ctx, repo, issue, review)
        if kind == "PURC":
            repo = sandbox.repo_by_id(int(parts[0]))
            issue = sandbox.pull(repo, int(parts[1]))
            if repo.git.object_type(parts[2]) == "commit":
                return PullRequestCommitView(ctx, repo, issue, parts[2])
        if kind == "LA":
            repo, label = sandbox.label_by_id(int(parts[0]))
            return LabelView(ctx, repo, label)
        if kind in ("U", "BOT"):
            return UserView(ctx, sandbox.user_by_id(int(parts[0])))
        if kind in ("C", "TR", "B"):
            repo = sandbox.repo_by_id(int(parts[0]))
            found = git_object(ctx, repo, parts[1])
            if found is not None:
                return found
    except (SandboxError, ValueError, IndexError, GitError):
        pass
    raise not_found(f"Could not resolve to a node with the global id of '{value}'")


def node_of(ctx: Context, value: str, *types: type) -> Any:
    node = resolve_node(ctx, value)
    if not isinstance(node, types):
        raise not_found(f"Could not resolve to a node with the global id of '{value}'")
    return node
