"""The GitHub adapter: the only module that imports PyGithub.

Reads are batched into as few GraphQL documents as the decision allows; the writes are one
GraphQL document (compare-and-swap branch reset, guarded commit, PR create/update) plus the
merge. REST is used where GraphQL has no equivalent (workflow runs, compare, label creation).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import quote

import jwt
import requests
from github import Auth, Github, GithubException

from scoutflow_gitops.config import BOT_BRANCH_PREFIX, HOLDS_DIR
from scoutflow_gitops.errors import UserError
from scoutflow_gitops.model import (
    BotBranch,
    Commit,
    Comparison,
    FilesAndHistory,
    FileVersion,
    GitopsState,
    PullRequest,
    WorkflowRun,
)
from scoutflow_gitops.port import (
    ConflictError,
    MergeStart,
    NotMergeableError,
    Published,
    PublishRequest,
)
from scoutflow_gitops.retry import SERVER_ERRORS, Failure, Retrier, RetryableError

T = TypeVar("T")
ZERO_OID = "0" * 40
USER_AGENT = "scoutflow-gitops"
# Transient server errors are retried with backoff on idempotent requests.

_PR_FIELDS = (
    "id number url headRefName headRefOid title body state labels(first: 50) { nodes { name } } "
    "reviewRequests(first: 1) { totalCount }"
)
_COMMIT_FIELDS = "oid messageHeadline url author { name user { login } }"

STATE_QUERY = f"""
query GitopsState($owner: String!, $name: String!, $configPath: String!, $holds: String!,
                  $prefix: String!) {{
  repository(owner: $owner, name: $name) {{
    id
    labels(first: 100) {{ nodes {{ id name }} }}
    defaultBranchRef {{
      name
      target {{
        oid
        ... on Commit {{
          config: file(path: $configPath) {{ object {{ ... on Blob {{ text isBinary }} }} }}
          holds: file(path: $holds) {{ object {{ ... on Tree {{ entries {{ name }} }} }} }}
        }}
      }}
    }}
    refs(refPrefix: $prefix, first: 100) {{
      nodes {{
        name
        target {{ oid }}
        associatedPullRequests(states: OPEN, first: 1) {{ nodes {{ {_PR_FIELDS} }} }}
      }}
    }}
  }}
}}
"""

# A new PR is created in the same document as its commit (a branch that does not exist makes
# createPullRequest fail too). An existing PR is only updated in a second request, once the
# commit's answer shows the PR is still open: merging a PR does not move its branch, so the
# branch's compare-and-swap alone cannot tell that a concurrent job merged it meanwhile.
PUBLISH_NEW_MUTATION = f"""
mutation Publish($refs: UpdateRefsInput!, $commit: CreateCommitOnBranchInput!,
                 $pr: CreatePullRequestInput!) {{
  updateRefs(input: $refs) {{ clientMutationId }}
  createCommitOnBranch(input: $commit) {{ commit {{ oid }} }}
  createPullRequest(input: $pr) {{ pullRequest {{ {_PR_FIELDS} }} }}
}}
"""
PUBLISH_ONTO_PR_MUTATION = """
mutation Publish($refs: UpdateRefsInput!, $commit: CreateCommitOnBranchInput!) {
  updateRefs(input: $refs) { clientMutationId }
  createCommitOnBranch(input: $commit) {
    commit { oid }
    ref { associatedPullRequests(states: OPEN, first: 5) { nodes { id } } }
  }
}
"""
UPDATE_PR_MUTATION = f"""
mutation UpdatePullRequest($pr: UpdatePullRequestInput!) {{
  updatePullRequest(input: $pr) {{ pullRequest {{ {_PR_FIELDS} }} }}
}}
"""

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
mutation Merge($merge: MergePullRequestInput!) {
  mergePullRequest(input: $merge) { pullRequest { merged mergeCommit { oid } } }
}
"""
# GitHub refuses auto-merge on a PR it could merge right now; the bot then merges it itself.
CLEAN_STATUS = "clean status"


def connect(
    *,
    api_url: str,
    token: str | None = None,
    app_id: str | None = None,
    private_key: str | None = None,
    repository: str,
    also_read: str | None = None,
    timeout: int = 30,
    write_interval: float | None = 1.0,
) -> tuple[Github, str]:
    """A PyGithub client and the token it uses.

    With App credentials, an installation token is minted for ``repository`` (and
    ``also_read``, the repository the workflow runs in, when the App is installed on both):
    a leaked token reaches nothing else.
    """
    if token:
        return _client(api_url, Auth.Token(token), timeout, write_interval), token
    if not (app_id and private_key):
        raise UserError(
            "no credentials: give either token, or app_id and private_key",
            "set the action's `token` input, or the GitHub App's `app_id` and `private_key`",
        )
    owner, name = split_repository(repository)
    names = [name]
    if also_read and "/" in also_read:
        other_owner, other_name = split_repository(also_read)
        if other_owner.lower() == owner.lower() and other_name != name:
            names.append(other_name)
    app = _client(api_url, Auth.AppAuth(int(app_id), private_key), timeout, None).requester
    try:
        _, installation = app.requestJsonAndCheck("GET", f"/repos/{owner}/{name}/installation")
        _, minted = app.requestJsonAndCheck(
            "POST",
            f"/app/installations/{installation['id']}/access_tokens",
            input={"repositories": names},
        )
    except GithubException as exc:
        raise UserError(
            f"could not mint an installation token for {repository}: {_message(exc)}",
            "check that the GitHub App is installed on the repository and the key is current",
        ) from None
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        # PyJWT and cryptography refuse a malformed key while signing the App's JWT.
        raise UserError(
            f"private_key could not sign the GitHub App's token ({type(exc).__name__})",
            "paste the App's whole PEM private key, BEGIN and END lines included",
        ) from None
    return _client(api_url, Auth.Token(minted["token"]), timeout, write_interval), minted["token"]


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
    """``port.GitHost`` over GitHub's REST and GraphQL APIs."""

    def __init__(self, client: Github, server_url: str, retrier: Retrier | None = None) -> None:
        self._client = client
        self.server_url = server_url.rstrip("/")
        self._retrier = retrier or Retrier()

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
                "prefix": f"refs/heads/{BOT_BRANCH_PREFIX}",
            },
        )
        repo = data.get("repository")
        if repo is None:
            raise UserError(
                f"repository {repository} was not found or the token cannot read it",
                "check gitops_repository and the token's access",
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
        branches = tuple(
            BotBranch(
                name=BOT_BRANCH_PREFIX + node["name"],
                oid=node["target"]["oid"],
                pull_request=_first_pr(node["associatedPullRequests"]["nodes"]),
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
        )

    def list_workflow_runs(self, repository: str, head_sha: str) -> tuple[WorkflowRun, ...]:
        data = self._rest(
            "GET",
            f"/repos/{repository}/actions/runs",
            f"listing workflow runs of {repository}",
            params={"head_sha": head_sha, "per_page": 100},
        )
        return tuple(
            WorkflowRun(
                id=int(run["id"]),
                name=str(run.get("name") or ""),
                event=str(run["event"]),
                head_branch=run.get("head_branch"),
                status=str(run["status"]),
                conclusion=run.get("conclusion"),
                run_attempt=int(run.get("run_attempt") or 1),
                created_at=str(run["created_at"]),
                url=str(run["html_url"]),
            )
            for run in data.get("workflow_runs", [])
        )

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
    ) -> FilesAndHistory:
        owner, name = split_repository(repository)
        app_owner, app_name = split_repository(source_repository)
        variables: dict[str, Any] = {
            "owner": owner,
            "name": name,
            "appOwner": app_owner,
            "appName": app_name,
            "commit": commit,
            "depth": history_depth,
        }
        fields = []
        revisions = [("main", revision)] + (
            [("branch", branch_revision)] if branch_revision else []
        )
        for label, rev in revisions:
            for index, path in enumerate(paths):
                variables[f"{label}{index}"] = f"{rev}:{path}"
                fields.append(
                    f"{label}{index}: object(expression: ${label}{index}) "
                    "{ ... on Blob { text isBinary } }"
                )
        declared = "".join(f", ${key}: String!" for key in variables if key[-1].isdigit())
        query = (
            "query Inputs($owner: String!, $name: String!, $appOwner: String!, "
            f"$appName: String!, $commit: GitObjectID!, $depth: Int!{declared}) {{\n"
            "  gitops: repository(owner: $owner, name: $name) {\n    "
            + "\n    ".join(fields)
            + "\n  }\n"
            "  app: repository(owner: $appOwner, name: $appName) {\n"
            f"    candidate: object(oid: $commit) {{ ... on Commit {{ {_COMMIT_FIELDS}\n"
            f"      history(first: $depth) {{ nodes {{ {_COMMIT_FIELDS} }} }} }} }}\n"
            "  }\n}\n"
        )
        data = self._graphql(query, variables)
        gitops = data.get("gitops")
        if gitops is None:
            raise UserError(f"repository {repository} was not found or the token cannot read it")

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
        return FilesAndHistory(
            files=blobs("main"),
            branch_files=blobs("branch") if branch_revision else {},
            candidate=candidate,
            ancestors=ancestors,
        )

    def compare(self, repository: str, base: str, head: str) -> Comparison:
        try:
            data = self._rest(
                "GET",
                f"/repos/{repository}/compare/{base}...{head}",
                f"comparing {base[:7]}...{head[:7]} in {repository}",
                params={"per_page": 100},
                raw_errors=True,
            )
        except GithubException as exc:
            if exc.status == 404:
                # No common history (or an unknown commit): never ordered, so never deployed.
                return Comparison(base, head, "diverged", 0, 0, (), "")
            raise _api_error(f"comparing {base[:7]}...{head[:7]} in {repository}", exc) from None
        return Comparison(
            base=base,
            head=head,
            status=data["status"],
            ahead_by=int(data["ahead_by"]),
            behind_by=int(data["behind_by"]),
            commits=tuple(
                Commit(
                    sha=item["sha"],
                    headline=item["commit"]["message"].split("\n", 1)[0],
                    author=(item.get("author") or {}).get("login")
                    or item["commit"]["author"]["name"],
                    url=item["html_url"],
                )
                for item in data.get("commits", [])
            ),
            url=data["html_url"],
        )

    def read_permission(self, repository: str, user: str) -> str | None:
        """The user's role on the repository (``role_name``); ``None`` when it cannot be read.

        ``author_association`` in a payload is never trusted for this: it says how someone is
        related to the repository, not what they may do in it.
        """
        try:
            data = self._rest(
                "GET",
                f"/repos/{repository}/collaborators/{quote(user, safe='')}/permission",
                f"reading @{user}'s permission",
            )
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
        data = self._graphql(query, variables)
        commit = ((data.get("repository") or {}).get("object")) or {}
        result: dict[str, tuple[FileVersion, ...]] = {}
        for index, path in enumerate(paths):
            nodes = (commit.get(f"h{index}") or {}).get("nodes") or []
            result[path] = tuple(_file_version(node) for node in nodes)
        return result

    def read_pull_request(self, pull_request_id: str) -> PullRequest | None:
        query = (
            "query PullRequest($id: ID!) { node(id: $id) { ... on PullRequest { "
            f"{_PR_FIELDS} }} }} }}"
        )
        data = self._graphql(query, {"id": pull_request_id})
        node = data.get("node")
        return _pr(node) if node else None

    # -- writes ------------------------------------------------------------------------------

    def react(self, repository: str, comment_id: int, content: str) -> None:
        self._rest(
            "POST",
            f"/repos/{repository}/issues/comments/{comment_id}/reactions",
            f"reacting to comment {comment_id}",
            body={"content": content},
        )

    def reply(self, repository: str, issue_number: int, body: str) -> str:
        url = f"/repos/{repository}/issues/{issue_number}/comments"
        attempted = False

        def attempt() -> dict[str, Any]:
            nonlocal attempted
            if attempted:
                # A failed POST may still have landed: look before posting again.
                _, listed = self._client.requester.requestJsonAndCheck(
                    "GET", url, parameters={"per_page": 100}
                )
                for existing in listed if isinstance(listed, list) else []:
                    if (
                        existing.get("body") == body
                        and (existing.get("user") or {}).get("type") == "Bot"
                    ):
                        return dict(existing)
            attempted = True
            _, created = self._client.requester.requestJsonAndCheck(
                "POST", url, input={"body": body}
            )
            return dict(created)

        data = self._with_retries(f"replying on #{issue_number}", attempt)
        return str(data.get("html_url", ""))

    def request_reviewers(
        self, repository: str, number: int, users: Sequence[str], teams: Sequence[str]
    ) -> None:
        self._rest(
            "POST",
            f"/repos/{repository}/pulls/{number}/requested_reviewers",
            f"requesting reviewers on #{number}",
            body={"reviewers": list(users), "team_reviewers": list(teams)},
        )

    def publish(self, request: PublishRequest) -> Published:
        ref = f"refs/heads/{request.branch}"
        variables: dict[str, Any] = {
            "refs": {
                "repositoryId": request.repository_id,
                # Compare-and-swap: the branch must still be where it was read (or absent).
                "refUpdates": [
                    {
                        "name": ref,
                        "beforeOid": request.branch_oid or ZERO_OID,
                        "afterOid": request.base_oid,
                        "force": True,
                    }
                ],
            },
            "commit": {
                "branch": {
                    "repositoryNameWithOwner": request.repository,
                    "branchName": request.branch,
                },
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
                        {"path": change.path}
                        for change in request.changes
                        if change.contents is None
                    ],
                },
            },
        }
        existing = request.pull_request
        if existing is None:
            variables["pr"] = {
                "repositoryId": request.repository_id,
                "baseRefName": request.base_branch,
                "headRefName": request.branch,
                "title": request.title,
                "body": request.body,
            }
            data, errors = self._graphql_partial(PUBLISH_NEW_MUTATION, variables)
            commit = (data.get("createCommitOnBranch") or {}).get("commit")
            pr_node = (data.get("createPullRequest") or {}).get("pullRequest")
            if errors or commit is None or pr_node is None:
                raise ConflictError("; ".join(map(str, errors)) or "the branch moved")
            return Published(_pr(pr_node), commit["oid"], created=True)

        data, errors = self._graphql_partial(PUBLISH_ONTO_PR_MUTATION, variables)
        result = data.get("createCommitOnBranch") or {}
        commit = result.get("commit")
        open_prs = ((result.get("ref") or {}).get("associatedPullRequests") or {}).get("nodes")
        if errors or commit is None:
            raise ConflictError("; ".join(map(str, errors)) or "the branch moved")
        if existing.id not in {node["id"] for node in open_prs or []}:
            raise ConflictError(f"PR #{existing.number} was merged or closed meanwhile")
        update = {"pullRequestId": existing.id, "title": request.title, "body": request.body}
        data, errors = self._graphql_partial(UPDATE_PR_MUTATION, {"pr": update})
        pr_node = (data.get("updatePullRequest") or {}).get("pullRequest")
        if errors or pr_node is None:
            raise ConflictError(
                "; ".join(map(str, errors)) or f"PR #{existing.number} could not be updated"
            )
        return Published(_pr(pr_node), commit["oid"], created=False)

    def start_merge(
        self, pull_request: PullRequest, head_oid: str, label_ids: Sequence[str]
    ) -> MergeStart:
        merge = {
            "pullRequestId": pull_request.id,
            "expectedHeadOid": head_oid,
            "mergeMethod": "SQUASH",
        }
        if label_ids:
            variables: dict[str, Any] = {
                "merge": merge,
                "labels": {"labelableId": pull_request.id, "labelIds": list(label_ids)},
            }
            data, errors = self._graphql_partial(AUTO_MERGE_MUTATION, variables)
        else:
            data, errors = self._graphql_partial(AUTO_MERGE_ONLY_MUTATION, {"merge": merge})
        if data.get("enablePullRequestAutoMerge"):
            return "auto-merge-enabled"
        if any(CLEAN_STATUS in error.message for error in errors):
            return "already-clean"
        raise NotMergeableError("; ".join(map(str, errors)) or "auto-merge was not enabled")

    def merge(self, pull_request: PullRequest, head_oid: str) -> None:
        variables = {
            "merge": {
                "pullRequestId": pull_request.id,
                "expectedHeadOid": head_oid,
                "mergeMethod": "SQUASH",
            }
        }
        data, errors = self._graphql_partial(MERGE_MUTATION, variables)
        if (data.get("mergePullRequest") or {}).get("pullRequest"):
            return
        message = "; ".join(map(str, errors))
        if "head" in message.lower() and ("modified" in message.lower() or "oid" in message):
            raise ConflictError(message)
        raise NotMergeableError(message or "the pull request was not merged")

    def add_labels(self, repository: str, number: int, labels: Sequence[str]) -> None:
        self._rest(
            "POST",
            f"/repos/{repository}/issues/{number}/labels",
            f"labelling #{number} in {repository}",
            body={"labels": list(labels)},
        )

    # -- plumbing ----------------------------------------------------------------------------

    def _rest(
        self,
        verb: str,
        url: str,
        doing: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        raw_errors: bool = False,
    ) -> dict[str, Any]:
        """One REST call, retried when GitHub's answer says another try may work.

        Every REST write the bot makes is idempotent (reactions, labels, reviewers), so it
        may be repeated; a comment, which is not, goes through ``reply``.
        """

        def attempt() -> dict[str, Any]:
            _, data = self._client.requester.requestJsonAndCheck(
                verb,
                url,
                parameters=dict(params) if params else None,
                input=dict(body) if body is not None else None,
            )
            return data if isinstance(data, dict) else {}

        try:
            return self._with_retries(doing, attempt)
        except GithubException as exc:
            if raw_errors:
                raise
            raise _api_error(doing, exc) from None

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

    def _graphql(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        return self._graphql_with_headers(query, variables)[0]

    def _graphql_with_headers(
        self, query: str, variables: Mapping[str, Any]
    ) -> tuple[dict[str, Any], Mapping[str, str]]:
        data, errors, headers = self._graphql_call(query, variables)
        if errors:
            raise UserError(f"GitHub GraphQL error: {'; '.join(map(str, errors))}")
        return data, headers

    def _graphql_partial(
        self, query: str, variables: Mapping[str, Any]
    ) -> tuple[dict[str, Any], list[GraphQLProblem]]:
        """GraphQL data and errors; mutations in one document fail one by one."""
        data, errors, _ = self._graphql_call(query, variables)
        return data, errors

    def _graphql_call(
        self, query: str, variables: Mapping[str, Any]
    ) -> tuple[dict[str, Any], list[GraphQLProblem], Mapping[str, str]]:
        headers: Mapping[str, str] = {}
        try:
            headers, body = self._with_retries(
                "calling GitHub's GraphQL API",
                lambda: self._client.requester.graphql_query(query, dict(variables)),
            )
        except GithubException as exc:
            body = exc.data if isinstance(exc.data, dict) else {}
            if "errors" not in body:
                raise _api_error("calling GitHub's GraphQL API", exc) from None
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


def _first_pr(nodes: Sequence[Mapping[str, Any]]) -> PullRequest | None:
    return _pr(nodes[0]) if nodes else None


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
