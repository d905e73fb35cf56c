"""What a merge-time "four eyes" check reads and writes, as GitHub serves it.

Who last edited a pull request's body, the commits a pull request carries and who wrote them,
whether each reviewer can push, commit statuses (posted, listed, combined, and counted by branch
protection as required checks), and the ``pull_request_review`` webhook. Each test's docstring
cites its evidence; "inferred" marks what no source shows. The rows are in
``docs/sandbox-rules.md`` (23a to 28).
"""

from __future__ import annotations

import json
from typing import Any

import requests

from scoutflow_gitops.sandbox.control import issue_token, push_commit
from scoutflow_gitops.sandbox.control_protection import review_payload
from scoutflow_gitops.sandbox.state import STATUS_LIMIT
from tests.sandbox.contract import FIXTURES, assert_webhook
from tests.sandbox.fixtures import CLIENT_TOKEN, LiveSandbox

GITOPS = "omerbh7/scoutflow-gitops"
REPO_PATH = f"/repos/{GITOPS}"
BOT = "scoutflow-gitops[bot]"
WORKFLOW_BOT = "github-actions[bot]"

# -- helpers -------------------------------------------------------------------------------------


def token(live: LiveSandbox, **request: Any) -> str:
    with live.sandbox.lock:
        return str(issue_token(live.sandbox, request)["token"])


def user_token(live: LiveSandbox, login: str) -> str:
    return token(live, kind="user", user=login)


def workflow_token(live: LiveSandbox, **permissions: str) -> str:
    return token(live, kind="workflow", repo=GITOPS, permissions=permissions)


def rest(
    live: LiveSandbox, method: str, path: str, body: object = None, *, auth: str = CLIENT_TOKEN
) -> requests.Response:
    return requests.request(
        method, live.url + path, json=body, headers={"Authorization": f"token {auth}"}, timeout=10
    )


def gql(live: LiveSandbox, query: str, *, auth: str = CLIENT_TOKEN, **variables: Any) -> Any:
    response = requests.post(
        f"{live.url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"bearer {auth}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def control(live: LiveSandbox, method: str, path: str, body: object = None) -> Any:
    response = live.control(method, path, body)
    assert response.status_code in (200, 201, 204), response.text
    return response.json() if response.content else None


def branch(live: LiveSandbox, name: str, commits: int = 1) -> list[str]:
    """A branch off main with ``commits`` developer commits; their SHAs, oldest first."""
    sandbox = live.sandbox
    with sandbox.lock:
        repo = sandbox.repo(GITOPS)
        sandbox.create_ref(repo, f"refs/heads/{name}", sandbox.branch_head(repo, "main"))
    return [
        push_commit(sandbox, GITOPS, {f"{name}-{i}.txt": f"{i}\n"}, branch=name)
        for i in range(commits)
    ]


def open_pull(live: LiveSandbox, name: str, commits: int = 1) -> dict[str, Any]:
    """A pull request the bot opens from a new branch (REST: also the first read of it)."""
    branch(live, name, commits)
    body = {"head": name, "base": "main", "title": f"Promote {name}", "body": "Plan v1"}
    response = rest(live, "POST", f"{REPO_PATH}/pulls", body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


PULL_FACTS = """query($n: Int!) { repository(owner: "omerbh7", name: "scoutflow-gitops") {
  pullRequest(number: $n) { body editor { __typename login } lastEditedAt } } }"""


def facts(live: LiveSandbox, number: int) -> dict[str, Any]:
    pull: dict[str, Any] = gql(live, PULL_FACTS, n=number)["data"]["repository"]["pullRequest"]
    return pull


def now(live: LiveSandbox) -> str:
    moment: str = control(live, "GET", "/clock")["now"]
    return moment


def post_status(
    live: LiveSandbox, sha: str, state: str, context: str = "four-eyes", **fields: str
) -> requests.Response:
    auth = workflow_token(live, statuses="write")
    body = {"state": state, "context": context, **fields}
    return rest(live, "POST", f"{REPO_PATH}/statuses/{sha}", body, auth=auth)


def merge_state(live: LiveSandbox, number: int) -> str:
    state: str = rest(live, "GET", f"{REPO_PATH}/pulls/{number}").json()["mergeable_state"]
    return state


def example(event: str, index: int) -> dict[str, Any]:
    examples: list[dict[str, Any]] = json.loads(
        (FIXTURES / "webhooks" / f"{event}.json").read_text(encoding="utf-8")
    )
    return examples[index]


# -- who edited the body ---------------------------------------------------------------------------


def test_a_body_edit_records_its_editor_and_time(live_sandbox: LiveSandbox) -> None:
    """GraphQL ``PullRequest.editor`` is "The actor who edited this pull request's body." and
    ``lastEditedAt`` "The moment the editor made the last edit" (schema, ``type PullRequest``);
    both are nullable. Documented: REST ``PATCH /pulls/{n}`` and ``PATCH /issues/{n}`` take a
    ``body`` (OpenAPI ``pulls/update``, ``issues/update``), GraphQL ``updatePullRequest`` a
    ``body`` (schema ``UpdatePullRequestInput``). Inferred: opening a pull request is no edit,
    a title-only change or a body set to what it already is records none (the field is about
    the body's edits), and the latest edit wins.
    """
    live = live_sandbox
    number = open_pull(live, "edits")["number"]
    assert facts(live, number) == {"body": "Plan v1", "editor": None, "lastEditedAt": None}

    title_only = rest(live, "PATCH", f"{REPO_PATH}/pulls/{number}", {"title": "Renamed"})
    same_body = rest(live, "PATCH", f"{REPO_PATH}/pulls/{number}", {"body": "Plan v1"})
    assert (title_only.status_code, same_body.status_code) == (200, 200)
    assert facts(live, number)["editor"] is None

    control(live, "POST", "/clock", {"advance_minutes": 5})
    writer = user_token(live, "dev-writer")
    edited = rest(live, "PATCH", f"{REPO_PATH}/pulls/{number}", {"body": "Plan v2"}, auth=writer)
    assert edited.status_code == 200, edited.text
    first_edit = now(live)
    assert facts(live, number) == {
        "body": "Plan v2",
        "editor": {"__typename": "User", "login": "dev-writer"},
        "lastEditedAt": first_edit,
    }

    control(live, "POST", "/clock", {"advance_minutes": 5})
    manager = user_token(live, "release-manager")
    again = rest(live, "PATCH", f"{REPO_PATH}/issues/{number}", {"body": "Plan v3"}, auth=manager)
    assert again.status_code == 200, again.text
    latest = facts(live, number)
    assert (latest["editor"]["login"], latest["lastEditedAt"]) == ("release-manager", now(live))
    assert latest["lastEditedAt"] != first_edit


def test_each_kind_of_token_edits_as_its_own_identity(live_sandbox: LiveSandbox) -> None:
    """The editor is whoever the token acts as. An installation token acts as the App's bot
    (``<slug>[bot]``, GraphQL type ``Bot``): an App "should authenticate as an app installation
    when you want to attribute app activity to the app"
    (https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/about-authentication-with-a-github-app).
    A workflow's ``GITHUB_TOKEN`` is an installation token of the GitHub Actions App
    (https://docs.github.com/actions/security-guides/automatic-token-authentication) whose
    ``viewer`` is ``github-actions[bot]``
    (https://github.com/nchaulet/github-action-gh-pages/pull/5). Inferred: the editor recorded
    for a body edit is that same identity, through REST and GraphQL alike. GraphQL spells a
    ``Bot``'s login without REST's "[bot]" (fullsend-ai/fullsend#6205, palantir/policy-bot#44).
    """
    live = live_sandbox
    number = open_pull(live, "identities")["number"]

    by_app = rest(live, "PATCH", f"{REPO_PATH}/issues/{number}", {"body": "by the App"})
    assert by_app.status_code == 200, by_app.text
    assert facts(live, number)["editor"] == {"__typename": "Bot", "login": "scoutflow-gitops"}

    pull_id = gql(
        live,
        """query($n: Int!) { repository(owner: "omerbh7", name: "scoutflow-gitops") {
             pullRequest(number: $n) { id } } }""",
        n=number,
    )["data"]["repository"]["pullRequest"]["id"]
    job = workflow_token(live, pull_requests="write")
    answer = gql(
        live,
        """mutation($id: ID!) { updatePullRequest(input: {pullRequestId: $id, body: "by a job"}) {
             pullRequest { editor { login } } } }""",
        auth=job,
        id=pull_id,
    )
    assert answer["data"]["updatePullRequest"]["pullRequest"]["editor"] == {
        "login": "github-actions"
    }
    assert facts(live, number)["editor"] == {"__typename": "Bot", "login": "github-actions"}


# -- the commits of a pull request -----------------------------------------------------------------

COMMITS = """query($n: Int!, $first: Int, $last: Int, $after: String) {
  repository(owner: "omerbh7", name: "scoutflow-gitops") { pullRequest(number: $n) {
    headRefOid
    commits(first: $first, last: $last, after: $after) {
      totalCount pageInfo { hasNextPage endCursor }
      nodes { id url commit { oid author { name user { login } } committer { name } } }
    } } } }"""


def caught_up(live: LiveSandbox, number: int, branch_name: str) -> None:
    """Read the pull request until it shows its branch's head (it follows a push late)."""
    with live.sandbox.lock:
        tip = live.sandbox.branch_head(live.sandbox.repo(GITOPS), branch_name)
    for _ in range(3):
        pull = rest(live, "GET", f"{REPO_PATH}/pulls/{number}").json()
        if pull["head"]["sha"] == tip:
            return
    raise AssertionError(f"pull request {number} never showed {tip}")


def commits(live: LiveSandbox, number: int, **page: Any) -> dict[str, Any]:
    found: dict[str, Any] = gql(live, COMMITS, n=number, **page)["data"]["repository"][
        "pullRequest"
    ]["commits"]
    return found


def test_pull_request_commits_run_from_base_to_head_oldest_first(
    live_sandbox: LiveSandbox,
) -> None:
    """``PullRequest.commits`` is "A list of commits present in this pull request's head branch
    not present in the base branch." (schema): ``git log base..head``, so a commit on the base
    after branching is not one. ``first`` gives the oldest, ``last`` the newest, each page
    still oldest first (https://github.com/nodejs/node-core-utils/issues/477, tried in
    GitHub's explorer). ``GitActor.user`` is "The GitHub user corresponding to the email
    field." (schema); each node's url is the commit on the pull request's page.
    """
    live = live_sandbox
    sandbox = live.sandbox
    writer = sandbox.user("dev-writer")
    shas = branch(live, "three", 2)
    shas.append(
        push_commit(
            sandbox,
            GITOPS,
            {"three-2.txt": "by dev-writer\n"},
            branch="three",
            author=("Dev Writer", writer.email),
        )
    )
    push_commit(sandbox, GITOPS, {"base-only.txt": "not in the PR\n"})
    created = rest(
        live, "POST", f"{REPO_PATH}/pulls", {"head": "three", "base": "main", "title": "T"}
    )
    number = created.json()["number"]

    first = commits(live, number, first=2)
    assert first["totalCount"] == 3
    assert [n["commit"]["oid"] for n in first["nodes"]] == shas[:2]
    assert first["pageInfo"]["hasNextPage"] is True
    rest_of = commits(live, number, first=2, after=first["pageInfo"]["endCursor"])
    assert [n["commit"]["oid"] for n in rest_of["nodes"]] == shas[2:]
    newest = commits(live, number, last=1)["nodes"][0]
    assert newest["commit"]["oid"] == shas[-1]
    assert newest["commit"]["author"]["user"] == {"login": "dev-writer"}
    assert newest["url"].endswith(f"/{GITOPS}/pull/{number}/commits/{shas[-1]}")
    # The developer's own email names no account.
    assert first["nodes"][0]["commit"]["author"]["user"] is None

    node = gql(
        live,
        "query($id: ID!) { node(id: $id) { ... on PullRequestCommit { commit { oid } } } }",
        id=newest["id"],
    )
    assert node["data"]["node"] == {"commit": {"oid": shas[-1]}}


def test_a_commit_made_through_graphql_is_authored_by_the_token_owner(
    live_sandbox: LiveSandbox,
) -> None:
    """``createCommitOnBranch``: "A commit created by a successful execution of this mutation
    will be authored by the owner of the credential which authenticates the API request. The
    committer will be identical to that of commits authored using the web interface." (schema,
    ``Mutation.createCommitOnBranch``). ``GitActor.user`` is typed ``User``, so a bot author
    has none (``... on Bot`` cannot even be spread there: https://github.com/apache/devlake/pull/9086;
    bot-authored commits come back with a null author user:
    https://github.com/bazel-contrib/publish-to-bcr/issues/82): a check that weighs commit
    authors must recognise the App's commits by name and email, not by ``user``.
    """
    live = live_sandbox
    number = open_pull(live, "authored")["number"]
    document = """mutation($head: GitObjectID!, $path: String!) {
      createCommitOnBranch(input: {
        branch: {repositoryNameWithOwner: "omerbh7/scoutflow-gitops", branchName: "authored"},
        message: {headline: "More"}, expectedHeadOid: $head,
        fileChanges: {additions: [{path: $path, contents: "eA=="}]}}) { commit { oid } } }"""

    def head() -> str:
        with live.sandbox.lock:
            repo = live.sandbox.repo(GITOPS)
            return live.sandbox.branch_head(repo, "authored")

    by_app = gql(live, document, head=head(), path="app.txt")
    assert "errors" not in by_app, by_app
    writer = user_token(live, "dev-writer")
    by_writer = gql(live, document, auth=writer, head=head(), path="writer.txt")
    assert "errors" not in by_writer, by_writer

    caught_up(live, number, "authored")
    nodes = commits(live, number, last=2)["nodes"]
    authors = [(n["commit"]["author"]["name"], n["commit"]["author"]["user"]) for n in nodes]
    assert authors == [(BOT, None), ("dev-writer", {"login": "dev-writer"})]
    assert {n["commit"]["committer"]["name"] for n in nodes} == {"GitHub"}


# -- reviewers' push access ----------------------------------------------------------------------

REVIEWS = """query($n: Int!) { repository(owner: "omerbh7", name: "scoutflow-gitops") {
  pullRequest(number: $n) { reviews(first: 10) { nodes { author { login }
    authorCanPushToRepository } } } } }"""


def test_author_can_push_is_the_reviewers_access_when_read(live_sandbox: LiveSandbox) -> None:
    """``PullRequestReview.authorCanPushToRepository``: "Indicates whether the author of this
    review has push access to the repository." (schema); push access is the write, maintain or
    admin role (REST ``permissions.push``, OpenAPI ``repos/get-collaborator-permission-level``).
    Anyone with read access may review: "When required reviews are enabled, anyone with access
    to the repository can approve changes in a pull request. However, you won't be able to
    merge your pull request until the required number of reviewers with write or admin
    permissions in the repository approve"
    (https://docs.github.com/enterprise/2.16/user/github/administering-a-repository/about-required-reviews-for-pull-requests);
    "After a pull request is opened, anyone with read access can review and comment on the
    changes it proposes." (GitHub's "About pull request reviews" as copied in 2016:
    http://www.teknoids.com/2016/12/08/about-pull-request-reviews/).
    Inferred: an App's or a job's token needs Pull requests: write to submit one, as for every
    pull request write (a refusal is 403, docs/sandbox-rules.md row 3a); the field is the
    author's access when read, not when they reviewed.
    """
    live = live_sandbox
    number = open_pull(live, "reviewed")["number"]
    control(
        live,
        "POST",
        "/reviews",
        {"repo": GITOPS, "pull": number, "user": "dev-writer", "event": "APPROVE"},
    )
    path = f"{REPO_PATH}/pulls/{number}/reviews"
    reader = rest(live, "POST", path, {"event": "APPROVE"}, auth=user_token(live, "qa-reader"))
    assert (reader.status_code, reader.json()["state"]) == (200, "APPROVED")
    read_only_job = workflow_token(live, pull_requests="read")
    refused = rest(live, "POST", path, {"event": "APPROVE"}, auth=read_only_job)
    assert (refused.status_code, refused.json()["message"]) == (
        403,
        "Resource not accessible by integration",
    )

    def can_push() -> dict[str, bool]:
        nodes = gql(live, REVIEWS, n=number)["data"]["repository"]["pullRequest"]["reviews"]
        return {n["author"]["login"]: n["authorCanPushToRepository"] for n in nodes["nodes"]}

    assert can_push() == {"dev-writer": True, "qa-reader": False}
    control(
        live,
        "POST",
        "/collaborators",
        {"repo": GITOPS, "user": "dev-writer", "permission": "read"},
    )
    assert can_push() == {"dev-writer": False, "qa-reader": False}


def test_the_new_pull_request_fields_need_pull_requests_read(live_sandbox: LiveSandbox) -> None:
    """A token lacking a permission gets one ``FORBIDDEN`` error per refused field, "Resource
    not accessible by integration", the field null (docs/sandbox-rules.md row 3b:
    https://github.com/fpicalausa/remove-stale-branches/issues/49). Inferred, like the other
    pull request fields: ``editor``, ``lastEditedAt``, ``commits`` and a review's
    ``authorCanPushToRepository`` need Pull requests: read, also where the pull request is
    reached through an issue comment, which Issues: read alone may read.
    """
    live = live_sandbox
    number = open_pull(live, "guarded")["number"]
    comment = rest(live, "POST", f"{REPO_PATH}/issues/{number}/comments", {"body": "hi"}).json()
    issues_only = token(
        live, kind="installation", repositories=[GITOPS], permissions={"issues": "read"}
    )
    query = """query($id: ID!) { node(id: $id) { ... on IssueComment { body
      pullRequest { editor { login } lastEditedAt } } } }"""
    answer = gql(live, query, auth=issues_only, id=comment["node_id"])
    assert answer["data"]["node"] == {
        "body": "hi",
        "pullRequest": {"editor": None, "lastEditedAt": None},
    }
    refused = {(tuple(e["path"]), e["type"], e["message"]) for e in answer["errors"]}
    assert refused == {
        (("node", "pullRequest", field), "FORBIDDEN", "Resource not accessible by integration")
        for field in ("editor", "lastEditedAt")
    }
    commits_query = """query($id: ID!) { node(id: $id) { ... on IssueComment {
      pullRequest { commits(first: 1) { totalCount } } } } }"""
    refused_commits = gql(live, commits_query, auth=issues_only, id=comment["node_id"])
    assert refused_commits["errors"][0]["type"] == "FORBIDDEN"
    assert refused_commits["errors"][0]["path"] == ["node", "pullRequest", "commits"]

    pulls_read = token(
        live, kind="installation", repositories=[GITOPS], permissions={"pull_requests": "read"}
    )
    allowed = gql(live, COMMITS, auth=pulls_read, n=number, first=5)
    assert allowed["data"]["repository"]["pullRequest"]["commits"]["totalCount"] == 1


# -- commit statuses -------------------------------------------------------------------------------


def test_a_status_needs_the_statuses_permission_and_has_githubs_shape(
    live_sandbox: LiveSandbox,
) -> None:
    """``POST /repos/{o}/{r}/statuses/{sha}`` answers 201 with the status, a ``Location``
    header naming ``/statuses/{sha}``, ``context`` "default" when none is given (OpenAPI
    ``repos/create-commit-status``; the fields and their values as in the recorded exchange
    ``create-status`` of octokit/fixtures: ``url``, ``avatar_url`` (the creator's),
    ``id``, ``node_id``, ``state``, ``description``, ``target_url``, ``context``, ``created_at``,
    ``updated_at``, ``creator``). It needs the Commit statuses permission (``statuses`` for a
    job's token: https://docs.github.com/actions/writing-workflows/choosing-what-your-workflow-does/controlling-permissions-for-github_token);
    without it 403 "Resource not accessible by integration" (https://github.com/apache/doris/pull/39553,
    ``POST /statuses``). The App as seeded (the README's permissions) has no statuses permission.
    """
    live = live_sandbox
    sha = live.info.gitops_head
    refused = rest(live, "POST", f"{REPO_PATH}/statuses/{sha}", {"state": "success"})
    assert (refused.status_code, refused.json()["message"]) == (
        403,
        "Resource not accessible by integration",
    )
    no_statuses = workflow_token(live, contents="write", pull_requests="write")
    also_refused = rest(
        live, "POST", f"{REPO_PATH}/statuses/{sha}", {"state": "success"}, auth=no_statuses
    )
    assert also_refused.status_code == 403
    # Reading statuses needs the permission too (at read level).
    unread = rest(live, "GET", f"{REPO_PATH}/commits/{sha}/status", auth=no_statuses)
    assert (unread.status_code, unread.json()["message"]) == (
        403,
        "Resource not accessible by integration",
    )

    created = rest(
        live,
        "POST",
        f"{REPO_PATH}/statuses/{sha}",
        {"state": "pending", "description": "Waiting for a second reviewer"},
        auth=workflow_token(live, statuses="write"),
    )
    assert created.status_code == 201, created.text
    status = created.json()
    assert set(status) == {
        "url",
        "avatar_url",
        "id",
        "node_id",
        "state",
        "description",
        "target_url",
        "context",
        "created_at",
        "updated_at",
        "creator",
    }
    assert status["url"] == f"{live.url}{REPO_PATH}/statuses/{sha}"
    assert created.headers["Location"] == status["url"]
    assert (status["state"], status["context"], status["target_url"]) == (
        "pending",
        "default",
        None,
    )
    assert status["description"] == "Waiting for a second reviewer"
    assert status["creator"]["login"] == WORKFLOW_BOT
    assert status["avatar_url"] == status["creator"]["avatar_url"]
    assert status["node_id"].startswith("SC_")
    assert status["created_at"] == status["updated_at"] == now(live)


def test_statuses_are_refused_as_github_refuses_them(live_sandbox: LiveSandbox) -> None:
    """422 "Validation Failed" with one ``Status`` error for: a state outside error, failure,
    pending, success ("state is not included in the list":
    https://github.com/virt-s1/rhel-edge/issues/163, https://github.com/travis-ci/travis-ci/issues/1283);
    a description over 140 characters ("description is too long (maximum is 140 characters)":
    https://github.com/sclorg/testing-farm-as-github-action/pull/187,
    https://github.com/vince-riv/argo-diff/issues/49); a ``sha`` that is not one ("sha must be a
    40 character SHA1": https://github.com/activebridge/projectr/issues/53); the 1001st status of
    one sha and context (OpenAPI ``repos/create-commit-status``: "there is a limit of 1000
    statuses per `sha` and `context` within a repository"; "This SHA and context has reached the
    maximum number of statuses.", no ``field``: https://github.com/openshift/release/issues/6179).
    A commit the repository lacks: 422 ``{"message": "No commit found for SHA: <sha>"}``
    (https://github.com/kubernetes/test-infra/issues/21987, full body). GitHub's description
    documents only 201 for the operation, so these answers are left out of the contract check.
    """
    live = live_sandbox
    sha = live.info.gitops_head

    def refusal(response: requests.Response) -> tuple[int, str, list[dict[str, str]]]:
        body = response.json()
        return response.status_code, body["message"], body.get("errors", [])

    def status_error(field: str | None, message: str) -> list[dict[str, str]]:
        error = {"resource": "Status", "code": "custom", "message": message}
        return [{**error, "field": field}] if field else [error]

    assert refusal(post_status(live, sha, "cancelled")) == (
        422,
        "Validation Failed",
        status_error("state", "state is not included in the list"),
    )
    assert refusal(post_status(live, sha, "success", description="x" * 141)) == (
        422,
        "Validation Failed",
        status_error("description", "description is too long (maximum is 140 characters)"),
    )
    assert post_status(live, sha, "success", description="x" * 140).status_code == 201
    assert refusal(post_status(live, "main", "success")) == (
        422,
        "Validation Failed",
        status_error("sha", "sha must be a 40 character SHA1"),
    )
    unknown = "0123456789abcdef0123456789abcdef01234567"
    assert refusal(post_status(live, unknown, "success")) == (
        422,
        f"No commit found for SHA: {unknown}",
        [],
    )

    with live.sandbox.lock:
        repo, sandbox = live.sandbox.repo(GITOPS), live.sandbox
        # The one posted above is the first; a context differing only in case is the same one.
        for _ in range(STATUS_LIMIT - 1):
            sandbox.create_status(repo, sha, "pending", sandbox.bot, context="Four-Eyes")
    assert refusal(post_status(live, sha, "success")) == (
        422,
        "Validation Failed",
        status_error(None, "This SHA and context has reached the maximum number of statuses."),
    )
    assert post_status(live, sha, "success", context="another").status_code == 201
    live.sandbox.clear_requests()


def test_statuses_are_listed_newest_first_and_combined_per_context(
    live_sandbox: LiveSandbox,
) -> None:
    """``GET /commits/{ref}/statuses``: "The ref can be a SHA, a branch name, or a tag name.
    Statuses are returned in reverse chronological order." ``GET /commits/{ref}/status``: the
    latest status of each context and a combined ``state``: "failure if any of the contexts
    report as error or failure; pending if there are no statuses or a context is pending;
    success if the latest status for all contexts is success" (OpenAPI
    ``repos/list-commit-statuses-for-ref``, ``repos/get-combined-status-for-ref``; the
    ``commit-ref`` parameter also allows ``heads/BRANCH``). The context "is case-insensitive"
    (the request schema). The combined answer's fields, and its statuses without ``creator``,
    oldest context first, as in the recorded exchange ``create-status`` of octokit/fixtures.
    Inferred: a ref that names no commit is 404 on both.
    """
    live = live_sandbox
    sha = branch(live, "statuses")[0]
    reads = workflow_token(live, statuses="read")

    def get(path: str) -> requests.Response:
        return rest(live, "GET", f"{REPO_PATH}{path}", auth=reads)

    empty = get(f"/commits/{sha}/status").json()
    assert (empty["state"], empty["statuses"], empty["total_count"]) == ("pending", [], 0)

    ids = []
    for state, context in (
        ("failure", "Four-Eyes"),
        ("success", "lint"),
        ("success", "four-eyes"),
        ("pending", "deploy"),
    ):
        response = post_status(live, sha, state, context)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])

    listed = get(f"/commits/{sha}/statuses")
    assert [s["id"] for s in listed.json()] == ids[::-1]
    paged = get("/commits/statuses/statuses?per_page=3")
    assert [s["id"] for s in paged.json()] == ids[:0:-1]
    assert 'rel="next"' in paged.headers["Link"]

    combined = get("/commits/heads/statuses/status").json()
    assert combined["state"] == "pending"
    assert combined["sha"] == sha
    assert combined["total_count"] == 3
    assert [(s["context"], s["state"]) for s in combined["statuses"]] == [
        ("lint", "success"),
        ("four-eyes", "success"),
        ("deploy", "pending"),
    ]
    assert all("creator" not in s for s in combined["statuses"])
    assert combined["url"] == f"{live.url}{REPO_PATH}/commits/{sha}/status"
    assert combined["commit_url"] == f"{live.url}{REPO_PATH}/commits/{sha}"

    post_status(live, sha, "error", "deploy")
    assert get(f"/commits/{sha}/status").json()["state"] == "failure"
    post_status(live, sha, "success", "Deploy")
    assert get(f"/commits/{sha}/status").json()["state"] == "success"

    reader = user_token(live, "qa-reader")
    assert rest(live, "GET", f"{REPO_PATH}/commits/{sha}/status", auth=reader).status_code == 200
    missing = get("/commits/no-such-branch/statuses")
    assert (missing.status_code, missing.json()["message"]) == (404, "Not Found")


def test_a_required_context_is_met_by_its_latest_status(live_sandbox: LiveSandbox) -> None:
    """ "Required status checks can be checks or statuses"; "If you have a check and a status
    with the same name, and you select that name as a required status check, both the check and
    the status are required."
    (https://docs.github.com/pull-requests/collaborating-with-pull-requests/collaborating-on-repositories-with-code-quality-features/troubleshooting-required-status-checks).
    The latest status of the context counts (the combined status, OpenAPI
    ``repos/get-combined-status-for-ref``). A required check that has not passed blocks the
    merge: ``mergeStateStatus`` BLOCKED ("The merge is blocked.") and 405 with GitHub's text
    (docs/sandbox-rules.md row 11e); a failing status that is not required leaves it UNSTABLE
    ("Mergeable with non-passing commit status.", schema ``MergeStateStatus``). Inferred: error
    blocks as failure does ("is failing"), pending as a missing one ("is expected").
    """
    live = live_sandbox
    control(
        live,
        "POST",
        f"/repos/{GITOPS}/protection",
        {"required_status_checks": {"strict": False, "contexts": ["four-eyes"]}},
    )
    created = open_pull(live, "guarded-merge")
    number, head = created["number"], created["head"]["sha"]
    assert merge_state(live, number) == "blocked"
    merge = f"{REPO_PATH}/pulls/{number}/merge"

    post_status(live, head, "failure")
    refused = rest(live, "PUT", merge, {"sha": head})
    assert (refused.status_code, refused.json()["message"]) == (
        405,
        'Required status check "four-eyes" is failing.',
    )
    post_status(live, head, "error")
    assert merge_state(live, number) == "blocked"
    post_status(live, head, "pending")
    pending = rest(live, "PUT", merge, {"sha": head})
    assert pending.json()["message"] == 'Required status check "four-eyes" is expected.'

    post_status(live, head, "success", "Four-Eyes")
    assert merge_state(live, number) == "clean"
    rollup = gql(
        live,
        """query($n: Int!) { repository(owner: "omerbh7", name: "scoutflow-gitops") {
             pullRequest(number: $n) { mergeStateStatus
               commits(last: 1) { nodes { commit { statusCheckRollup { state } } } } } } }""",
        n=number,
    )["data"]["repository"]["pullRequest"]
    assert rollup["mergeStateStatus"] == "CLEAN"
    assert rollup["commits"]["nodes"][0]["commit"]["statusCheckRollup"] == {"state": "SUCCESS"}

    # A check run of the same name is required too.
    control(
        live,
        "POST",
        "/checks",
        {"repo": GITOPS, "sha": head, "conclusion": "failure", "context": "four-eyes"},
    )
    assert merge_state(live, number) == "blocked"
    control(
        live,
        "POST",
        "/checks",
        {"repo": GITOPS, "sha": head, "conclusion": "success", "context": "four-eyes"},
    )
    post_status(live, head, "failure", "lint")
    assert merge_state(live, number) == "unstable"
    merged = rest(live, "PUT", merge, {"sha": head})
    assert (merged.status_code, merged.json()["merged"]) == (200, True)


# -- the pull_request_review webhook ---------------------------------------------------------------


def test_review_payloads_have_the_fields_of_githubs_examples(live_sandbox: LiveSandbox) -> None:
    """GitHub's ``pull_request_review`` examples (octokit/webhooks,
    ``tests/fixtures/github/webhooks/pull_request_review.json``): ``action`` submitted or
    dismissed, ``review`` as REST shows it but with the state in lower case ("commented",
    "dismissed"), ``pull_request`` in the list form (no mergeability), ``repository``,
    ``sender``, ``installation`` (an App's delivery). The payload is built without reading the
    pull request, as a delivery is no client's read. Dismissing stale approvals on a push is
    docs/sandbox-rules.md row 12b.
    """
    live = live_sandbox
    sandbox, shapes = live.sandbox, live.server.shapes
    control(
        live,
        "POST",
        f"/repos/{GITOPS}/protection",
        {"required_pull_request_reviews": {"dismiss_stale_reviews": True}},
    )
    number = open_pull(live, "webhook")["number"]
    body = {"repo": GITOPS, "pull": number, "user": "dev-writer", "event": "APPROVE"}
    review = control(live, "POST", "/reviews", body)

    submitted = review_payload(sandbox, shapes, GITOPS, number, review["id"], "submitted")
    real = example("pull_request_review", 2)
    assert set(submitted) == set(real)
    assert set(submitted["review"]) == set(real["review"])
    assert set(submitted["pull_request"]) == set(real["pull_request"])
    assert_webhook("pull_request_review", submitted)
    assert (submitted["action"], submitted["review"]["state"]) == ("submitted", "approved")
    assert submitted["sender"]["login"] == submitted["review"]["user"]["login"] == "dev-writer"
    assert submitted["pull_request"]["number"] == number

    with sandbox.lock:
        pending_review = sandbox.submit_review(
            sandbox.repo(GITOPS),
            sandbox.pull(sandbox.repo(GITOPS), number),
            sandbox.user("qa-reader"),
            event=None,
        )
    push_commit(sandbox, GITOPS, {"more.txt": "more\n"}, branch="webhook")
    moved = review_payload(sandbox, shapes, GITOPS, number, review["id"], "submitted")
    assert moved["pull_request"]["head"]["sha"] == submitted["pull_request"]["head"]["sha"]
    # Had building the payloads been a read, this read would already show the new head.
    first_read = rest(live, "GET", f"{REPO_PATH}/pulls/{number}").json()
    assert first_read["head"]["sha"] == submitted["pull_request"]["head"]["sha"]
    caught_up(live, number, "webhook")

    dismissed = control(
        live,
        "POST",
        "/review-payloads",
        {
            "repo": GITOPS,
            "pull": number,
            "review": review["id"],
            "action": "dismissed",
            "sender": "omerbh7",
        },
    )
    assert (dismissed["action"], dismissed["review"]["state"]) == ("dismissed", "dismissed")
    assert dismissed["sender"]["login"] == "omerbh7"
    assert set(dismissed["review"]) == set(example("pull_request_review", 1)["review"])
    assert_webhook("pull_request_review", dismissed)

    for review_id, action in (
        (review["id"], "submitted"),
        (pending_review.id, "submitted"),
        (pending_review.id, "dismissed"),
        (review["id"], "edited"),
    ):
        refused = live.control(
            "POST",
            "/review-payloads",
            {"repo": GITOPS, "pull": number, "review": review_id, "action": action},
        )
        assert refused.status_code == 422, (review_id, action, refused.text)
    missing = live.control(
        "POST",
        "/review-payloads",
        {"repo": GITOPS, "pull": number, "review": 1, "action": "submitted"},
    )
    assert missing.status_code == 404
