"""``Sandbox``: the state of the simulated GitHub and every change GitHub would allow to it.

REST, GraphQL, the control API and the seed all go through these methods, so a refusal (a stale
head, a non-fast-forward, an existing pull request) is decided in one place for every client.
Callers hold ``sandbox.lock`` around a whole request; the lock is re-entrant so methods can
call each other.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence

from scoutflow_gitops.sandbox.access import Access
from scoutflow_gitops.sandbox.gitstore import GitError, Signature, merge_trees
from scoutflow_gitops.sandbox.model import (
    BOT_LOGIN,
    REACTIONS,
    REQUIRED_CHECK,
    ROLES,
    ZERO_OID,
    AutoMerge,
    Clock,
    Comment,
    Dispatch,
    Issue,
    Label,
    Mergeability,
    Pull,
    Reaction,
    RefUpdate,
    Repo,
    RequestRecord,
    SandboxError,
    User,
    UserType,
    Workflow,
    WorkflowRun,
    not_found,
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
    def __init__(self, clock: Clock | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = clock or Clock()
        self._ids: dict[str, Iterator[int]] = {}
        self.users: dict[str, User] = {}
        self.repos: dict[str, Repo] = {}
        self.bot = self._add_user(BOT_LOGIN, "Bot")
        self._requests: list[RequestRecord] = []
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

    def user(self, login: str) -> User:
        """The account with this login; GitHub has one for every login the sandbox meets."""
        return self.users.get(login.lower()) or self._add_user(login)

    def user_by_id(self, user_id: int) -> User:
        for user in self.users.values():
            if user.id == user_id:
                return user
        raise not_found(f"Could not resolve to a User with the id {user_id}")

    def bot_signature(self) -> Signature:
        return Signature(self.bot.login, self.bot.email, self.clock.now())

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
        branch = name.removeprefix("refs/heads/")
        sha = repo.git.ref(name)
        now = self.clock.now()
        for issue in repo.pulls():
            pull = issue.pull
            assert pull is not None
            if issue.state != "open" or branch not in (pull.head_ref, pull.base_ref):
                continue
            if sha is None:
                self._close(issue, self.bot)
            elif branch == pull.head_ref and pull.head_sha != sha:
                pull.head_sha = sha
                issue.updated_at = now
            elif branch == pull.base_ref:
                pull.base_sha = sha
        self._settle(repo)

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
        if body is not None:
            issue.body = body
        if state == "closed" and issue.state == "open":
            self._close(issue, user)
        elif state == "open" and issue.state == "closed":
            if issue.pull is not None and issue.pull.merged:
                raise validation_failed(
                    "PullRequest", "state", "custom", "Cannot reopen a merged pull request."
                )
            issue.state, issue.closed_at, issue.closed_by = "open", None, None
        elif state not in (None, "open", "closed"):
            raise validation_failed("Issue", "state")
        issue.updated_at = self.clock.now()
        self._settle(repo)

    def _close(self, issue: Issue, user: User) -> None:
        issue.state = "closed"
        issue.closed_at = issue.updated_at = self.clock.now()
        issue.closed_by = user
        if issue.pull is not None:
            issue.pull.auto_merge = None

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
            pull.base_ref = base
            base_sha = repo.git.ref(f"refs/heads/{base}")
            if base_sha is None:
                raise validation_failed("PullRequest", "base")
            pull.base_sha = base_sha
        self.update_issue(repo, issue, user, title=title, body=body, state=state)

    def pull_commits(self, repo: Repo, issue: Issue) -> list[str]:
        """The pull request's commits, oldest first (base..head)."""
        pull = _pull(issue)
        base = repo.git.ref(f"refs/heads/{pull.base_ref}") or pull.base_sha
        excluded = set(repo.git.ancestors(base))
        return [c for c in reversed(repo.git.ancestors(pull.head_sha)) if c not in excluded]

    def mergeability(self, repo: Repo, issue: Issue) -> Mergeability:
        pull = _pull(issue)
        if issue.state != "open":
            return Mergeability(None, "unknown", None)
        base = repo.git.ref(f"refs/heads/{pull.base_ref}")
        if base is None:
            return Mergeability(None, "unknown", None)
        git = repo.git
        merge_base = git.merge_base(base, pull.head_sha)
        if merge_base is None:
            return Mergeability(False, "dirty", None)
        if merge_base == base:
            tree = git.commit_info(pull.head_sha).tree
        elif merge_base == pull.head_sha:
            tree = git.commit_info(base).tree
        else:
            merged, conflicts = merge_trees(
                git.flat_tree(git.commit_info(merge_base).tree),
                git.flat_tree(git.commit_info(base).tree),
                git.flat_tree(git.commit_info(pull.head_sha).tree),
            )
            if conflicts:
                return Mergeability(False, "dirty", None)
            tree = git.write_tree(merged)
        if pull.draft:
            return Mergeability(True, "draft", tree)
        if repo.settings.require_checks:
            conclusion = repo.checks.get(pull.head_sha)
            if conclusion != "success":
                verb = "is expected" if conclusion is None else "is failing"
                reason = f'Required status check "{REQUIRED_CHECK}" {verb}.'
                return Mergeability(True, "blocked", tree, reason)
        return Mergeability(True, "clean", tree)

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
        allowed = {
            "merge": (repo.settings.allow_merge_commit, "Merge commits"),
            "squash": (repo.settings.allow_squash_merge, "Squash merges"),
            "rebase": (repo.settings.allow_rebase_merge, "Rebase merges"),
        }[method]
        if not allowed[0]:
            raise SandboxError(405, f"{allowed[1]} are not allowed on this repository.")
        if issue.state != "open":
            raise SandboxError(405, "Pull Request is not mergeable")
        if sha is not None and sha != pull.head_sha:
            raise SandboxError(409, "Head branch was modified. Review and try the merge again.")
        state = self.mergeability(repo, issue)
        if state.state == "blocked":
            raise SandboxError(405, state.blocked_reason)
        if state.state != "clean" or state.tree is None:
            raise SandboxError(405, "Pull Request is not mergeable")
        return self._merge(repo, issue, user, method, state.tree, title, message)

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
        if issue.state != "open":
            raise SandboxError(422, "Pull request Pull request is closed")
        if expected_head is not None and expected_head != pull.head_sha:
            raise SandboxError(
                422, "Pull request Head branch was modified. Review and try the merge again."
            )
        state = self.mergeability(repo, issue)
        if state.state == "clean":
            raise SandboxError(422, "Pull request Pull request is in clean status")
        if state.state == "draft":
            raise SandboxError(422, "Pull request Pull request is in draft state")
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
        """Merge every pull request whose auto-merge conditions now hold."""
        for issue in repo.pulls():
            pull = issue.pull
            assert pull is not None
            if issue.state != "open" or pull.auto_merge is None:
                continue
            state = self.mergeability(repo, issue)
            if state.state == "clean" and state.tree is not None:
                auto = pull.auto_merge
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

    def set_check(self, repo: Repo, sha: str, conclusion: str) -> None:
        if conclusion not in CONCLUSIONS:
            raise SandboxError(422, f"conclusion must be one of {', '.join(CONCLUSIONS)}")
        repo.checks[sha] = conclusion
        self._settle(repo)

    def workflow(self, repo: Repo, name: str, path: str | None = None) -> Workflow:
        if name not in repo.workflows:
            slug = "-".join(name.lower().split())
            path = path or f".github/workflows/{slug}.yml"
            repo.workflows[name] = Workflow(self.next_id("workflow"), name, path, self.clock.now())
        return repo.workflows[name]

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
    ) -> WorkflowRun:
        if conclusion is not None and conclusion not in CONCLUSIONS:
            raise SandboxError(422, f"conclusion must be one of {', '.join(CONCLUSIONS)} or null")
        source = head_repo or repo
        if source.git.object_type(head_sha) != "commit":
            raise SandboxError(422, f"No commit found for SHA: {head_sha}")
        flow = self.workflow(repo, workflow)
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
