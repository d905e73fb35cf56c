"""The GitHub adapter: the only module that imports PyGithub.

Reads are batched into as few GraphQL documents as the decision allows; every write is guarded
(compare-and-swap on refs, the commit's and the merge's expected head). REST is used where
GraphQL has no equivalent (workflow runs, compare, label creation).
"""

from __future__ import annotations

import base64
import contextlib
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import jwt
import requests
from github import Auth, Github, GithubException

from scoutflow_gitops import messages
from scoutflow_gitops.approval import PullFacts, Review
from scoutflow_gitops.config import BOT_BRANCH_PREFIX, HOLDS_DIR, QUARANTINE_DIR, MergeMethod
from scoutflow_gitops.errors import UserError
from scoutflow_gitops.model import (
    BotBranch,
    Commit,
    Comparison,
    FilesAndHistory,
    FileVersion,
    GitopsState,
    MergeSettings,
    PullRequest,
    PullRequestStatus,
    WorkflowRun,
)
from scoutflow_gitops.port import (
    ConflictError,
    MergeAnswer,
    Published,
    PublishRequest,
)
from scoutflow_gitops.retry import SERVER_ERRORS, Failure, Retrier, RetryableError

T = TypeVar("T")
ZERO_OID = "0" * 40
USER_AGENT = "scoutflow-gitops"
# GitHub returns at most 1,000 runs for a `head_sha` search (OpenAPI: "List workflow runs for
# a repository"): ten pages of 100.
MAX_RUN_PAGES = 10
COMPARE_PAGE = 100
# GitHub's 404 for comparing histories that share no commit ("No common ancestor between
# <base> and <head>."), as opposed to its plain "Not Found".
NO_COMMON_ANCESTOR = "no common ancestor"
# GitHub's 403 on the collaborator permission endpoint for a token without push access.
PUSH_ACCESS = "must have push access"
RATE_LIMITED = frozenset({"RATE_LIMITED", "RATE_LIMIT"})
_LINK_RE = re.compile(r'<([^>]+)>\s*;\s*rel="([^"]+)"')
_VARIABLE_TYPES = {"commit": "GitObjectID!", "rev": "GitObjectID!", "depth": "Int!"}
# Transient server errors are retried with backoff on idempotent requests.

_PR_FIELDS = (
    "id number url headRefName headRefOid baseRefName title body state "
    "labels(first: 50) { nodes { name } } "
    "reviewRequests(first: 1) { totalCount }"
)
# Open PRs read per bot branch: a writer may open PRs from it into other bases, and only the
# one into the default branch is the bot's (GitHub allows one open PR per head and base).
BRANCH_PRS = 5
_COMMIT_FIELDS = "oid messageHeadline url author { name user { login } }"

# A quarantine record is named after its full SHA; anything else in the directory is not one.
SHA_FILE = re.compile(r"\A[0-9a-f]{40}\Z")

STATE_QUERY = f"""
query GitopsState($owner: String!, $name: String!, $configPath: String!, $holds: String!,
                  $quarantine: String!, $prefix: String!) {{
  repository(owner: $owner, name: $name) {{
    id
    autoMergeAllowed squashMergeAllowed mergeCommitAllowed rebaseMergeAllowed
    labels(first: 100) {{ nodes {{ id name }} }}
    defaultBranchRef {{
      name
      target {{
        oid
        ... on Commit {{
          config: file(path: $configPath) {{ object {{ ... on Blob {{ text isBinary }} }} }}
          holds: file(path: $holds) {{ object {{ ... on Tree {{ entries {{ name }} }} }} }}
          quarantine: file(path: $quarantine) {{
            object {{ ... on Tree {{ entries {{ name }} }} }}
          }}
        }}
      }}
    }}
    refs(refPrefix: $prefix, first: 100) {{
      nodes {{
        name
        target {{ oid }}
        associatedPullRequests(states: OPEN, first: {BRANCH_PRS}) {{ nodes {{ {_PR_FIELDS} }} }}
      }}
    }}
  }}
}}
"""

# Merge status fields of a PR. ``headRefOid`` follows the branch with a delay after a push, so
# the branch's own tip is read beside it.
_MERGE_FIELDS = (
    "headRef { target { oid } } mergeStateStatus mergeable isDraft autoMergeRequest { enabledAt }"
)
PULL_REQUEST_QUERY = f"""
query PullRequestStatus($id: ID!) {{
  node(id: $id) {{ ... on PullRequest {{ state headRefOid {_MERGE_FIELDS} }} }}
}}
"""

# What the four-eyes check weighs: who opened the PR and last edited its body, who wrote its
# commits, and every reviewer's verdicts with the head each was given on. One request.
PULL_FACTS_QUERY = """
query PullFacts($owner: String!, $name: String!, $number: Int!) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      number headRefOid body
      author { login __typename ... on User { databaseId } }
      editor { login __typename }
      commits(last: 100) { totalCount nodes { commit { author { user { login } } } } }
      reviews(last: 100) {
        nodes {
          state authorCanPushToRepository commit { oid }
          author { login __typename ... on User { databaseId } }
        }
      }
    }
  }
}
"""

# A new PR is created in the same document as its commit (a branch that does not exist makes
# createPullRequest fail too). Nothing is open on the branch yet, so resetting it to the base
# first closes nothing.
PUBLISH_NEW_MUTATION = f"""
mutation Publish($refs: UpdateRefsInput!, $commit: CreateCommitOnBranchInput!,
                 $pr: CreatePullRequestInput!) {{
  updateRefs(input: $refs) {{ clientMutationId }}
  createCommitOnBranch(input: $commit) {{ commit {{ oid }} }}
  createPullRequest(input: $pr) {{ pullRequest {{ {_PR_FIELDS} {_MERGE_FIELDS} baseRefOid }} }}
}}
"""
# A PR the bot must take back: closed, and (when this job made its commit) its branch deleted
# only while it is still at that commit; the word on why follows as an ordinary reply, which
# looks before it posts, so a retried request never says it twice.
CLOSE_MUTATION = """
mutation Close($pr: ClosePullRequestInput!) {
  closePullRequest(input: $pr) { pullRequest { state } }
}
"""
WITHDRAW_MUTATION = """
mutation Withdraw($pr: ClosePullRequestInput!, $refs: UpdateRefsInput!) {
  closePullRequest(input: $pr) { pullRequest { state } }
  updateRefs(input: $refs) { clientMutationId }
}
"""
# An open PR's branch never points at the base: GitHub closes a PR whose branch has no commit
# ahead of its base, for good. The commit is made on a scratch branch created at the base; one
# compare-and-swap then moves the PR's branch onto it and deletes the scratch branch.
PREPARE_COMMIT_MUTATION = """
mutation PrepareCommit($refs: UpdateRefsInput!, $commit: CreateCommitOnBranchInput!) {
  updateRefs(input: $refs) { clientMutationId }
  createCommitOnBranch(input: $commit) { commit { oid } }
}
"""
MOVE_REFS_MUTATION = """
mutation MoveRefs($refs: UpdateRefsInput!) {
  updateRefs(input: $refs) { clientMutationId }
}
"""
# Merging a PR does not move its branch, so the branch's compare-and-swap alone cannot tell that
# a concurrent job merged it meanwhile: the PR is read once the branch has moved, and retitled
# only while it is still open.
UPDATE_PR_MUTATION = f"""
mutation UpdatePullRequest($pr: UpdatePullRequestInput!) {{
  updatePullRequest(input: $pr) {{ pullRequest {{ {_PR_FIELDS} {_MERGE_FIELDS} }} }}
}}
"""
# Scratch branches live outside the bot's prefix, so the state read never lists them, and carry
# a random suffix, so one left behind by a crashed run never meets a later run.
SCRATCH_PREFIX = "scoutflow-gitops-scratch/"

# Labels ride along with the first merge request (mutations in one document fail one by one).
AUTO_MERGE_MUTATION = """
mutation StartMerge($merge: EnablePullRequestAutoMergeInput!, $labels: AddLabelsToLabelableInput!) {
  addLabelsToLabelable(input: $labels) { clientMutationId }
  enablePullRequestAutoMerge(input: $merge) { pullRequest { autoMergeRequest { enabledAt } } }
}
"""
AUTO_MERGE_ONLY_MUTATION = """
mutation StartMerge($merge: EnablePullRequestAutoMergeInput!) {
  enablePullRequestAutoMerge(input: $merge) { pullRequest { autoMergeRequest { enabledAt } } }
}
"""
MERGE_MUTATION = """
mutation Merge($merge: MergePullRequestInput!, $labels: AddLabelsToLabelableInput!) {
  addLabelsToLabelable(input: $labels) { clientMutationId }
  mergePullRequest(input: $merge) { pullRequest { merged mergeCommit { oid } } }
}
"""
MERGE_ONLY_MUTATION = """
mutation Merge($merge: MergePullRequestInput!) {
  mergePullRequest(input: $merge) { pullRequest { merged mergeCommit { oid } } }
}
"""


Credential = Literal["app", "token"]

# Least privilege per token, in the names of the `permissions` object of
# POST /app/installations/{installation_id}/access_tokens (GitHub's `app-permissions` schema).
WRITER_PERMISSIONS: Mapping[str, str] = {
    "contents": "write",
    "pull_requests": "write",
    "issues": "write",
}
READER_PERMISSIONS: Mapping[str, str] = {
    "contents": "read",
    "actions": "read",
    "pull_requests": "read",
    "metadata": "read",
}
# What the guard needs of the source repository: its commits and their order.
GUARD_PERMISSIONS: Mapping[str, str] = {"contents": "read", "metadata": "read"}
_PERMISSION_NAMES = {
    "contents": "Contents",
    "pull_requests": "Pull requests",
    "issues": "Issues",
    "actions": "Actions",
    "metadata": "Metadata",
    "statuses": "Commit statuses",
}
# GitHub's answer to a token minted for a repository outside the installation, and for
# permissions the App was not granted (422 from POST .../access_tokens).
_NOT_IN_INSTALLATION = "not accessible to the parent installation"
_NOT_GRANTED = "permissions requested are not granted"


@dataclass(frozen=True)
class Need:
    """What one call needs of its token: a repository permission, named as a GitHub App's
    settings name it, at a level."""

    repository: str
    permission: str
    level: Literal["read", "write"] = "read"

    def text(self) -> str:
        return f"{self.permission}: {self.level}"


class AccessError(UserError):
    """The token cannot read or write what the bot needs: which repository, which permission,
    and what fixes it. Never a race and never worth a retry."""

    def __init__(self, message: str, hint: str, need: Need) -> None:
        super().__init__(message, hint)
        self.need = need


def access_error(
    need: Need, kind: Credential, answer: str, *, unseen: bool, accepted: str = ""
) -> AccessError:
    """The one error for a call the token may not make.

    ``unseen``: GitHub does not show the repository to the token at all (REST 404, GraphQL
    ``NOT_FOUND``), its answer for a private repository the token does not cover; otherwise
    it shows it but refuses the permission (403 "Resource not accessible by integration",
    GraphQL ``FORBIDDEN``). ``accepted`` is GitHub's ``X-Accepted-GitHub-Permissions`` header.
    """
    who = "the GitHub App's token" if kind == "app" else "the token"
    if unseen:
        message = (
            f"{who} cannot see {need.repository}, where the bot needs {need.text()}: "
            f"GitHub answered {answer}"
        )
        hint = (
            f"install the GitHub App on {need.repository} too: it must be installed on both "
            "the GitOps and the source repository"
            if kind == "app"
            else f"use a token that can {need.level} {need.repository} ({need.text()})"
        )
    else:
        message = f"{who} lacks {need.text()} on {need.repository}: GitHub answered {answer}"
        hint = (
            f"give the GitHub App the repository permission {need.text()} and accept the change "
            f"on its installation for {need.repository}"
            if kind == "app"
            else f"use a token with {need.text()} on {need.repository}"
        )
    if accepted:
        hint += f" (GitHub accepts: {accepted})"
    return AccessError(message, hint, need)


def connect(
    *,
    api_url: str,
    token: str | None = None,
    app_id: str | None = None,
    private_key: str | None = None,
    repository: str,
    permissions: Mapping[str, str] = WRITER_PERMISSIONS,
    on_token: Callable[[str], None] = lambda _token: None,
    timeout: int = 30,
    write_interval: float | None = 1.0,
) -> Connection:
    """The clients of one run.

    With a ``token``, one client for everything. With App credentials, an installation token
    for ``repository`` alone with ``permissions`` (the writer, by default), minted at once; a
    reader for another repository is minted when a call first names it (``Connection``).
    ``on_token`` receives every minted token before anything uses it, to mask it.
    """
    split_repository(repository)
    if token:
        return Connection(
            "token", repository, _client(api_url, Auth.Token(token), timeout, write_interval)
        )
    if not (app_id and private_key):
        raise UserError(
            "no credentials: give either token, or app_id and private_key",
            "set the action's `token` input, or the GitHub App's `app_id` and `private_key`",
        )
    minter = _Minter(api_url, app_id, private_key, timeout, write_interval, on_token)
    return Connection("app", repository, minter.mint([repository], permissions), minter)


class Connection:
    """The clients one run talks to GitHub with, one per token.

    With a token input, one client does all the token can. With App credentials the writer
    token reaches ``repository`` (the GitOps repository) only. The reader token for the source
    repository is minted the first time a call names it: that is the pipeline config's source,
    known once the config is read, so a run that never reads the source (a skipped event, a
    refused command) mints one token, and one that does mints two. When one installation holds
    both repositories (one account), the reader reaches both, so the combined read of GitOps
    files and source history stays one GraphQL request.
    """

    def __init__(
        self,
        kind: Credential,
        repository: str,
        writer: Github,
        minter: _Minter | None = None,
    ) -> None:
        self.kind: Credential = kind
        self.repository = repository
        self.writer = writer
        self._minter = minter
        self._readers: dict[str, tuple[Github, frozenset[str]]] = {}

    def client_for(self, repositories: Sequence[str]) -> Github | None:
        """A client whose token reaches all of ``repositories``; ``None`` when no one does."""
        home = self.repository.lower()
        others = {repo.lower(): repo for repo in repositories if repo.lower() != home}
        if self._minter is None or not others:
            return self.writer
        if len(others) > 1:
            return None
        key, other = next(iter(others.items()))
        if key not in self._readers:
            self._readers[key] = self._minter.reader(self.repository, other)
        client, reach = self._readers[key]
        return client if {repo.lower() for repo in repositories} <= reach else None


class _Minter:
    """Mints installation tokens for one GitHub App (``repositories`` and ``permissions`` as
    POST /app/installations/{installation_id}/access_tokens takes them)."""

    def __init__(
        self,
        api_url: str,
        app_id: str,
        private_key: str,
        timeout: int,
        write_interval: float | None,
        on_token: Callable[[str], None],
    ) -> None:
        self._api_url = api_url
        self._timeout = timeout
        self._write_interval = write_interval
        self._on_token = on_token
        auth = Auth.AppAuth(int(app_id), private_key)
        self._app = _client(api_url, auth, timeout, None).requester
        self._installations: dict[str, int] = {}

    def reader(self, home: str, other: str) -> tuple[Github, frozenset[str]]:
        """A read token for ``other``, reaching ``home`` too when one installation has both
        (an App is installed once per account); else one from ``other``'s own installation."""
        same_account = split_repository(home)[0].lower() == split_repository(other)[0].lower()
        reach = [home, other] if same_account else [other]
        client = self.mint(reach, READER_PERMISSIONS)
        return client, frozenset(repo.lower() for repo in reach)

    def mint(self, repositories: Sequence[str], permissions: Mapping[str, str]) -> Github:
        """A client for a new token reaching ``repositories`` (of one account)."""
        installation = self._installation(repositories[0])
        names = [split_repository(repo)[1] for repo in repositories]
        try:
            _, minted = self._app.requestJsonAndCheck(
                "POST",
                f"/app/installations/{installation}/access_tokens",
                input={"repositories": names, "permissions": dict(permissions)},
            )
        except GithubException as exc:
            raise _mint_failed(repositories, permissions, exc) from None
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise _unusable_key(exc) from None
        token = str(minted["token"])
        self._on_token(token)
        return _client(self._api_url, Auth.Token(token), self._timeout, self._write_interval)

    def _installation(self, repository: str) -> int:
        owner, name = split_repository(repository)
        if owner.lower() not in self._installations:
            try:
                _, found = self._app.requestJsonAndCheck(
                    "GET", f"/repos/{owner}/{name}/installation"
                )
            except GithubException as exc:
                if exc.status == 404:
                    # The App cannot reach the repository at all: an access problem, which
                    # the guard (for one) tells apart from a broken key or a failing GitHub.
                    raise AccessError(
                        f"the GitHub App is not installed on {repository}: GitHub answered "
                        f"404 {_message(exc)!r} for its installation",
                        f"install the GitHub App on {repository} (it must be installed on both "
                        "the GitOps and the source repository), or check app_id",
                        Need(repository, "metadata"),
                    ) from None
                raise UserError(
                    f"could not mint an installation token for {repository}: {_message(exc)}",
                    "check that the GitHub App is installed on the repository and the key is "
                    "current",
                ) from None
            except (ValueError, TypeError, jwt.PyJWTError) as exc:
                raise _unusable_key(exc) from None
            self._installations[owner.lower()] = int(found["id"])
        return self._installations[owner.lower()]


def _mint_failed(
    repositories: Sequence[str], permissions: Mapping[str, str], exc: GithubException
) -> UserError:
    where = " and ".join(repositories)
    message = _message(exc)
    if exc.status == 422 and _NOT_IN_INSTALLATION in message:
        return UserError(
            f"the GitHub App's installation does not include {where}: GitHub answered "
            f"422 {message!r}",
            f"install the GitHub App on {where} (its repository access must include both the "
            "GitOps and the source repository)",
        )
    if exc.status == 422 and _NOT_GRANTED in message:
        wanted = ", ".join(
            f"{_PERMISSION_NAMES.get(key, key)}: {level}" for key, level in permissions.items()
        )
        return UserError(
            f"the GitHub App lacks a permission the bot asks for on {where}: GitHub answered "
            f"422 {message!r}",
            f"give the GitHub App these repository permissions and accept them on its "
            f"installation: {wanted}",
        )
    return UserError(
        f"could not mint an installation token for {where}: {message}",
        "check that the GitHub App is installed on the repository and the key is current",
    )


def _unusable_key(exc: Exception) -> UserError:
    # PyJWT and cryptography refuse a malformed key while signing the App's JWT.
    return UserError(
        f"private_key could not sign the GitHub App's token ({type(exc).__name__})",
        "paste the App's whole PEM private key, BEGIN and END lines included",
    )


def _client(api_url: str, auth: Auth.Auth, timeout: int, write_interval: float | None) -> Github:
    return Github(
        base_url=api_url,
        auth=auth,
        # Retries are the adapter's own (scoutflow_gitops.retry): it knows which requests are
        # safe to repeat and keeps one deadline for the whole run.
        retry=None,
        timeout=timeout,
        user_agent=USER_AGENT,
        per_page=100,
        # Objects are built from what a call returned; none triggers a hidden extra request.
        lazy=True,
        # Reads are few and need no pacing; writes keep GitHub's advice of a second apart
        # (secondary rate limits) unless told otherwise, e.g. against the local simulator.
        seconds_between_requests=None,
        seconds_between_writes=write_interval,
    )


def split_repository(repository: str) -> tuple[str, str]:
    owner, _, name = repository.partition("/")
    if not owner or not name or "/" in name:
        raise UserError(f"{repository!r} is not an owner/name repository")
    return owner, name


class GitHubHost:
    """``port.GitHost`` over GitHub's REST and GraphQL APIs.

    Each call goes through the token that may make it: the GitOps repository's (the writer)
    unless it names another repository, which the reader token reaches (``Connection``).
    """

    def __init__(
        self, client: Connection | Github, server_url: str, retrier: Retrier | None = None
    ) -> None:
        self._connection = (
            client if isinstance(client, Connection) else Connection("token", "", client)
        )
        # The GitOps repository's client: every call that names no other repository.
        self._client = self._connection.writer
        self.server_url = server_url.rstrip("/")
        self._retrier = retrier or Retrier()

    def _client_for(self, repository: str) -> Github:
        client = self._connection.client_for([repository])
        assert client is not None, "one repository is always within one token's reach"
        return client

    # -- reads -------------------------------------------------------------------------------

    def read_gitops_state(self, repository: str, config_path: str) -> GitopsState:
        owner, name = split_repository(repository)
        data, headers = self._graphql_with_headers(
            STATE_QUERY,
            {
                "owner": owner,
                "name": name,
                "configPath": config_path,
                "holds": HOLDS_DIR,
                "quarantine": QUARANTINE_DIR,
                "prefix": f"refs/heads/{BOT_BRANCH_PREFIX}",
            },
            repositories={"repository": repository},
        )
        repo = data.get("repository")
        if repo is None:
            raise access_error(
                Need(repository, "Contents"),
                self._connection.kind,
                "no repository (null) to a query for it",
                unseen=True,
            )
        default = repo.get("defaultBranchRef")
        if default is None:
            raise UserError(f"repository {repository} has no default branch yet")
        target = default["target"]
        config = (target.get("config") or {}).get("object") or {}
        if config.get("isBinary"):
            raise UserError(
                f"{config_path} in {repository} is a binary file, not YAML",
                "commit the pipeline config as UTF-8 text",
            )
        hold_entries = ((target.get("holds") or {}).get("object") or {}).get("entries") or []
        quarantine = ((target.get("quarantine") or {}).get("object") or {}).get("entries") or []
        branches = tuple(
            BotBranch(
                name=BOT_BRANCH_PREFIX + node["name"],
                oid=node["target"]["oid"],
                pull_request=_pr_into(node["associatedPullRequests"]["nodes"], default["name"]),
            )
            for node in repo["refs"]["nodes"]
        )
        return GitopsState(
            repository_id=repo["id"],
            default_branch=default["name"],
            head_oid=target["oid"],
            config_text=config.get("text"),
            branches=branches,
            holds=frozenset(
                entry["name"].removesuffix(".yml")
                for entry in hold_entries
                if entry["name"].endswith(".yml")
            ),
            labels={label["name"]: label["id"] for label in repo["labels"]["nodes"]},
            server_time=_server_time(headers),
            merge_settings=_merge_settings(repo),
            quarantined=frozenset(
                entry["name"].removesuffix(".yml")
                for entry in quarantine
                if entry["name"].endswith(".yml")
                and SHA_FILE.match(entry["name"].removesuffix(".yml"))
            ),
        )

    def list_workflow_runs(
        self, repository: str, head_sha: str, *, branch: str | None = None
    ) -> tuple[WorkflowRun, ...]:
        """Every push run for ``head_sha`` (on ``branch``), from every page.

        A SHA can have more than 100 runs (re-runs, many workflows), so the ``Link`` header's
        ``next`` is followed; GitHub returns at most 1,000 runs for a ``head_sha`` search.
        """
        params: dict[str, Any] = {"head_sha": head_sha, "event": "push", "per_page": 100}
        if branch:
            params["branch"] = branch
        client = self._client_for(repository)
        need = Need(repository, "Actions")
        doing = f"listing workflow runs of {repository}"
        url: str | None = f"/repos/{repository}/actions/runs"
        runs: list[WorkflowRun] = []
        for page in range(MAX_RUN_PAGES):
            if url is None:
                break
            headers, data = self._rest_with_headers(
                "GET",
                url,
                doing,
                # The next page's URL carries every parameter itself.
                params=params if page == 0 else None,
                need=need,
                unseen_on_404=True,
                client=client,
            )
            listed = data.get("workflow_runs", []) if isinstance(data, dict) else []
            runs.extend(_workflow_run(run) for run in listed)
            url = _link(headers, "next")
        return tuple(runs)

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
        owner, name = split_repository(repository)
        app_owner, app_name = split_repository(source_repository)
        gitops_vars: dict[str, Any] = {"owner": owner, "name": name}
        fields = []
        revisions = [("main", revision)] + (
            [("branch", branch_revision)] if branch_revision else []
        )
        for label, rev in revisions:
            for index, path in enumerate(paths):
                gitops_vars[f"{label}{index}"] = f"{rev}:{path}"
                fields.append(
                    f"{label}{index}: object(expression: ${label}{index}) "
                    "{ ... on Blob { text isBinary } }"
                )
        gitops_part = (
            "  gitops: repository(owner: $owner, name: $name) {\n    "
            + "\n    ".join(fields)
            + "\n  }\n"
        )
        app_vars: dict[str, Any] = {
            "appOwner": app_owner,
            "appName": app_name,
            "commit": commit,
            "depth": history_depth,
        }
        # The source branch's recent history: a commit is deployable only when it is on the
        # branch, which a run's `head_branch` cannot prove (a tag's runs carry the tag's name).
        branch_part = ""
        if source_branch is not None:
            app_vars["appBranch"] = f"refs/heads/{source_branch}"
            branch_part = (
                "    branch: ref(qualifiedName: $appBranch) { target { oid ... on Commit {\n"
                "      history(first: $depth) { nodes { oid } } } } }\n"
            )
        app_part = (
            "  app: repository(owner: $appOwner, name: $appName) {\n"
            f"    candidate: object(oid: $commit) {{ ... on Commit {{ {_COMMIT_FIELDS}\n"
            f"      history(first: $depth) {{ nodes {{ {_COMMIT_FIELDS} }} }} }} }}\n"
            + branch_part
            + "  }\n"
        )
        where = {"gitops": repository, "app": source_repository}
        both = self._connection.client_for([repository, source_repository])
        if both is not None:
            variables = {**gitops_vars, **app_vars}
            data = self._graphql(
                _query("Inputs", variables, gitops_part + app_part),
                variables,
                repositories=where,
                client=both,
            )
        else:
            # Repositories of two accounts: two installations, two tokens, two requests.
            data = {
                **self._graphql(
                    _query("GitopsFiles", gitops_vars, gitops_part),
                    gitops_vars,
                    repositories=where,
                ),
                **self._graphql(
                    _query("SourceHistory", app_vars, app_part),
                    app_vars,
                    repositories=where,
                    client=self._client_for(source_repository),
                ),
            }
        gitops = data.get("gitops")
        if gitops is None:
            raise access_error(
                Need(repository, "Contents"),
                self._connection.kind,
                "no repository (null) to a query for it",
                unseen=True,
            )

        def blobs(label: str) -> dict[str, bytes | None]:
            result: dict[str, bytes | None] = {}
            for index, path in enumerate(paths):
                blob = gitops.get(f"{label}{index}")
                if blob is not None and blob.get("isBinary"):
                    raise UserError(f"{path} is a binary file, not a Helm values file")
                text = None if blob is None else blob.get("text")
                result[path] = None if text is None else text.encode("utf-8")
            return result

        app = data.get("app")
        candidate_node = (app or {}).get("candidate")
        ancestors: tuple[Commit, ...] = ()
        candidate = None
        if candidate_node:
            candidate = _commit(candidate_node)
            ancestors = tuple(
                _commit(node)
                for node in candidate_node["history"]["nodes"]
                if node["oid"] != candidate_node["oid"]
            )
        branch_target = ((app or {}).get("branch") or {}).get("target") or {}
        branch_nodes = (branch_target.get("history") or {}).get("nodes") or []
        return FilesAndHistory(
            files=blobs("main"),
            branch_files=blobs("branch") if branch_revision else {},
            candidate=candidate,
            ancestors=ancestors,
            source_head=branch_target.get("oid"),
            source_history=tuple(str(node["oid"]) for node in branch_nodes),
        )

    def compare(self, repository: str, base: str, head: str) -> Comparison | None:
        """How ``head`` relates to ``base``; ``None`` when GitHub knows no such commit there.

        GitHub answers 404 both for histories without a common ancestor ("No common ancestor
        between ..."), which is ``diverged``, and with a plain "Not Found" for an unknown
        commit or a repository the token cannot see: one look at the repository tells those
        two apart, and a token that cannot see it is an ``AccessError``, never ``diverged``.
        """
        client = self._client_for(repository)
        need = Need(repository, "Contents")
        doing = f"comparing {base[:7]}...{head[:7]} in {repository}"
        url = f"/repos/{repository}/compare/{base}...{head}"
        try:
            data = self._rest(
                "GET", url, doing, params={"per_page": COMPARE_PAGE}, raw_errors=True, client=client
            )
        except GithubException as exc:
            if exc.status == 404 and NO_COMMON_ANCESTOR in _message(exc).lower():
                return Comparison(base, head, "diverged", 0, 0, (), "")
            if exc.status == 404 and self._can_see(repository, client):
                return None
            raise self._api_failure(doing, exc, need, unseen_on_404=True) from None
        ahead = int(data["ahead_by"])
        items = list(data.get("commits") or [])
        if ahead > COMPARE_PAGE:
            # Pages run oldest first, so the newest commits (what a changelog lists) are on
            # the last page; the one before it fills a short last page up.
            pages = {1: items}
            last = -(-ahead // COMPARE_PAGE)
            for page in (last, last - 1):
                if page not in pages and (page == last or len(pages[last]) < COMPARE_PAGE):
                    pages[page] = list(
                        self._rest(
                            "GET",
                            url,
                            doing,
                            params={"per_page": COMPARE_PAGE, "page": page},
                            need=need,
                            client=client,
                        ).get("commits")
                        or []
                    )
            items = [item for page in sorted(pages) for item in pages[page]][-COMPARE_PAGE:]
        return Comparison(
            base=base,
            head=head,
            status=data["status"],
            ahead_by=ahead,
            behind_by=int(data["behind_by"]),
            commits=tuple(
                Commit(
                    sha=item["sha"],
                    headline=item["commit"]["message"].split("\n", 1)[0],
                    author=(item.get("author") or {}).get("login")
                    or item["commit"]["author"]["name"],
                    url=item["html_url"],
                )
                for item in items
            ),
            url=data["html_url"],
        )

    def _can_see(self, repository: str, client: Github) -> bool:
        """Whether the token sees ``repository`` at all (GitHub: 404 when it does not)."""
        try:
            self._rest(
                "GET",
                f"/repos/{repository}",
                f"reading {repository}",
                raw_errors=True,
                client=client,
            )
        except GithubException as exc:
            if exc.status in (403, 404):
                return False
            raise _api_error(f"reading {repository}", exc) from None
        return True

    def read_permission(self, repository: str, user: str) -> str | None:
        """The user's role on the repository (``role_name``); ``None`` when it cannot be read.

        ``author_association`` in a payload is never trusted for this: it says how someone is
        related to the repository, not what they may do in it. GitHub shows the permission only
        to a token with push access: its 403 "Must have push access to view collaborator
        permission." is a token that cannot do the bot's job, said as such, not a denial.
        """
        doing = f"reading @{user}'s permission"
        try:
            data = self._rest(
                "GET",
                f"/repos/{repository}/collaborators/{quote(user, safe='')}/permission",
                doing,
                raw_errors=True,
            )
        except GithubException as exc:
            if exc.status == 403 and PUSH_ACCESS in _message(exc).lower():
                who = "the GitHub App's token" if self._connection.kind == "app" else "the token"
                raise AccessError(
                    f"{who} lacks push access to {repository}, which GitHub requires to show "
                    f"a collaborator's permission: GitHub answered 403 {_message(exc)!r}",
                    f"give the GitHub App Contents: write on {repository}"
                    if self._connection.kind == "app"
                    else f"use a token that can push to {repository}",
                    Need(repository, "Contents", "write"),
                ) from None
            if exc.status == 403 and _refused_access(exc):
                raise self._api_failure(doing, exc, Need(repository, "Metadata")) from None
            return None
        except UserError:
            return None
        role = data.get("role_name")
        return role if isinstance(role, str) else None

    def read_histories(
        self, repository: str, revision: str, paths: Sequence[str], depth: int
    ) -> Mapping[str, tuple[FileVersion, ...]]:
        owner, name = split_repository(repository)
        variables: dict[str, Any] = {"owner": owner, "name": name, "rev": revision, "depth": depth}
        fields = []
        for index, path in enumerate(paths):
            variables[f"p{index}"] = path
            fields.append(
                f"h{index}: history(first: $depth, path: $p{index}) {{ nodes {{ oid committedDate "
                f"file(path: $p{index}) {{ object {{ ... on Blob {{ text }} }} }} "
                "associatedPullRequests(first: 1) { nodes { number url } } } }"
            )
        declared = "".join(f", $p{index}: String!" for index in range(len(paths)))
        query = (
            f"query Histories($owner: String!, $name: String!, $rev: GitObjectID!, $depth: Int!"
            f"{declared}) {{\n  repository(owner: $owner, name: $name) {{\n"
            "    object(oid: $rev) { ... on Commit {\n      "
            + "\n      ".join(fields)
            + "\n    } }\n  }\n}\n"
        )
        data = self._graphql(query, variables, repositories={"repository": repository})
        commit = ((data.get("repository") or {}).get("object")) or {}
        result: dict[str, tuple[FileVersion, ...]] = {}
        for index, path in enumerate(paths):
            nodes = (commit.get(f"h{index}") or {}).get("nodes") or []
            result[path] = tuple(_file_version(node) for node in nodes)
        return result

    def read_pull_request(self, pull_request_id: str) -> PullRequestStatus | None:
        data = self._graphql(PULL_REQUEST_QUERY, {"id": pull_request_id})
        node = data.get("node")
        return _status(node) if node else None

    def read_pull_facts(self, repository: str, number: int) -> PullFacts | None:
        """What GitHub recorded about PR ``number`` for the four-eyes check; ``None`` if no
        such PR."""
        owner, name = repository.split("/", 1)
        data = self._graphql(
            PULL_FACTS_QUERY,
            {"owner": owner, "name": name, "number": number},
            repositories={"repository": repository},
        )
        node = (data.get("repository") or {}).get("pullRequest")
        if not node:
            return None
        author = node.get("author") or {}
        commits = node.get("commits") or {}
        return PullFacts(
            number=int(node["number"]),
            author_login=str(author.get("login") or "ghost"),
            author_is_bot=author.get("__typename") == "Bot",
            author_id=_int_or_none(author.get("databaseId")),
            head_oid=str(node["headRefOid"]),
            body=str(node.get("body") or ""),
            editor=(node.get("editor") or {}).get("login"),
            editor_is_bot=(node.get("editor") or {}).get("__typename") == "Bot",
            commit_authors=tuple(
                (((item.get("commit") or {}).get("author") or {}).get("user") or {}).get("login")
                for item in commits.get("nodes") or ()
            ),
            commits_total=int(commits.get("totalCount") or 0),
            reviews=tuple(
                Review(
                    login=str((review.get("author") or {}).get("login") or "ghost"),
                    is_bot=(review.get("author") or {}).get("__typename") == "Bot",
                    state=str(review.get("state") or ""),
                    commit_oid=(review.get("commit") or {}).get("oid"),
                    can_push=bool(review.get("authorCanPushToRepository")),
                    user_id=_int_or_none((review.get("author") or {}).get("databaseId")),
                )
                for review in (node.get("reviews") or {}).get("nodes") or ()
            ),
        )

    # -- writes ------------------------------------------------------------------------------

    def set_status(
        self, repository: str, sha: str, state: str, context: str, description: str, url: str
    ) -> None:
        """A commit status on ``sha``; GitHub keeps the latest one of each context."""
        body = {"state": state, "context": context, "description": description[:140]}
        if url:
            body["target_url"] = url
        self._rest(
            "POST",
            f"/repos/{repository}/statuses/{sha}",
            f"setting the {context} status on {sha[:7]}",
            body=body,
            need=Need(repository, "Commit statuses", "write"),
        )

    def react(self, repository: str, comment_id: int, content: str) -> None:
        self._rest(
            "POST",
            f"/repos/{repository}/issues/comments/{comment_id}/reactions",
            f"reacting to comment {comment_id}",
            body={"content": content},
            need=Need(repository, "Issues or Pull requests", "write"),
        )

    def reply(self, repository: str, issue_number: int, body: str) -> str:
        url = f"/repos/{repository}/issues/{issue_number}/comments"
        requester = self._client.requester
        attempted = False

        def attempt() -> dict[str, Any]:
            nonlocal attempted
            if attempted:
                # A failed POST may still have landed: look before posting again, among the
                # newest comments (GitHub lists them oldest first, so on the last page).
                headers, listed = requester.requestJsonAndCheck(
                    "GET", url, parameters={"per_page": 100}
                )
                last = _link(headers, "last")
                if last is not None:
                    _, listed = requester.requestJsonAndCheck("GET", last)
                for existing in reversed(listed if isinstance(listed, list) else []):
                    if (
                        existing.get("body") == body
                        and (existing.get("user") or {}).get("type") == "Bot"
                    ):
                        return dict(existing)
            attempted = True
            _, created = requester.requestJsonAndCheck("POST", url, input={"body": body})
            return dict(created)

        doing = f"replying on #{issue_number}"
        try:
            data = self._with_retries(doing, attempt)
        except GithubException as exc:
            raise self._api_failure(
                doing, exc, Need(repository, "Issues or Pull requests", "write")
            ) from None
        return str(data.get("html_url", ""))

    def request_reviewers(
        self, repository: str, number: int, users: Sequence[str], teams: Sequence[str]
    ) -> None:
        self._rest(
            "POST",
            f"/repos/{repository}/pulls/{number}/requested_reviewers",
            f"requesting reviewers on #{number}",
            body={"reviewers": list(users), "team_reviewers": list(teams)},
            need=Need(repository, "Pull requests", "write"),
        )

    def publish(self, request: PublishRequest) -> Published:
        if request.pull_request is None:
            return self._publish_new(request)
        return self._publish_onto(request, request.pull_request)

    def _publish_new(self, request: PublishRequest) -> Published:
        variables: dict[str, Any] = {
            # Compare-and-swap: the branch must still be where it was read (or absent).
            "refs": _ref_updates(
                request.repository_id,
                (f"refs/heads/{request.branch}", request.branch_oid, request.base_oid),
            ),
            "commit": _commit_input(request, request.branch),
            "pr": {
                "repositoryId": request.repository_id,
                "baseRefName": request.base_branch,
                "headRefName": request.branch,
                "title": request.title,
                "body": request.body,
            },
        }
        data, errors = self._graphql_partial(PUBLISH_NEW_MUTATION, variables)
        commit = (data.get("createCommitOnBranch") or {}).get("commit")
        pr_node = (data.get("createPullRequest") or {}).get("pullRequest")
        if pr_node is not None and (errors or commit is None):
            # GitHub runs every mutation of a document, even after one failed: the branch
            # existed after all (another run's, its PR merged), and this PR was opened on
            # that run's commit. It is not this job's PR.
            self._take_back(request, pr_node, None, "its branch was written by another run first")
        if errors or commit is None or pr_node is None:
            raise self._write_failed("opening the PR", errors, "the branch moved", request)
        if pr_node.get("baseRefOid") != request.base_oid:
            # The branch was absent when read and absent again when created: another run
            # opened, merged and deleted it in between. This PR starts from a main that is
            # gone and may deploy what main already runs.
            self._take_back(request, pr_node, str(commit["oid"]), "another run merged first")
            raise ConflictError(
                f"{request.base_branch} moved while PR #{pr_node['number']} was being opened; "
                "the PR was closed again"
            )
        return Published(_pr(pr_node), commit["oid"], created=True, status=_status(pr_node))

    def _take_back(
        self, request: PublishRequest, pr_node: Mapping[str, Any], own_oid: str | None, why: str
    ) -> None:
        """Close a PR this job opened by mistake (its branch too when the job made the commit
        there), then say why on it."""
        self._close(
            request.repository,
            request.repository_id,
            str(pr_node["id"]),
            int(pr_node["number"]),
            (request.branch, own_oid) if own_oid is not None else None,
            messages.withdrawn_comment(request.base_branch, request.base_oid, why),
            f"closing PR #{pr_node['number']}, opened by mistake ({why})",
        )

    def close_pull_request(
        self,
        repository: str,
        repository_id: str,
        pull_request: PullRequest,
        branch: tuple[str, str] | None,
        comment: str,
    ) -> None:
        self._close(
            repository,
            repository_id,
            pull_request.id,
            pull_request.number,
            branch,
            comment,
            f"closing PR #{pull_request.number}",
        )

    def _close(
        self,
        repository: str,
        repository_id: str,
        pull_request_id: str,
        number: int,
        branch: tuple[str, str] | None,
        comment: str,
        doing: str,
    ) -> None:
        """Close, then comment. A PR that stays open is reported, never hidden; a branch that
        could not be deleted is left (it is harmless, and may be another run's)."""
        variables: dict[str, Any] = {"pr": {"pullRequestId": pull_request_id}}
        mutation = CLOSE_MUTATION
        if branch is not None:
            mutation = WITHDRAW_MUTATION
            name, oid = branch
            variables["refs"] = _ref_updates(repository_id, (f"refs/heads/{name}", oid, None))
        _, errors = self._graphql_partial(mutation, variables)
        closing = [e for e in errors if not e.path or e.path[0] == "closePullRequest"]
        if closing:
            # A retried close of a PR GitHub had closed already is done, whatever it answers.
            now = self.read_pull_request(pull_request_id)
            if now is None or now.state == "OPEN":
                raise _write_failed(
                    doing, closing, "it stays open", repository, self._connection.kind
                )
        self.reply(repository, number, comment)

    def _publish_onto(self, request: PublishRequest, existing: PullRequest) -> Published:
        scratch = f"{SCRATCH_PREFIX}{request.branch.removeprefix(BOT_BRANCH_PREFIX)}-" + (
            secrets.token_hex(6)
        )
        scratch_ref = f"refs/heads/{scratch}"
        variables = {
            "refs": _ref_updates(request.repository_id, (scratch_ref, None, request.base_oid)),
            "commit": _commit_input(request, scratch),
        }
        data, errors = self._graphql_partial(PREPARE_COMMIT_MUTATION, variables)
        commit = (data.get("createCommitOnBranch") or {}).get("commit")
        if errors or commit is None:
            if data.get("updateRefs") is not None:
                self._drop_scratch(request.repository_id, scratch_ref, request.base_oid)
            raise self._write_failed(
                "committing onto a scratch branch", errors, "no commit was made", request
            )
        oid = str(commit["oid"])
        # Both updates or neither: the PR's branch must still be at the oid that was read.
        moves = _ref_updates(
            request.repository_id,
            (f"refs/heads/{request.branch}", request.branch_oid, oid),
            (scratch_ref, oid, None),
        )
        data, errors = self._graphql_partial(MOVE_REFS_MUTATION, {"refs": moves})
        if errors or data.get("updateRefs") is None:
            self._drop_scratch(request.repository_id, scratch_ref, oid)
            raise self._write_failed("moving the PR's branch", errors, "the branch moved", request)
        now = self.read_pull_request(existing.id)
        if now is None or now.state != "OPEN":
            raise ConflictError(f"PR #{existing.number} was merged or closed meanwhile")
        update = {"pullRequestId": existing.id, "title": request.title, "body": request.body}
        data, errors = self._graphql_partial(UPDATE_PR_MUTATION, {"pr": update})
        pr_node = (data.get("updatePullRequest") or {}).get("pullRequest")
        if errors or pr_node is None:
            raise self._write_failed(
                f"retitling PR #{existing.number}", errors, "the PR could not be updated", request
            )
        return Published(_pr(pr_node), oid, created=False, status=_status(pr_node))

    def _write_failed(
        self, doing: str, errors: Sequence[GraphQLProblem], fallback: str, request: PublishRequest
    ) -> Exception:
        return _write_failed(doing, errors, fallback, request.repository, self._connection.kind)

    def _drop_scratch(self, repository_id: str, ref: str, oid: str) -> None:
        """Best effort: a scratch branch left behind is harmless, so a failure is ignored."""
        with contextlib.suppress(UserError):
            self._graphql_partial(
                MOVE_REFS_MUTATION, {"refs": _ref_updates(repository_id, (ref, oid, None))}
            )

    def start_merge(
        self,
        pull_request: PullRequest,
        head_oid: str,
        method: MergeMethod,
        label_ids: Sequence[str],
    ) -> MergeAnswer:
        return self._merge_request(
            pull_request,
            head_oid,
            method,
            label_ids,
            (AUTO_MERGE_MUTATION, AUTO_MERGE_ONLY_MUTATION),
            "enablePullRequestAutoMerge",
        )

    def merge(
        self,
        pull_request: PullRequest,
        head_oid: str,
        method: MergeMethod,
        label_ids: Sequence[str],
    ) -> MergeAnswer:
        return self._merge_request(
            pull_request,
            head_oid,
            method,
            label_ids,
            (MERGE_MUTATION, MERGE_ONLY_MUTATION),
            "mergePullRequest",
        )

    def _merge_request(
        self,
        pull_request: PullRequest,
        head_oid: str,
        method: MergeMethod,
        label_ids: Sequence[str],
        documents: tuple[str, str],
        field: str,
    ) -> MergeAnswer:
        """One merge or auto-merge request guarded by the head; labels ride along when given.
        Done when GitHub answered the mutation's pull request (for a merge: merged)."""
        merge = _merge_input(pull_request, head_oid, method)
        with_labels, alone = documents
        if label_ids:
            labels = {"labelableId": pull_request.id, "labelIds": list(label_ids)}
            data, errors = self._graphql_partial(with_labels, {"merge": merge, "labels": labels})
        else:
            data, errors = self._graphql_partial(alone, {"merge": merge})
        labelled = bool(label_ids) and data.get("addLabelsToLabelable") is not None
        pull = (data.get(field) or {}).get("pullRequest") or {}
        done = bool(pull.get("merged")) if field == "mergePullRequest" else bool(pull)
        if done:
            return MergeAnswer(done=True, labelled=labelled)
        return MergeAnswer(False, _refusal(errors, field), labelled)

    def add_labels(self, repository: str, number: int, labels: Sequence[str]) -> None:
        self._rest(
            "POST",
            f"/repos/{repository}/issues/{number}/labels",
            f"labelling #{number} in {repository}",
            body={"labels": list(labels)},
            need=Need(repository, "Issues or Pull requests", "write"),
        )

    # -- plumbing ----------------------------------------------------------------------------

    def _rest(self, verb: str, url: str, doing: str, **options: Any) -> dict[str, Any]:
        """``_rest_with_headers`` for the answer's JSON object alone."""
        _, data = self._rest_with_headers(verb, url, doing, **options)
        return data if isinstance(data, dict) else {}

    def _rest_with_headers(
        self,
        verb: str,
        url: str,
        doing: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        raw_errors: bool = False,
        need: Need | None = None,
        unseen_on_404: bool = False,
        client: Github | None = None,
    ) -> tuple[Mapping[str, str], Any]:
        """One REST call, retried when GitHub's answer says another try may work.

        Every REST write the bot makes is idempotent (reactions, labels, reviewers), so it
        may be repeated; a comment, which is not, goes through ``reply``. ``need`` turns a
        refusal for want of access into an ``AccessError``; ``unseen_on_404`` says a 404 here
        can only mean the repository is out of the token's sight.
        """
        requester = (client or self._client).requester

        def attempt() -> tuple[Mapping[str, str], Any]:
            return requester.requestJsonAndCheck(
                verb,
                url,
                parameters=dict(params) if params else None,
                input=dict(body) if body is not None else None,
            )

        try:
            return self._with_retries(doing, attempt)
        except GithubException as exc:
            if raw_errors:
                raise
            raise self._api_failure(doing, exc, need, unseen_on_404=unseen_on_404) from None

    def _api_failure(
        self,
        doing: str,
        exc: GithubException,
        need: Need | None,
        *,
        unseen_on_404: bool = False,
    ) -> UserError:
        """GitHub's refusal as one error: an ``AccessError`` when it is about the token."""
        if need is not None:
            answer = f"{exc.status} {_message(exc)!r} while {doing}"
            accepted = _header(exc.headers, "x-accepted-github-permissions")
            if exc.status == 403 and _refused_access(exc):
                return access_error(
                    need, self._connection.kind, answer, unseen=False, accepted=accepted
                )
            if exc.status == 404 and unseen_on_404:
                return access_error(
                    need, self._connection.kind, answer, unseen=True, accepted=accepted
                )
        return _api_error(doing, exc)

    def _with_retries(self, doing: str, attempt: Callable[[], T]) -> T:
        def once() -> T:
            try:
                return attempt()
            except GithubException as exc:
                if _retryable(exc):
                    raise RetryableError(
                        Failure(exc.status, dict(exc.headers or {}), _message(exc))
                    ) from exc
                raise
            except (requests.ConnectionError, requests.Timeout) as exc:
                # No answer at all; anything else requests raises is our own mistake.
                raise RetryableError(Failure(None, {}, type(exc).__name__)) from exc

        return self._retrier.run(doing, once)

    def _graphql(
        self,
        query: str,
        variables: Mapping[str, Any],
        *,
        repositories: Mapping[str, str] | None = None,
        client: Github | None = None,
    ) -> dict[str, Any]:
        return self._graphql_with_headers(
            query, variables, repositories=repositories, client=client
        )[0]

    def _graphql_with_headers(
        self,
        query: str,
        variables: Mapping[str, Any],
        *,
        repositories: Mapping[str, str] | None = None,
        client: Github | None = None,
    ) -> tuple[dict[str, Any], Mapping[str, str]]:
        """A read: any error in the answer fails it, as ``graphql_failure`` classifies it.

        ``repositories`` maps the document's top-level fields to the repository each reads,
        so that an error names the repository and the permission it needs.
        """
        data, errors, headers = self._graphql_call(query, variables, client=client)
        if errors:
            raise graphql_failure(errors, repositories or {}, self._connection.kind)
        return data, headers

    def _graphql_partial(
        self, query: str, variables: Mapping[str, Any]
    ) -> tuple[dict[str, Any], list[GraphQLProblem]]:
        """GraphQL data and errors; mutations in one document fail one by one."""
        data, errors, _ = self._graphql_call(query, variables)
        return data, errors

    def _graphql_call(
        self, query: str, variables: Mapping[str, Any], *, client: Github | None = None
    ) -> tuple[dict[str, Any], list[GraphQLProblem], Mapping[str, str]]:
        requester = (client or self._client).requester

        def attempt() -> tuple[Mapping[str, str], Any]:
            try:
                return requester.graphql_query(query, dict(variables))
            except GithubException as exc:
                limited = _rate_limited(exc)
                if limited is not None:
                    raise RetryableError(limited) from exc
                raise

        headers: Mapping[str, str] = {}
        try:
            headers, body = self._with_retries("calling GitHub's GraphQL API", attempt)
        except GithubException as exc:
            body = exc.data if isinstance(exc.data, dict) else {}
            if "errors" not in body:
                raise _api_error("calling GitHub's GraphQL API", exc) from None
            headers = exc.headers or {}
        return body.get("data") or {}, _problems(body), headers


@dataclass(frozen=True)
class GraphQLProblem:
    """One entry of a GraphQL answer's ``errors``: GitHub's ``type`` (``STALE_DATA``,
    ``NOT_FOUND``, ``FORBIDDEN``, ``UNPROCESSABLE``, ``RATE_LIMITED``; empty when GitHub gave
    none, as for a document that does not validate), its message, and the field path."""

    type: str
    message: str
    path: tuple[str | int, ...] = ()

    def __str__(self) -> str:
        return self.message


def _problems(body: Mapping[str, Any]) -> list[GraphQLProblem]:
    found = []
    for error in body.get("errors") or []:
        if not isinstance(error, Mapping):
            found.append(GraphQLProblem("", str(error)))
            continue
        path = error.get("path")
        found.append(
            GraphQLProblem(
                type=str(error.get("type") or ""),
                message=str(error.get("message", error)),
                path=tuple(path) if isinstance(path, list) else (),
            )
        )
    return found


def _server_time(headers: Mapping[str, str]) -> datetime:
    value = next((v for k, v in headers.items() if k.lower() == "date"), None)
    if value is None:
        raise UserError("GitHub's answer had no Date header, so soak times cannot be measured")
    try:
        return parsedate_to_datetime(value).astimezone(UTC)
    except (TypeError, ValueError):
        raise UserError(f"GitHub's Date header {value[:40]!r} is not a date") from None


def _file_version(node: Mapping[str, Any]) -> FileVersion:
    blob = (node.get("file") or {}).get("object") or {}
    text = blob.get("text")
    prs = (node.get("associatedPullRequests") or {}).get("nodes") or []
    return FileVersion(
        commit=node["oid"],
        committed_at=datetime.fromisoformat(node["committedDate"].replace("Z", "+00:00")),
        text=None if text is None else text.encode("utf-8"),
        pr_number=int(prs[0]["number"]) if prs else None,
        pr_url=prs[0]["url"] if prs else None,
    )


def _pr_into(nodes: Sequence[Mapping[str, Any]], base: str) -> PullRequest | None:
    """The open PR into ``base``: one into another base is someone else's, and merging it
    would deploy nothing."""
    return next((_pr(node) for node in nodes if node.get("baseRefName") == base), None)


def _pr(node: Mapping[str, Any]) -> PullRequest:
    labels = (node.get("labels") or {}).get("nodes") or []
    return PullRequest(
        id=node["id"],
        number=int(node["number"]),
        url=node["url"],
        head_oid=node["headRefOid"],
        title=node["title"],
        body=node["body"],
        state=str(node.get("state") or "OPEN"),
        labels=frozenset(str(label["name"]) for label in labels),
        has_review_requests=bool((node.get("reviewRequests") or {}).get("totalCount")),
    )


def _status(node: Mapping[str, Any]) -> PullRequestStatus:
    target = (node.get("headRef") or {}).get("target") or {}
    return PullRequestStatus(
        state=str(node.get("state") or ""),
        head_oid=str(node.get("headRefOid") or ""),
        branch_oid=target.get("oid"),
        merge_state=str(node.get("mergeStateStatus") or "UNKNOWN"),
        mergeable=str(node.get("mergeable") or "UNKNOWN"),
        is_draft=bool(node.get("isDraft")),
        auto_merge=node.get("autoMergeRequest") is not None,
    )


def _merge_settings(repo: Mapping[str, Any]) -> MergeSettings:
    return MergeSettings(
        auto_merge_allowed=bool(repo.get("autoMergeAllowed")),
        squash_allowed=bool(repo.get("squashMergeAllowed")),
        merge_commit_allowed=bool(repo.get("mergeCommitAllowed")),
        rebase_allowed=bool(repo.get("rebaseMergeAllowed")),
    )


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _ref_updates(
    repository_id: str, *updates: tuple[str, str | None, str | None]
) -> dict[str, Any]:
    """``updateRefs`` input from (ref, before, after): ``None`` before means the ref must not
    exist, ``None`` after deletes it. Every update is guarded by its before oid."""
    return {
        "repositoryId": repository_id,
        "refUpdates": [
            {
                "name": name,
                "beforeOid": before or ZERO_OID,
                "afterOid": after or ZERO_OID,
                "force": True,
            }
            for name, before, after in updates
        ],
    }


def _commit_input(request: PublishRequest, branch: str) -> dict[str, Any]:
    return {
        "branch": {"repositoryNameWithOwner": request.repository, "branchName": branch},
        # The branch was just put at the base: the commit lands on top of it or not at all.
        "expectedHeadOid": request.base_oid,
        "message": {"headline": request.headline, "body": request.message_body},
        "fileChanges": {
            "additions": [
                {
                    "path": change.path,
                    "contents": base64.b64encode(change.contents).decode("ascii"),
                }
                for change in request.changes
                if change.contents is not None
            ],
            "deletions": [
                {"path": change.path} for change in request.changes if change.contents is None
            ],
        },
    }


def _merge_input(pull_request: PullRequest, head_oid: str, method: MergeMethod) -> dict[str, Any]:
    return {
        "pullRequestId": pull_request.id,
        "expectedHeadOid": head_oid,
        "mergeMethod": method.upper(),
    }


def _refusal(errors: Sequence[GraphQLProblem], field: str) -> str:
    """GitHub's words for a refused merge: the errors of ``field`` first, on one line."""
    own = [error for error in errors if error.path[:1] == (field,)] or list(errors)
    text = "; ".join(error.message for error in own)
    return " ".join(text.split())


def _write_failed(
    doing: str,
    errors: Sequence[GraphQLProblem],
    fallback: str,
    repository: str,
    kind: Credential,
) -> Exception:
    """A refused write: a lost race (read again and retry) unless the token may not write."""
    for problem in errors:
        if problem.type in ("FORBIDDEN", "NOT_FOUND"):
            need = Need(repository, _graphql_permission(problem.path), "write")
            answer = f"{problem.type} {problem.message!r} while {doing}"
            return access_error(need, kind, answer, unseen=problem.type == "NOT_FOUND")
    return ConflictError("; ".join(map(str, errors)) or fallback)


def _commit(node: Mapping[str, Any]) -> Commit:
    author = node.get("author") or {}
    login = (author.get("user") or {}).get("login")
    return Commit(
        sha=node["oid"],
        headline=node.get("messageHeadline") or "",
        author=login or author.get("name") or "unknown",
        url=node.get("url") or "",
    )


def _retryable(exc: GithubException) -> bool:
    """Server errors and rate limits; a GraphQL answer with errors (HTTP 200) is not one."""
    if exc.status in SERVER_ERRORS or exc.status == 429:
        return True
    if exc.status != 403:
        return False
    headers = {key.lower(): value for key, value in (exc.headers or {}).items()}
    return (
        "retry-after" in headers
        or headers.get("x-ratelimit-remaining") == "0"
        or "rate limit" in _message(exc).lower()
    )


def _message(exc: GithubException) -> str:
    data = exc.data if isinstance(exc.data, dict) else {}
    errors = data.get("errors")
    if not data.get("message") and isinstance(errors, list) and errors:
        first = errors[0]
        return str(first.get("message") if isinstance(first, dict) else first)
    return str(data.get("message") or f"HTTP {exc.status}")


def _api_error(doing: str, exc: GithubException) -> UserError:
    hint = {
        401: "the token is missing, expired or revoked",
        403: "the token lacks a permission, or GitHub rate-limited it; see the message",
        404: "the repository or object does not exist, or the token cannot see it",
    }.get(exc.status, "GitHub may be having trouble; re-run the job")
    return UserError(f"GitHub answered {exc.status} while {doing}: {_message(exc)}", hint)


def graphql_failure(
    problems: Sequence[GraphQLProblem], repositories: Mapping[str, str], kind: Credential
) -> Exception:
    """The one error for a GraphQL answer with errors, by their ``type``.

    ``STALE_DATA`` is a race (``ConflictError``: read again and decide afresh). ``NOT_FOUND``
    on a repository field and ``FORBIDDEN`` under one are the token's reach (``AccessError``
    for that repository); anything else (``UNPROCESSABLE``, ``NOT_FOUND`` of an object, a
    document GitHub refused) is a ``UserError`` with GitHub's message. ``RATE_LIMITED`` never
    gets here: it is waited out (``_rate_limited``).
    """
    stale = [problem for problem in problems if problem.type == "STALE_DATA"]
    if stale:
        return ConflictError("; ".join(map(str, stale)))
    for problem in problems:
        field = str(problem.path[0]) if problem.path else ""
        repository = repositories.get(field)
        if repository is None:
            continue
        answer = f"{problem.type} {problem.message!r}"
        if problem.type == "NOT_FOUND" and len(problem.path) == 1:
            return access_error(Need(repository, "Contents"), kind, answer, unseen=True)
        if problem.type == "FORBIDDEN":
            need = Need(repository, _graphql_permission(problem.path))
            return access_error(need, kind, answer, unseen=False)
    kinds = sorted({problem.type for problem in problems if problem.type})
    return UserError(
        f"GitHub's GraphQL API refused the request: {'; '.join(map(str, problems))}",
        f"GitHub answered {', '.join(kinds)}" if kinds else "",
    )


def _graphql_permission(path: Sequence[str | int]) -> str:
    """The permission a GraphQL field needs, as a GitHub App's settings name it."""
    parts = {str(part) for part in path}
    if parts & {"associatedPullRequests", "pullRequest", "pullRequests", "reviewRequests"}:
        return "Pull requests"
    if "labels" in parts:
        return "Issues or Pull requests"
    return "Contents"


def _rate_limited(exc: GithubException) -> Failure | None:
    """A GraphQL rate limit as a retryable failure, or ``None``.

    GitHub answers an exceeded GraphQL limit with HTTP 200 and an error of type
    ``RATE_LIMITED`` (``RATE_LIMIT`` in some answers), beside the ``x-ratelimit-*`` headers;
    nothing was executed, so waiting for the reset and asking again is safe.
    """
    body = exc.data if isinstance(exc.data, dict) else {}
    problems = _problems(body)
    if not problems or any(problem.type not in RATE_LIMITED for problem in problems):
        return None
    if any(value is not None for value in (body.get("data") or {}).values()):
        return None
    # PyGithub turns a 200 with errors into an exception of its own making (400 or 404).
    status = exc.status if exc.status in (403, 429) else 200
    return Failure(status, dict(exc.headers or {}), problems[0].message, rate_limited=True)


def _refused_access(exc: GithubException) -> bool:
    """GitHub's 403 for a token without the permission ("Resource not accessible by
    integration" for an App, "... by personal access token" for a fine-grained token)."""
    return _message(exc).lower().startswith("resource not accessible by")


def _header(headers: Mapping[str, str] | None, name: str) -> str:
    return next((v for k, v in (headers or {}).items() if k.lower() == name), "")


def _link(headers: Mapping[str, str], rel: str) -> str | None:
    """The URL of ``rel`` in a ``Link`` header (REST pagination), if any."""
    for part in _header(headers, "link").split(","):
        match = _LINK_RE.match(part.strip())
        if match and match.group(2) == rel:
            return match.group(1)
    return None


def _query(name: str, variables: Mapping[str, Any], body: str) -> str:
    """A query document declaring exactly ``variables`` (GitHub refuses unused ones)."""
    declared = ", ".join(f"${key}: {_VARIABLE_TYPES.get(key, 'String!')}" for key in variables)
    return f"query {name}({declared}) {{\n{body}}}\n"


def _workflow_run(run: Mapping[str, Any]) -> WorkflowRun:
    workflow_id = run.get("workflow_id")
    return WorkflowRun(
        id=int(run["id"]),
        name=str(run.get("name") or ""),
        event=str(run["event"]),
        head_branch=run.get("head_branch"),
        status=str(run["status"]),
        conclusion=run.get("conclusion"),
        run_attempt=int(run.get("run_attempt") or 1),
        created_at=str(run["created_at"]),
        url=str(run["html_url"]),
        path=str(run.get("path") or ""),
        workflow_id=int(workflow_id) if isinstance(workflow_id, int) else None,
    )
