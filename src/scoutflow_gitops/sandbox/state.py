"""``Sandbox``: the state of the simulated GitHub and every change GitHub would allow to it.

REST, GraphQL, the control API and the seed all go through these methods, so a refusal (a stale
head, a non-fast-forward, an existing pull request) is decided in one place for every client.
Callers hold ``sandbox.lock`` around a whole request; the lock is re-entrant so methods can
call each other.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import timedelta

from scoutflow_gitops.sandbox.access import Access
from scoutflow_gitops.sandbox.gitstore import (
    FileEntry,
    GitError,
    Signature,
    diff_trees,
    merge_trees,
)
from scoutflow_gitops.sandbox.model import (
    BOT_LOGIN,
    REACTIONS,
    REQUIRED_CHECK,
    ROLES,
    UNKNOWN_MERGEABILITY,
    ZERO_OID,
    AutoMerge,
    Clock,
    Comment,
    CommitStatus,
    Dispatch,
    Issue,
    Job,
    Label,
    Mergeability,
    Protection,
    Pull,
    PullSnapshot,
    Reaction,
    RefUpdate,
    Repo,
    RequestRecord,
    Review,
    ReviewRefused,
    SandboxError,
    Timing,
    User,
    UserType,
    Workflow,
    WorkflowRun,
    not_found,
)
from scoutflow_gitops.sandbox.protection import (
    APPROVED,
    CHANGES_REQUESTED,
    CODEOWNERS_PATHS,
    COMMENTED,
    DISMISSED,
    DRAFT_TEXT,
    OUT_OF_DATE_TEXT,
    PENDING,
    STATUS_STATES,
    MergeFacts,
    Owner,
    OwnerRule,
    context_state,
    merge_state,
    owners_of,
    parse_codeowners,
    review_blockers,
    review_decision,
)

# GitHub's default labels for a new repository.
DEFAULT_LABELS = (
    ("bug", "d73a4a", "Something isn't working"),
    ("documentation", "0075ca", "Improvements or additions to documentation"),
    ("duplicate", "cfd3d7", "This issue or pull request already exists"),
    ("enhancement", "a2eeef", "New feature or request"),
    ("good first issue", "7057ff", "Good for newcomers"),
    ("help wanted", "008672", "Extra attention is needed"),
    ("invalid", "e4e669", "This doesn't seem right"),
    ("question", "d876e3", "Further information is requested"),
    ("wontfix", "ffffff", "This will not be worked on"),
)
MERGE_METHODS = ("merge", "squash", "rebase")
CONCLUSIONS = ("success", "failure", "cancelled", "skipped", "neutral", "timed_out")
# A check may also still be running.
CHECK_STATES = (*CONCLUSIONS, "pending")
# States in which GitHub merges (UNSTABLE: only checks that are not required fail).
MERGEABLE_STATES = ("clean", "unstable", "has_hooks")
REVIEW_EVENTS = {"APPROVE": APPROVED, "REQUEST_CHANGES": CHANGES_REQUESTED, "COMMENT": COMMENTED}
WRITE_ROLES = ("admin", "maintain", "write")
NOT_MERGEABLE = "Pull Request is not mergeable"
HEAD_MODIFIED = "Head branch was modified. Review and try the merge again."
BASE_MODIFIED = "Base branch was modified. Review and try the merge again."
# GitHub keeps at most this many statuses per commit and context ("POST .../statuses/{sha}").
STATUS_LIMIT = 1000
STATUS_DESCRIPTION_LIMIT = 140
_FULL_SHA = re.compile(r"\A[0-9a-fA-F]{40}\Z")


def validation_failed(
    resource: str, field: str = "", code: str = "invalid", message: str = ""
) -> SandboxError:
    """GitHub's 422 "Validation Failed" with one entry in ``errors``."""
    error = {"resource": resource, "code": code}
    if field:
        error["field"] = field
    if message:
        error["message"] = message
    return SandboxError(422, "Validation Failed", errors=(error,))


class Sandbox:
    def __init__(self, clock: Clock | None = None, *, timing: Timing | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = clock or Clock()
        self._ids: dict[str, Iterator[int]] = {}
        self.users: dict[str, User] = {}
        self.repos: dict[str, Repo] = {}
        self.bot = self._add_user(BOT_LOGIN, "Bot")
        self._requests: list[RequestRecord] = []
        # How late GitHub's background jobs answer (``Timing``); a test may relax it, visibly.
        self.timing = timing or Timing()
        # Merges still to refuse with "Base branch was modified": the sandbox's merges are
        # atomic, so that race only happens when a test asks for it.
        self.base_modified_merges = 0
        # Bumped whenever a branch moves; one GraphQL document's reads are cached per revision.
        self.revision = 0
        # Tokens and what each may reach (see ``access``).
        self.access = Access()

    # -- identities ------------------------------------------------------------------------

    def next_id(self, kind: str) -> int:
        """Ids per kind from a fixed base, so two seeded sandboxes hand out the same ids."""
        bases = {"user": 1000, "repo": 500000, "issue": 2000000, "pull": 3000000}
        if kind not in self._ids:
            self._ids[kind] = itertools.count(bases.get(kind, 9000000) + 1)
        return next(self._ids[kind])

    def _add_user(self, login: str, user_type: UserType = "User") -> User:
        user = User(login, self.next_id("user"), user_type)
        self.users[login.lower()] = user
        return user

    def user(self, login: str, user_type: UserType = "User") -> User:
        """The account with this login; GitHub has one for every login the sandbox meets."""
        return self.users.get(login.lower()) or self._add_user(login, user_type)

    def user_by_id(self, user_id: int) -> User:
        for user in self.users.values():
            if user.id == user_id:
                return user
        raise not_found(f"Could not resolve to a User with the id {user_id}")

    def bot_signature(self) -> Signature:
        return self.signature(self.bot)

    def signature(self, user: User) -> Signature:
        """A git identity for ``user`` now: its noreply email links commits back to the account."""
        return Signature(user.login, user.email, self.clock.now())

    def web_flow_signature(self) -> Signature:
        return Signature("GitHub", "noreply@github.com", self.clock.now())

    # -- repositories ----------------------------------------------------------------------

    def create_repo(self, owner: str, name: str, *, private: bool = True) -> Repo:
        key = f"{owner}/{name}".lower()
        if key in self.repos:
            raise SandboxError(422, "Repository creation failed.")
        repo = Repo(self.user(owner), name, self.next_id("repo"), self.clock.now(), private=private)
        repo.collaborators[repo.owner.login.lower()] = "admin"
        for label_name, color, description in DEFAULT_LABELS:
            self._new_label(repo, label_name, color, description, default=True)
        self.repos[key] = repo
        return repo

    def repo(self, full_name: str) -> Repo:
        try:
            return self.repos[full_name.lower()]
        except KeyError:
            raise not_found() from None

    def repo_by_id(self, repo_id: int) -> Repo:
        for repo in self.repos.values():
            if repo.id == repo_id:
                return repo
        raise not_found(f"Could not resolve to a Repository with the id {repo_id}")

    def update_settings(self, repo: Repo, values: Mapping[str, object]) -> None:
        for key, value in values.items():
            if not hasattr(repo.settings, key) or not isinstance(value, bool):
                raise SandboxError(422, f"Unknown or non-boolean setting: {key}")
            setattr(repo.settings, key, value)
        self._settle(repo)

    def set_collaborator(self, repo: Repo, login: str, role: str) -> None:
        if role != "none" and role not in ROLES:
            raise SandboxError(422, f"permission must be one of {', '.join(ROLES)} or none")
        self.user(login)
        if role == "none":
            repo.collaborators.pop(login.lower(), None)
        else:
            repo.collaborators[login.lower()] = role

    def role(self, repo: Repo, login: str) -> str | None:
        return repo.collaborators.get(login.lower())

    # -- git -------------------------------------------------------------------------------

    def branch_head(self, repo: Repo, branch: str) -> str:
        sha = repo.git.ref(f"refs/heads/{branch}")
        if sha is None:
            raise not_found("Branch not found")
        return sha

    def resolve(self, repo: Repo, spec: str) -> str:
        """A commit SHA for a branch, tag, full ref, full SHA or unique SHA prefix."""
        for name in (spec, f"refs/heads/{spec}", f"refs/tags/{spec}"):
            sha = repo.git.ref(name) if name.startswith("refs/") else None
            if sha:
                return sha
        if repo.git.object_type(spec) == "commit":
            return spec
        if 7 <= len(spec) < 40:
            matches = {c for c in self._all_commits(repo) if c.startswith(spec.lower())}
            if len(matches) == 1:
                return matches.pop()
        raise not_found(f"No commit found for SHA: {spec}")

    def _all_commits(self, repo: Repo) -> set[str]:
        found: set[str] = set()
        for head in set(repo.git.refs().values()):
            if head not in found:
                found.update(repo.git.ancestors(head))
        return found

    def commit_files(
        self,
        repo: Repo,
        branch: str,
        changes: Mapping[str, bytes | None],
        message: str,
        *,
        author: Signature | None = None,
        committer: Signature | None = None,
        expected_head: str | None = None,
    ) -> str:
        """A new commit on ``branch`` (created, as a root commit, when missing)."""
        ref = f"refs/heads/{branch}"
        head = repo.git.ref(ref)
        if expected_head is not None and head != expected_head:
            raise SandboxError(
                409,
                f'Expected branch to point to "{expected_head}" but it did not. '
                "Pull and try again.",
                graphql_type="STALE_DATA",
            )
        base_tree = repo.git.commit_info(head).tree if head else None
        try:
            tree = repo.git.write_files(base_tree, changes)
        except GitError as exc:
            raise SandboxError(422, str(exc)) from exc
        signature = author or self.bot_signature()
        sha = repo.git.commit(
            tree, [head] if head else [], message, signature, committer or signature
        )
        self._move_ref(repo, ref, sha)
        return sha

    def commit_tree(
        self, repo: Repo, branch: str, tree: str, message: str, author: Signature
    ) -> str:
        """A commit of a ready-made tree on top of ``branch`` (a root commit when missing)."""
        ref = f"refs/heads/{branch}"
        head = repo.git.ref(ref)
        sha = repo.git.commit(tree, [head] if head else [], message, author, author)
        self._move_ref(repo, ref, sha)
        return sha

    def create_commit(
        self,
        repo: Repo,
        tree: str,
        parents: Iterable[str],
        message: str,
        author: Signature,
        committer: Signature,
    ) -> str:
        parents = list(parents)
        if repo.git.object_type(tree) != "tree":
            raise SandboxError(422, "Tree SHA does not exist")
        if any(repo.git.object_type(p) != "commit" for p in parents):
            raise SandboxError(422, "Parent SHA does not exist or is not a commit object")
        return repo.git.commit(tree, parents, message, author, committer)

    def create_ref(self, repo: Repo, name: str, sha: str) -> None:
        _check_ref_name(name)
        if repo.git.ref(name) is not None:
            raise SandboxError(422, "Reference already exists")
        if repo.git.object_type(sha) is None:
            raise SandboxError(422, "Object does not exist")
        self._move_ref(repo, name, sha)

    def update_ref(self, repo: Repo, name: str, sha: str, *, force: bool = False) -> None:
        current = repo.git.ref(name)
        if current is None:
            raise SandboxError(422, "Reference does not exist")
        if repo.git.object_type(sha) is None:
            raise SandboxError(422, "Object does not exist")
        if (
            not force
            and current != sha
            and not (repo.git.object_type(sha) == "commit" and repo.git.is_ancestor(current, sha))
        ):
            raise SandboxError(422, "Update is not a fast forward")
        self._move_ref(repo, name, sha)

    def update_refs(self, repo: Repo, updates: Sequence[RefUpdate]) -> None:
        """GraphQL ``updateRefs``: every update is checked first, then all are applied.

        ``before`` is a compare-and-swap guard (all zeros: the ref must not exist); an
        ``after`` of all zeros deletes the ref.
        """
        for update in updates:
            _check_ref_name(update.name)
            current = repo.git.ref(update.name)
            if update.before is not None and (current or ZERO_OID) != update.before:
                raise SandboxError(
                    422,
                    f"Ref {update.name} is at {current or ZERO_OID}, not {update.before}",
                )
            if update.after == ZERO_OID:
                if current is None:
                    raise SandboxError(422, f"Ref {update.name} does not exist")
                continue
            if repo.git.object_type(update.after) != "commit":
                raise SandboxError(422, f"Object {update.after} does not exist or is not a commit")
            if (
                current is not None
                and not update.force
                and current != update.after
                and not repo.git.is_ancestor(current, update.after)
            ):
                raise SandboxError(422, f"Update of {update.name} is not a fast forward")
        for update in updates:
            if update.after == ZERO_OID:
                repo.git.delete_ref(update.name)
                self._ref_changed(repo, update.name)
            else:
                self._move_ref(repo, update.name, update.after)

    def delete_ref(self, repo: Repo, name: str) -> None:
        if repo.git.ref(name) is None:
            raise SandboxError(422, "Reference does not exist")
        repo.git.delete_ref(name)
        self._ref_changed(repo, name)

    def _move_ref(self, repo: Repo, name: str, sha: str) -> None:
        repo.git.set_ref(name, sha)
        if name.startswith("refs/heads/"):
            repo.pushed_at = self.clock.now()
        self._ref_changed(repo, name)

    def _ref_changed(self, repo: Repo, name: str) -> None:
        """Keep open pull requests on the branch in step, as GitHub does on a push."""
        if not name.startswith("refs/heads/"):
            return
        self.revision += 1
        branch = name.removeprefix("refs/heads/")
        sha = repo.git.ref(name)
        for issue in repo.pulls():
            pull = issue.pull
            assert pull is not None
            if issue.state != "open" or branch not in (pull.head_ref, pull.base_ref):
                continue
            if sha is None:
                self._close(issue, self.bot)
            elif branch == pull.head_ref:
                self._head_moved(repo, issue, sha)
            else:
                pull.base_sha = sha
                self._start_mergeability(pull)
        self._settle(repo)

    def _head_moved(self, repo: Repo, issue: Issue, sha: str) -> None:
        """A push to a pull request's branch. GitHub closes the pull request when the branch has
        nothing left to merge (or no history in common with the base); otherwise the pull
        request follows the branch late (``Timing``)."""
        pull = _pull(issue)
        base = repo.git.ref(f"refs/heads/{pull.base_ref}") or pull.base_sha
        if repo.git.is_ancestor(sha, base) or repo.git.merge_base(base, sha) is None:
            pull.head_sha = sha
            self._close(issue, self.bot)
            return
        if sha == pull.head_sha:
            pull.pending_head, pull.head_job = None, None
            return
        pull.pending_head = sha
        pull.head_job = self._job(self.timing.head_reads, self.timing.head_seconds)
        if pull.head_job.done(self.clock.now()):
            self._catch_up(repo, issue)

    def _job(self, reads: int, seconds: float) -> Job:
        return Job(reads, self.clock.now() + timedelta(seconds=seconds))

    def _start_mergeability(self, pull: Pull) -> None:
        """GitHub starts computing mergeability again in the background."""
        job = self._job(self.timing.mergeability_reads, self.timing.mergeability_seconds)
        pull.mergeability_job = None if job.done(self.clock.now()) else job

    def _catch_up(self, repo: Repo, issue: Issue) -> None:
        """The pull request records its branch's new head (GitHub's "synchronize")."""
        pull = _pull(issue)
        assert pull.pending_head is not None
        pull.head_sha, pull.pending_head, pull.head_job = pull.pending_head, None, None
        issue.updated_at = self.clock.now()
        protection = self._protection(repo, pull)
        if protection is not None and protection.dismiss_stale_reviews:
            for review in pull.reviews:
                if review.state == APPROVED:
                    review.state = DISMISSED
        self._start_mergeability(pull)

    # -- what clients see: GitHub's background jobs, one read at a time --------------------

    def observe_pull(self, repo: Repo, issue: Issue) -> PullSnapshot:
        """A client reads a pull request's head and mergeability (a REST answer shows both):
        each as late as ``Timing`` makes them."""
        return PullSnapshot(self.observe_head(repo, issue), self.observe_mergeability(repo, issue))

    def observe_head(self, repo: Repo, issue: Issue) -> str:
        """A client reads only a pull request's head (GraphQL ``headRefOid``): the head job
        moves on, the mergeability job does not, so a document that merely names the head
        (the answer to ``createPullRequest``, say) does not make GitHub's answer to a merge
        right after it any earlier than on GitHub."""
        self._advance_head(repo, issue)
        return _pull(issue).head_sha

    def observe_mergeability(self, repo: Repo, issue: Issue) -> Mergeability:
        """A client reads a pull request's mergeability (or tries to merge it)."""
        return self._read_mergeability(repo, issue)

    def _advance_head(self, repo: Repo, issue: Issue) -> None:
        pull = _pull(issue)
        job = pull.head_job
        if issue.state != "open" or job is None:
            return
        if job.done(self.clock.now()):
            self._catch_up(repo, issue)
            self._settle(repo)
        else:
            job.reads_left = max(0, job.reads_left - 1)

    def _read_mergeability(self, repo: Repo, issue: Issue) -> Mergeability:
        pull = _pull(issue)
        if issue.state != "open" or pull.pending_head is not None:
            return UNKNOWN_MERGEABILITY
        job = pull.mergeability_job
        if job is not None:
            if not job.done(self.clock.now()):
                job.reads_left = max(0, job.reads_left - 1)
                return UNKNOWN_MERGEABILITY
            pull.mergeability_job = None
        return self.mergeability(repo, issue)

    # -- labels, issues, comments, reactions -----------------------------------------------

    def _new_label(
        self, repo: Repo, name: str, color: str, description: str | None, default: bool = False
    ) -> Label:
        label = Label(self.next_id("label"), name, color, description, default, self.clock.now())
        repo.labels[name.lower()] = label
        return label

    def label(self, repo: Repo, name: str, *, create: bool = False) -> Label:
        found = repo.labels.get(name.lower())
        if found is not None:
            return found
        if not create:
            raise not_found()
        return self._new_label(repo, name, "ededed", None)

    def label_by_id(self, label_id: int) -> tuple[Repo, Label]:
        for repo in self.repos.values():
            for label in repo.labels.values():
                if label.id == label_id:
                    return repo, label
        raise not_found(f"Could not resolve to a node with the global id of '{label_id}'")

    def issue(self, repo: Repo, number: int) -> Issue:
        try:
            return repo.issues[number]
        except KeyError:
            raise not_found() from None

    def pull(self, repo: Repo, number: int) -> Issue:
        issue = self.issue(repo, number)
        if issue.pull is None:
            raise not_found()
        return issue

    def create_issue(
        self,
        repo: Repo,
        user: User,
        title: str,
        body: str | None = None,
        labels: Iterable[str] = (),
    ) -> Issue:
        if not title:
            raise validation_failed("Issue", "title", "missing_field")
        now = self.clock.now()
        number = len(repo.issues) + 1
        issue = Issue(number, self.next_id("issue"), title, body, user, now, now)
        repo.issues[number] = issue
        self.add_labels(repo, issue, labels)
        return issue

    def update_issue(
        self,
        repo: Repo,
        issue: Issue,
        user: User,
        *,
        title: str | None = None,
        body: str | None = None,
        state: str | None = None,
    ) -> None:
        if title is not None:
            issue.title = title
        if body is not None and body != issue.body:
            # GitHub records who edited the body last (GraphQL ``editor``, ``lastEditedAt``).
            issue.body = body
            issue.editor, issue.last_edited_at = user, self.clock.now()
        if state == "closed" and issue.state == "open":
            self._close(issue, user)
        elif state == "open" and issue.state == "closed":
            if issue.pull is not None:
                self._check_reopen(repo, issue)
            issue.state, issue.closed_at, issue.closed_by = "open", None, None
            if issue.pull is not None:
                self._start_mergeability(issue.pull)
        elif state not in (None, "open", "closed"):
            raise validation_failed("Issue", "state")
        issue.updated_at = self.clock.now()
        self._settle(repo)

    def _close(self, issue: Issue, user: User) -> None:
        issue.state = "closed"
        issue.closed_at = issue.updated_at = self.clock.now()
        issue.closed_by = user
        if issue.pull is not None:
            pull = issue.pull
            pull.auto_merge = None
            # A closed pull request's head is frozen where GitHub last recorded it.
            pull.pending_head = pull.head_job = pull.mergeability_job = None

    def _check_reopen(self, repo: Repo, issue: Issue) -> None:
        """GitHub reopens a pull request only if its branch still continues the head it was
        closed at and has something to merge; it then follows the branch again."""
        pull = _pull(issue)
        if pull.merged:
            raise validation_failed(
                "PullRequest", "state", "custom", "Cannot reopen a merged pull request."
            )
        owner = repo.owner.login
        head = repo.git.ref(f"refs/heads/{pull.head_ref}")
        base = repo.git.ref(f"refs/heads/{pull.base_ref}")
        reason = ""
        if head is None and base is None:
            reason = f"The {pull.base_ref} and {pull.head_ref} branches have been deleted."
        elif head is None:
            reason = f"The {pull.head_ref} branch has been deleted."
        elif base is None:
            reason = f"The {pull.base_ref} branch has been deleted."
        elif not repo.git.is_ancestor(pull.head_sha, head):
            reason = f"The {pull.head_ref} branch was force-pushed or recreated."
        elif repo.git.merge_base(base, head) is None:
            reason = (
                f"The {owner}:{pull.head_ref} branch has no history in common with "
                f"{owner}:{pull.base_ref}."
            )
        elif repo.git.is_ancestor(head, base):
            reason = (
                f"There are no new commits between base branch '{pull.base_ref}' and head "
                f"branch '{pull.head_ref}'."
            )
        if reason:
            raise validation_failed(
                "PullRequest", "state", "custom", f"state cannot be changed. {reason}"
            )
        assert head is not None and base is not None
        pull.head_sha, pull.base_sha = head, base

    def add_labels(
        self, repo: Repo, issue: Issue, names: Iterable[str], *, replace: bool = False
    ) -> None:
        """Add labels (created on first use, as GitHub does), or set exactly these."""
        if replace:
            issue.labels.clear()
        for name in names:
            label = self.label(repo, name, create=True)
            if label not in issue.labels:
                issue.labels.append(label)
        issue.updated_at = self.clock.now()

    def add_comment(self, repo: Repo, issue: Issue, user: User, body: str) -> Comment:
        if not body:
            raise validation_failed("IssueComment", "body", "missing_field")
        now = self.clock.now()
        comment = Comment(self.next_id("comment"), issue.number, user, body, now, now)
        issue.comments.append(comment)
        issue.updated_at = now
        return comment

    def edit_comment(self, comment: Comment, body: str) -> None:
        if not body:
            raise validation_failed("IssueComment", "body", "missing_field")
        comment.body = body
        comment.updated_at = self.clock.now()

    def comment_by_id(self, comment_id: int) -> tuple[Repo, Issue, Comment]:
        for repo in self.repos.values():
            for issue in repo.issues.values():
                for comment in issue.comments:
                    if comment.id == comment_id:
                        return repo, issue, comment
        raise not_found()

    def add_reaction(
        self, reactions: list[Reaction], user: User, content: str
    ) -> tuple[Reaction, bool]:
        """The reaction, and whether it is new (GitHub answers 200 for an existing one)."""
        if content not in REACTIONS:
            raise validation_failed("Reaction", "content")
        for reaction in reactions:
            if reaction.user == user and reaction.content == content:
                return reaction, False
        reaction = Reaction(self.next_id("reaction"), content, user, self.clock.now())
        reactions.append(reaction)
        return reaction, True

    # -- pull requests ---------------------------------------------------------------------

    def create_pull(
        self,
        repo: Repo,
        user: User,
        *,
        head: str,
        base: str,
        title: str,
        body: str | None = None,
        draft: bool = False,
    ) -> Issue:
        owner, _, branch = head.rpartition(":")
        if owner and owner.lower() != repo.owner.login.lower():
            raise validation_failed("PullRequest", "head")
        head_sha = repo.git.ref(f"refs/heads/{branch}")
        if head_sha is None:
            raise validation_failed("PullRequest", "head")
        base_sha = repo.git.ref(f"refs/heads/{base}")
        if base_sha is None:
            raise validation_failed("PullRequest", "base")
        if not title:
            raise validation_failed("PullRequest", "title", "missing_field")
        for issue in repo.pulls():
            assert issue.pull is not None
            if issue.state == "open" and issue.pull.head_ref == branch:
                message = f"A pull request already exists for {repo.owner.login}:{branch}."
                raise validation_failed("PullRequest", code="custom", message=message)
        if repo.git.merge_base(base_sha, head_sha) is None:
            message = f"The {branch} branch has no history in common with {base}"
            raise validation_failed("PullRequest", code="custom", message=message)
        if repo.git.is_ancestor(head_sha, base_sha):
            message = f"No commits between {base} and {branch}"
            raise validation_failed("PullRequest", code="custom", message=message)
        issue = self.create_issue(repo, user, title, body)
        issue.pull = Pull(self.next_id("pull"), branch, base, head_sha, base_sha, draft=draft)
        self._start_mergeability(issue.pull)
        return issue

    def update_pull(
        self,
        repo: Repo,
        issue: Issue,
        user: User,
        *,
        title: str | None = None,
        body: str | None = None,
        state: str | None = None,
        base: str | None = None,
    ) -> None:
        pull = _pull(issue)
        if base is not None and base != pull.base_ref:
            if issue.state != "open":
                raise validation_failed(
                    "PullRequest",
                    "base",
                    "custom",
                    "Cannot change the base branch of a closed pull request.",
                )
            base_sha = repo.git.ref(f"refs/heads/{base}")
            if base_sha is None:
                raise validation_failed("PullRequest", "base")
            if repo.git.is_ancestor(pull.head_sha, base_sha):
                message = (
                    f"There are no new commits between base branch '{base}' and head branch "
                    f"'{pull.head_ref}'."
                )
                raise validation_failed("PullRequest", "base", "custom", message)
            pull.base_ref = base
            pull.base_sha = base_sha
            self._start_mergeability(pull)
        self.update_issue(repo, issue, user, title=title, body=body, state=state)

    def pull_commits(self, repo: Repo, issue: Issue) -> list[str]:
        """The pull request's commits, oldest first (base..head). One merged with a merge
        commit keeps those it had against the base it was merged into (squash and rebase copy
        the commits, so the base never holds the originals)."""
        pull = _pull(issue)
        base = repo.git.ref(f"refs/heads/{pull.base_ref}") or pull.base_sha
        if pull.merged and pull.merge_commit_sha:
            parents = repo.git.commit_info(pull.merge_commit_sha).parents
            if len(parents) == 2 and parents[1] == pull.head_sha:
                base = parents[0]
        excluded = set(repo.git.ancestors(base))
        return [c for c in reversed(repo.git.ancestors(pull.head_sha)) if c not in excluded]

    def mergeability(self, repo: Repo, issue: Issue) -> Mergeability:
        """What GitHub computes for the pull request's recorded head. Clients see it late
        (``observe_pull``); GitHub's own auto-merge acts on it at once."""
        pull = _pull(issue)
        if issue.state != "open":
            return UNKNOWN_MERGEABILITY
        base = repo.git.ref(f"refs/heads/{pull.base_ref}")
        if base is None:
            return UNKNOWN_MERGEABILITY
        tree = self._test_merge(repo, base, pull.head_sha)
        if tree is None:
            return Mergeability(False, "dirty", None, NOT_MERGEABLE)
        state, reason = merge_state(self._merge_facts(repo, issue, base))
        return Mergeability(True, state, tree, reason)

    def _test_merge(self, repo: Repo, base: str, head: str) -> str | None:
        """The tree merging ``head`` into ``base`` gives; None on a conflict."""
        git = repo.git
        merge_base = git.merge_base(base, head)
        if merge_base is None:
            return None
        if merge_base == base:
            return git.commit_info(head).tree
        if merge_base == head:
            return git.commit_info(base).tree
        merged, conflicts = merge_trees(
            git.flat_tree(git.commit_info(merge_base).tree),
            git.flat_tree(git.commit_info(base).tree),
            git.flat_tree(git.commit_info(head).tree),
        )
        return None if conflicts else git.write_tree(merged)

    def _merge_facts(self, repo: Repo, issue: Issue, base: str) -> MergeFacts:
        pull = _pull(issue)
        protection = self._protection(repo, pull)
        required = self.required_checks(repo, pull)
        checks = repo.checks.get(pull.head_sha, {})
        statuses = {s.context_key: s.state for s in self.latest_statuses(repo, pull.head_sha)}
        required_keys = {context.lower() for context in required}
        reviews_required = protection is not None and protection.reviews_required

        def reported(context: str) -> str | None:
            # A check run and a commit status of a required name are both required.
            found = (checks.get(context), statuses.get(context.lower()))
            return context_state([state for state in found if state is not None])

        return MergeFacts(
            draft=pull.draft,
            required=tuple((context, reported(context)) for context in required),
            optional=(
                *(state for context, state in checks.items() if context not in required),
                *(state for key, state in statuses.items() if key not in required_keys),
            ),
            review_blockers=self._review_blockers(repo, issue) if reviews_required else (),
            behind=protection is not None
            and protection.strict
            and not repo.git.is_ancestor(base, pull.head_sha),
            hooks=repo.settings.pre_receive_hooks,
        )

    def _protection(self, repo: Repo, pull: Pull) -> Protection | None:
        """The branch protection that applies: the sandbox protects only the default branch."""
        return repo.protection if pull.base_ref == repo.default_branch else None

    def required_checks(self, repo: Repo, pull: Pull) -> list[str]:
        """The check contexts a merge of this pull request waits for."""
        return self.required_contexts(repo) if self._protection(repo, pull) else []

    def required_contexts(self, repo: Repo) -> list[str]:
        """The default branch's required checks (``require_checks`` adds ``ci``)."""
        contexts = list(repo.protection.required_status_checks)
        if repo.settings.require_checks and REQUIRED_CHECK not in contexts:
            contexts.append(REQUIRED_CHECK)
        return contexts

    def pull_files(
        self, repo: Repo, issue: Issue
    ) -> dict[str, tuple[FileEntry | None, FileEntry | None]]:
        """The files the pull request changes: its head against the merge base."""
        pull = _pull(issue)
        git = repo.git
        base = git.ref(f"refs/heads/{pull.base_ref}") or pull.base_sha
        merge_base = git.merge_base(base, pull.head_sha) or base
        return diff_trees(
            git.flat_tree(git.commit_info(merge_base).tree),
            git.flat_tree(git.commit_info(pull.head_sha).tree),
        )

    def merge_pull(
        self,
        repo: Repo,
        issue: Issue,
        user: User,
        *,
        sha: str | None = None,
        method: str = "merge",
        title: str | None = None,
        message: str | None = None,
    ) -> str:
        pull = _pull(issue)
        if method not in MERGE_METHODS:
            raise validation_failed("PullRequest", "merge_method")
        refusal = self._method_refusal(repo, method)
        if refusal:
            raise SandboxError(405, refusal)
        # A merge attempt reads the pull request like any other request does.
        self._advance_head(repo, issue)
        if issue.state != "open":
            raise SandboxError(405, NOT_MERGEABLE)
        if pull.draft:
            raise SandboxError(405, DRAFT_TEXT)
        if sha is not None and sha != pull.head_sha:
            raise SandboxError(409, HEAD_MODIFIED)
        if pull.pending_head is not None:
            # The branch moved on and the pull request has not caught up with it yet.
            raise SandboxError(409, OUT_OF_DATE_TEXT)
        if self.base_modified_merges > 0:
            self.base_modified_merges -= 1
            raise SandboxError(405, BASE_MODIFIED)
        state = self._read_mergeability(repo, issue)
        if state.state in ("blocked", "behind"):
            raise SandboxError(405, state.blocked_reason)
        if state.state not in MERGEABLE_STATES or state.tree is None:
            raise SandboxError(405, NOT_MERGEABLE)
        return self._merge(repo, issue, user, method, state.tree, title, message)

    def _method_refusal(self, repo: Repo, method: str) -> str:
        allowed, label = {
            "merge": (repo.settings.allow_merge_commit, "Merge commits"),
            "squash": (repo.settings.allow_squash_merge, "Squash merges"),
            "rebase": (repo.settings.allow_rebase_merge, "Rebase merges"),
        }[method]
        return "" if allowed else f"{label} are not allowed on this repository."

    def _merge(
        self,
        repo: Repo,
        issue: Issue,
        user: User,
        method: str,
        tree: str,
        title: str | None,
        message: str | None,
    ) -> str:
        pull = _pull(issue)
        base = self.branch_head(repo, pull.base_ref)
        commits = self.pull_commits(repo, issue)
        merger = Signature(user.login, user.email, self.clock.now())
        if method == "merge":
            headline = title or (
                f"Merge pull request #{issue.number} from {repo.owner.login}/{pull.head_ref}"
            )
            body = issue.title if message is None else message
            parents = [base, pull.head_sha]
        else:
            # GitHub's squash default: the title with the number, the commit headlines as body.
            headline = title or f"{issue.title} (#{issue.number})"
            if message is None:
                infos = [repo.git.commit_info(c) for c in commits]
                body = (
                    "\n\n".join(f"* {i.headline}" for i in infos)
                    if len(infos) > 1
                    else (infos[0].body if infos else "")
                )
            else:
                body = message
            parents = [base]
            merger = Signature(issue.user.login, issue.user.email, self.clock.now())
        full_message = f"{headline}\n\n{body}" if body else headline
        if method == "rebase":
            sha = self._rebase(repo, base, commits, merger)
        else:
            sha = repo.git.commit(tree, parents, full_message, merger, self.web_flow_signature())
        now = self.clock.now()
        pull.merged, pull.merged_at, pull.merged_by, pull.merge_commit_sha = True, now, user, sha
        pull.auto_merge = None
        self._close(issue, user)
        self._move_ref(repo, f"refs/heads/{pull.base_ref}", sha)
        if repo.settings.delete_branch_on_merge and repo.git.ref(f"refs/heads/{pull.head_ref}"):
            # GitHub retargets the open pull requests stacked on the merged branch to its base
            # before deleting it (cli/cli#14223 quotes the docs); deleting it by hand closes them.
            for other in repo.pulls():
                stacked = other.pull
                if other.state == "open" and stacked and stacked.base_ref == pull.head_ref:
                    self.update_pull(repo, other, user, base=pull.base_ref)
            self.delete_ref(repo, f"refs/heads/{pull.head_ref}")
        return sha

    def _rebase(self, repo: Repo, base: str, commits: list[str], committer: Signature) -> str:
        """Replay each commit's file changes onto the base, keeping their authors and messages."""
        git = repo.git
        head = base
        for sha in commits:
            info = git.commit_info(sha)
            parent_tree = git.commit_info(info.parents[0]).tree if info.parents else None
            before = git.flat_tree(parent_tree) if parent_tree else {}
            merged, _ = merge_trees(
                before, git.flat_tree(git.commit_info(head).tree), git.flat_tree(info.tree)
            )
            tree = git.write_tree(merged)
            head = git.commit(tree, [head], info.message, info.author, committer)
        return head

    def enable_auto_merge(
        self,
        repo: Repo,
        issue: Issue,
        user: User,
        *,
        method: str = "merge",
        title: str | None = None,
        message: str | None = None,
        expected_head: str | None = None,
    ) -> None:
        pull = _pull(issue)
        if not repo.settings.allow_auto_merge:
            raise SandboxError(422, "Pull request Auto merge is not allowed for this repository")
        self._advance_head(repo, issue)
        if issue.state != "open":
            raise SandboxError(422, "Pull request Pull request is closed")
        refusal = self._method_refusal(repo, method) if method in MERGE_METHODS else ""
        if refusal:
            raise SandboxError(422, f"Pull request {refusal}")
        if expected_head is not None and expected_head != pull.head_sha:
            raise SandboxError(422, f"Pull request {HEAD_MODIFIED}")
        if pull.draft:
            raise SandboxError(422, "Pull request Pull request is in draft state")
        state = self._read_mergeability(repo, issue)
        # GitHub enables auto-merge only on a pull request that has something to wait for; it
        # answers "unstable" while it is still computing mergeability.
        shown = {"unknown": "unstable"}.get(state.state, state.state)
        if shown in ("clean", "unstable", "dirty", "has_hooks"):
            raise SandboxError(422, f"Pull request Pull request is in {shown} status")
        headline = title or (
            f"{issue.title} (#{issue.number})"
            if method == "squash"
            else f"Merge pull request #{issue.number} from {repo.owner.login}/{pull.head_ref}"
        )
        pull.auto_merge = AutoMerge(user, method, headline, message or "", self.clock.now())
        issue.updated_at = self.clock.now()

    def disable_auto_merge(self, issue: Issue) -> None:
        _pull(issue).auto_merge = None
        issue.updated_at = self.clock.now()

    def _settle(self, repo: Repo) -> None:
        """Merge every pull request whose auto-merge conditions (checks, reviews) now hold."""
        for issue in repo.pulls():
            pull = issue.pull
            assert pull is not None
            auto = pull.auto_merge
            if issue.state != "open" or auto is None or pull.pending_head is not None:
                continue
            if self._method_refusal(repo, auto.method):
                continue
            state = self.mergeability(repo, issue)
            if state.state in MERGEABLE_STATES and state.tree is not None:
                self._merge(
                    repo,
                    issue,
                    auto.enabled_by,
                    auto.method,
                    state.tree,
                    auto.commit_title,
                    auto.commit_message or None,
                )

    def request_reviewers(
        self,
        repo: Repo,
        issue: Issue,
        users: Iterable[User],
        teams: Iterable[str],
        *,
        replace: bool = False,
    ) -> None:
        pull = _pull(issue)
        if replace:
            pull.requested_reviewers.clear()
            pull.requested_teams.clear()
        for user in users:
            if user == issue.user:
                raise validation_failed(
                    "PullRequest",
                    code="custom",
                    message="Review cannot be requested from pull request author.",
                )
            if self.role(repo, user.login) is None:
                raise validation_failed(
                    "PullRequest",
                    code="custom",
                    message="Reviews may only be requested from collaborators. One or more of "
                    "the users or teams you specified is not a collaborator of the "
                    f"{repo.full_name} repository.",
                )
            if user not in pull.requested_reviewers:
                pull.requested_reviewers.append(user)
        for team in teams:
            if team not in pull.requested_teams:
                pull.requested_teams.append(team)
        issue.updated_at = self.clock.now()

    # -- checks, workflow runs -------------------------------------------------------------

    def set_check(
        self, repo: Repo, sha: str, conclusion: str, context: str = REQUIRED_CHECK
    ) -> None:
        """A check run ``context`` on a commit finished or is ``pending`` (set by the control
        API; commit statuses are ``create_status``)."""
        if conclusion not in CHECK_STATES:
            raise SandboxError(422, f"conclusion must be one of {', '.join(CHECK_STATES)}")
        if not context.strip():
            raise SandboxError(422, "context must not be empty")
        repo.checks.setdefault(sha, {})[context] = conclusion
        self._settle(repo)

    # -- commit statuses -------------------------------------------------------------------

    def create_status(
        self,
        repo: Repo,
        sha: str,
        state: str,
        creator: User,
        *,
        context: str = "default",
        description: str | None = None,
        target_url: str | None = None,
    ) -> CommitStatus:
        """A commit status, refused as GitHub refuses it: an unknown state, a description over
        140 characters, a ``sha`` that is not a full SHA, a commit the repository lacks, the
        1001st status of one context (contexts compare case-insensitively)."""
        if state not in STATUS_STATES:
            raise validation_failed(
                "Status", "state", "custom", "state is not included in the list"
            )
        if description is not None and len(description) > STATUS_DESCRIPTION_LIMIT:
            raise validation_failed(
                "Status",
                "description",
                "custom",
                f"description is too long (maximum is {STATUS_DESCRIPTION_LIMIT} characters)",
            )
        if not _FULL_SHA.match(sha):
            raise validation_failed("Status", "sha", "custom", "sha must be a 40 character SHA1")
        sha = sha.lower()
        if repo.git.object_type(sha) != "commit":
            raise SandboxError(422, f"No commit found for SHA: {sha}")
        key = context.lower()
        if sum(1 for s in repo.statuses if s.sha == sha and s.context_key == key) >= STATUS_LIMIT:
            raise validation_failed(
                "Status",
                code="custom",
                message="This SHA and context has reached the maximum number of statuses.",
            )
        status = CommitStatus(
            id=self.next_id("status"),
            sha=sha,
            state=state,
            context=context,
            description=description,
            target_url=target_url,
            creator=creator,
            created_at=self.clock.now(),
        )
        repo.statuses.append(status)
        self._settle(repo)
        return status

    def statuses_for(self, repo: Repo, sha: str) -> list[CommitStatus]:
        """Every status of a commit, newest first (REST ``GET .../commits/{ref}/statuses``)."""
        return [s for s in reversed(repo.statuses) if s.sha == sha]

    def latest_statuses(self, repo: Repo, sha: str) -> list[CommitStatus]:
        """The latest status of each context of a commit, oldest context first (the order of
        the combined status in GitHub's recorded answer)."""
        latest: dict[str, CommitStatus] = {}
        for status in self.statuses_for(repo, sha):
            latest.setdefault(status.context_key, status)
        return sorted(latest.values(), key=lambda s: s.id)

    def check_states(self, repo: Repo, sha: str) -> list[str]:
        """What a commit's status checks say: its check runs and its latest statuses."""
        return [
            *repo.checks.get(sha, {}).values(),
            *(status.state for status in self.latest_statuses(repo, sha)),
        ]

    # -- branch protection, reviews ----------------------------------------------------------

    def set_protection(self, repo: Repo, protection: Protection) -> None:
        if not 0 <= protection.required_approving_review_count <= 6:
            raise SandboxError(
                422, "required_approving_review_count must be a number between 0 and 6"
            )
        repo.protection = protection
        self._settle(repo)

    def can_write(self, repo: Repo, user: User) -> bool:
        return user in (repo.owner, self.bot) or self.role(repo, user.login) in WRITE_ROLES

    def _can_read(self, repo: Repo, user: User) -> bool:
        return (
            not repo.private or user in (repo.owner, self.bot) or bool(self.role(repo, user.login))
        )

    def submit_review(
        self,
        repo: Repo,
        issue: Issue,
        user: User,
        *,
        event: str | None,
        body: str | None = None,
        commit_id: str | None = None,
    ) -> Review:
        """A review: ``event`` APPROVE, REQUEST_CHANGES or COMMENT; None leaves it PENDING."""
        pull = _pull(issue)
        if event is not None and event not in REVIEW_EVENTS:
            raise validation_failed("PullRequestReview", "event")
        if not self._can_read(repo, user):
            raise not_found()
        if user == issue.user and event == "APPROVE":
            raise ReviewRefused("Can not approve your own pull request")
        if user == issue.user and event == "REQUEST_CHANGES":
            raise ReviewRefused("Can not request changes on your own pull request")
        if event is None and any(r.user == user and r.state == PENDING for r in pull.reviews):
            raise ReviewRefused("User can only have one pending review per pull request")
        commit = commit_id or pull.head_sha
        if repo.git.object_type(commit) != "commit":
            raise validation_failed("PullRequestReview", "commit_id")
        now = self.clock.now()
        review = Review(
            id=self.next_id("review"),
            user=user,
            state=REVIEW_EVENTS[event] if event is not None else PENDING,
            body=body or "",
            commit_id=commit,
            submitted_at=None if event is None else now,
        )
        pull.reviews.append(review)
        if event is not None and user in pull.requested_reviewers:
            pull.requested_reviewers.remove(user)
        issue.updated_at = now
        self._settle(repo)
        return review

    def review_by_id(self, review_id: int) -> tuple[Repo, Issue, Review]:
        for repo in self.repos.values():
            for issue in repo.pulls():
                assert issue.pull is not None
                for review in issue.pull.reviews:
                    if review.id == review_id:
                        return repo, issue, review
        raise not_found()

    def _review_states(self, repo: Repo, issue: Issue) -> dict[str, str]:
        """Each write-access reviewer's latest review that counts (comments and pending reviews
        do not replace an approval; a dismissed one no longer counts)."""
        latest: dict[str, str] = {}
        for review in _pull(issue).reviews:
            if review.state in (APPROVED, CHANGES_REQUESTED, DISMISSED) and self.can_write(
                repo, review.user
            ):
                latest[review.user.login.lower()] = review.state
        return {login: state for login, state in latest.items() if state != DISMISSED}

    def _review_blockers(self, repo: Repo, issue: Issue) -> tuple[str, ...]:
        protection = repo.protection
        owner_sets = self._owner_sets(repo, issue) if protection.require_code_owner_reviews else ()
        return review_blockers(
            self._review_states(repo, issue),
            protection.required_approving_review_count,
            owner_sets,
        )

    def review_decision(self, repo: Repo, issue: Issue) -> str | None:
        protection = self._protection(repo, _pull(issue))
        required = protection is not None and protection.reviews_required
        blockers = self._review_blockers(repo, issue) if required else ()
        return review_decision(required, self._review_states(repo, issue), blockers)

    def _owner_sets(self, repo: Repo, issue: Issue) -> tuple[tuple[Owner, ...], ...]:
        """For each file the pull request changes that has code owners, those owners."""
        base = repo.git.ref(f"refs/heads/{_pull(issue).base_ref}")
        rules = self.codeowners(repo, base) if base else ()
        sets: list[tuple[Owner, ...]] = []
        for path in sorted(self.pull_files(repo, issue)):
            owners = tuple(
                owner
                for owner in (self._owner(repo, token) for token in owners_of(rules, path))
                if owner is not None
            )
            if owners and owners not in sets:
                sets.append(owners)
        return tuple(sets)

    def codeowners(self, repo: Repo, sha: str) -> tuple[OwnerRule, ...]:
        """The CODEOWNERS rules at a commit (GitHub reads them from the base branch)."""
        tree = repo.git.commit_info(sha).tree
        for path in CODEOWNERS_PATHS:
            entry = repo.git.lookup(tree, path)
            if entry is not None and entry.type == "blob":
                return parse_codeowners(repo.git.blob(entry.sha).decode("utf-8", "replace"))
        return ()

    def _owner(self, repo: Repo, token: str) -> Owner | None:
        """A code owner that counts: an account with write access. Teams are not modelled (the
        sandbox's accounts are users), so team owners are left out like any invalid owner."""
        if "/" in token:
            return None
        if "@" in token:
            user = next((u for u in self.users.values() if u.email == token), None)
        else:
            user = self.users.get(token.lower())
        if user is None or not self.can_write(repo, user):
            return None
        return Owner(user.login, user.login.lower())

    def workflow(self, repo: Repo, name: str, path: str | None = None) -> Workflow:
        """The workflow file at ``path`` (by default named after ``name``). Workflows are
        files: two files may share one ``name:``, as on GitHub."""
        slug = "-".join(name.lower().split())
        path = path or f".github/workflows/{slug}.yml"
        if path not in repo.workflows:
            repo.workflows[path] = Workflow(self.next_id("workflow"), name, path, self.clock.now())
        return repo.workflows[path]

    def find_workflow(self, repo: Repo, key: str) -> Workflow:
        for workflow in repo.workflows.values():
            if key in (str(workflow.id), workflow.path.rsplit("/", 1)[-1], workflow.path):
                return workflow
        raise not_found()

    def add_run(
        self,
        repo: Repo,
        *,
        workflow: str,
        head_sha: str,
        conclusion: str | None,
        status: str | None = None,
        head_branch: str | None = None,
        event: str = "push",
        head_repo: Repo | None = None,
        actor: User | None = None,
        workflow_path: str | None = None,
    ) -> WorkflowRun:
        if conclusion is not None and conclusion not in CONCLUSIONS:
            raise SandboxError(422, f"conclusion must be one of {', '.join(CONCLUSIONS)} or null")
        source = head_repo or repo
        if source.git.object_type(head_sha) != "commit":
            raise SandboxError(422, f"No commit found for SHA: {head_sha}")
        flow = self.workflow(repo, workflow, workflow_path)
        now = self.clock.now()
        number = sum(1 for r in repo.runs if r.workflow == flow) + 1
        run = WorkflowRun(
            id=self.next_id("run"),
            workflow=flow,
            run_number=number,
            head_sha=head_sha,
            head_branch=head_branch if head_branch is not None else repo.default_branch,
            event=event,
            status=status or ("completed" if conclusion else "in_progress"),
            conclusion=conclusion,
            actor=actor or repo.owner,
            head_repo=source,
            display_title=source.git.commit_info(head_sha).headline,
            created_at=now,
            updated_at=now,
        )
        repo.runs.append(run)
        return run

    def dispatch(
        self, repo: Repo, workflow_key: str, ref: str, inputs: Mapping[str, str]
    ) -> Dispatch:
        flow = self.find_workflow(repo, workflow_key)
        branch = ref.removeprefix("refs/heads/")
        sha = repo.git.ref(f"refs/heads/{branch}")
        if sha is None:
            raise SandboxError(422, f"No ref found for: {ref}")
        run = self.add_run(
            repo,
            workflow=flow.name,
            head_sha=sha,
            conclusion=None,
            status="queued",
            head_branch=branch,
            event="workflow_dispatch",
            actor=self.bot,
        )
        dispatch = Dispatch(run, f"refs/heads/{branch}", dict(inputs))
        repo.dispatches.append(dispatch)
        return dispatch

    # -- request log -----------------------------------------------------------------------

    def record(self, record: RequestRecord) -> None:
        with self.lock:
            self._requests.append(record)

    def requests(self) -> list[RequestRecord]:
        with self.lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self.lock:
            self._requests.clear()


def _pull(issue: Issue) -> Pull:
    if issue.pull is None:
        raise not_found()
    return issue.pull


def _check_ref_name(name: str) -> None:
    if not name.startswith("refs/") or name.count("/") < 2 or name.endswith("/"):
        raise SandboxError(
            422, "Reference name must start with 'refs/' and have at least two slashes."
        )
    if any(bad in name for bad in ("..", " ", "~", "^", ":", "\\", "@{")) or name.endswith(".lock"):
        raise SandboxError(422, f"{name} is not a valid ref name.")
