"""The GitHub adapter's tokens, error paths and reads, against GitHub-shaped answers (`responses`).

The happy paths run against the simulator in tests/e2e; here GitHub answers the way it does when
things go wrong: rate limits, server errors, dropped connections, bad credentials, tokens that
cannot see a repository or lack a permission, GraphQL errors of every type, long pagination.
Error texts are GitHub's own, each cited where it is used. Every GraphQL document the reads send
is checked against GitHub's schema (the trimmed copy the simulator serves).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.resources import files
from typing import Any

import pytest
import requests
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from graphql import GraphQLSchema, build_schema, parse, validate
from responses import matchers

from scoutflow_gitops.errors import UserError
from scoutflow_gitops.github import (
    READER_PERMISSIONS,
    WRITER_PERMISSIONS,
    AccessError,
    GitHubHost,
    connect,
)
from scoutflow_gitops.port import ConflictError
from scoutflow_gitops.retry import Failure, Retrier, RetryPolicy, wait_for

API = "http://api.github.test:8080"
GRAPHQL = f"{API}/graphql"
GITOPS = "omerbh7/scoutflow-gitops"
APP = "omerbh7/scoutflow-app"
RUNS = f"{API}/repos/{APP}/actions/runs"
SHA = "1f3c5e7a9b2d4f6081a3c5e7f9b1d3f5a7c9e1b3"
OLD = "e7c24f013e837f438f66a6e039e673f880e2cb89"
CONFIG = ".github/scoutflow-gitops.yml"
# GitHub's answer for a private repository a token does not cover (REST).
NOT_FOUND = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
# GitHub's 403 for an installation token without the permission an endpoint needs.
NOT_ACCESSIBLE = {
    "message": "Resource not accessible by integration",
    "documentation_url": "https://docs.github.com/rest",
    "status": "403",
}


def _schema() -> GraphQLSchema:
    sdl = files("scoutflow_gitops.sandbox").joinpath("data/schema.graphql").read_text("utf-8")
    built = build_schema(sdl, assume_valid_sdl=True)
    built._validation_errors = []  # GitHub's SDL breaks a rule graphql-core checks; see writes
    return built


SCHEMA = _schema()


class FakeTime:
    """A clock that only moves when the retrier sleeps."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture(autouse=True)
def mocked_github() -> Iterator[None]:
    """Every HTTP call in these tests goes to `responses`; an unexpected one fails."""
    responses.start()
    try:
        yield
    finally:
        responses.stop()
        responses.reset()


def retrier(fake_time: FakeTime) -> Retrier:
    return Retrier(
        RetryPolicy(attempts=4, base_seconds=1.0, deadline_seconds=120.0),
        clock=lambda: fake_time.now,
        wall_clock=lambda: fake_time.now,
        sleep=fake_time.sleep,
    )


@pytest.fixture
def host(fake_time: FakeTime) -> GitHubHost:
    connection = connect(api_url=API, token="t0ken", repository=GITOPS, write_interval=None)
    return GitHubHost(connection, "https://github.test", retrier(fake_time))


def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


PEM = _pem()


def mint(installation: int, token: str) -> None:
    responses.add(
        responses.POST,
        f"{API}/app/installations/{installation}/access_tokens",
        json={"token": token, "expires_at": "2026-11-27T12:00:00Z"},
    )


def installation(repository: str, installation_id: int) -> None:
    responses.add(
        responses.GET, f"{API}/repos/{repository}/installation", json={"id": installation_id}
    )


def app_host(fake_time: FakeTime, minted: list[str]) -> GitHubHost:
    connection = connect(
        api_url=API,
        app_id="12",
        private_key=PEM,
        repository=GITOPS,
        on_token=minted.append,
        write_interval=None,
    )
    return GitHubHost(connection, "https://github.test", retrier(fake_time))


def body(call: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(call.request.body or b"{}")
    return data


def token_of(call: Any) -> str:
    return str(call.request.headers["Authorization"]).removeprefix("token ")


def run_json(run_id: int = 1, name: str = "Backend CI") -> dict[str, object]:
    """A run as the REST API lists it: `path` and `workflow_id` come with it."""
    return {
        "id": run_id,
        "name": name,
        "event": "push",
        "head_branch": "main",
        "status": "completed",
        "conclusion": "success",
        "run_attempt": 1,
        "created_at": "2026-11-27T10:00:00Z",
        "html_url": f"https://github.test/r/{run_id}",
        "path": ".github/workflows/backend-ci.yml",
        "workflow_id": 161335,
    }


def no_runs() -> dict[str, object]:
    return {"total_count": 0, "workflow_runs": []}


def files_and_history(host: GitHubHost) -> Any:
    return host.read_files_and_history(
        repository=GITOPS,
        paths=["environments/dev/values.yaml"],
        revision="a" * 40,
        branch_revision=None,
        source_repository=APP,
        commit=SHA,
        history_depth=100,
    )


def graphql_documents() -> list[str]:
    """Every GraphQL document sent, each checked against GitHub's schema."""
    documents = []
    for call in responses.calls:
        if call.request.url == GRAPHQL:
            document = body(call)["query"]
            assert validate(SCHEMA, parse(document)) == [], document
            documents.append(document)
    return documents


FILES_AND_HISTORY_DATA = {
    "gitops": {"main0": {"text": "imageTag: x\n", "isBinary": False}},
    "app": {
        "candidate": {
            "oid": SHA,
            "messageHeadline": "Add shot charts",
            "url": "https://github.test/c",
            "author": {"name": "Octo", "user": {"login": "octocat"}},
            "history": {"nodes": []},
        }
    },
}


# -- retries ---------------------------------------------------------------------------------


def test_a_server_error_is_retried_with_backoff(host: GitHubHost, fake_time: FakeTime) -> None:
    responses.add(responses.GET, RUNS, status=502, json={"message": "Server Error"})
    responses.add(responses.GET, RUNS, status=503, json={"message": "Unavailable"})
    responses.add(responses.GET, RUNS, json={"total_count": 1, "workflow_runs": [run_json()]})
    runs = host.list_workflow_runs(APP, SHA)
    assert [run.name for run in runs] == ["Backend CI"]
    assert len(fake_time.slept) == 2
    assert 0.5 <= fake_time.slept[0] < 1.5 and 1.0 <= fake_time.slept[1] < 3.0


def test_a_secondary_rate_limit_waits_exactly_retry_after(
    host: GitHubHost, fake_time: FakeTime
) -> None:
    responses.add(
        responses.GET,
        RUNS,
        status=403,
        headers={"Retry-After": "7"},
        json={"message": "You have exceeded a secondary rate limit."},
    )
    responses.add(responses.GET, RUNS, json=no_runs())
    assert host.list_workflow_runs(APP, SHA) == ()
    assert fake_time.slept == [7.0]


def test_a_primary_rate_limit_waits_for_the_reset(host: GitHubHost, fake_time: FakeTime) -> None:
    reset = int(fake_time.now) + 20
    responses.add(
        responses.GET,
        RUNS,
        status=403,
        json={"message": "API rate limit exceeded"},
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
    )
    responses.add(responses.GET, RUNS, json=no_runs())
    host.list_workflow_runs(APP, SHA)
    assert fake_time.slept == [pytest.approx(21.0)]


def test_a_reset_beyond_the_deadline_fails_at_once_with_a_clear_error(
    host: GitHubHost, fake_time: FakeTime
) -> None:
    reset = int(fake_time.now) + 3600
    responses.add(
        responses.GET,
        RUNS,
        status=403,
        json={"message": "API rate limit exceeded"},
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
    )
    with pytest.raises(UserError) as caught:
        host.list_workflow_runs(APP, SHA)
    assert fake_time.slept == []
    assert "gave up after 1 attempt" in caught.value.message
    assert "re-run the job after 3601 s (rate limit)" in caught.value.hint


def test_retries_are_bounded(host: GitHubHost, fake_time: FakeTime) -> None:
    for _ in range(6):
        responses.add(responses.GET, RUNS, status=500, json={"message": "boom"})
    with pytest.raises(UserError, match="gave up after 4 attempts"):
        host.list_workflow_runs(APP, SHA)
    assert len(fake_time.slept) == 3


def test_a_dropped_connection_is_retried(host: GitHubHost, fake_time: FakeTime) -> None:
    responses.add(responses.GET, RUNS, body=requests.ConnectionError("reset by peer"))
    responses.add(responses.GET, RUNS, json=no_runs())
    assert host.list_workflow_runs(APP, SHA) == ()
    assert len(fake_time.slept) == 1


@pytest.mark.parametrize(
    ("status", "message", "hint"),
    [
        (401, "Bad credentials", "missing, expired or revoked"),
        (403, "Must have admin rights to Repository.", "lacks a permission"),
        (422, "Validation Failed", "re-run the job"),
    ],
)
def test_other_client_errors_are_not_retried_and_say_what_to_do(
    host: GitHubHost, fake_time: FakeTime, status: int, message: str, hint: str
) -> None:
    responses.add(responses.GET, RUNS, status=status, json={"message": message})
    with pytest.raises(UserError) as caught:
        host.list_workflow_runs(APP, SHA)
    assert not isinstance(caught.value, AccessError)
    assert f"GitHub answered {status} while listing workflow runs" in caught.value.message
    assert hint in caught.value.hint
    assert fake_time.slept == []


# -- workflow runs: by page, with their files ------------------------------------------------


def test_runs_are_read_for_the_push_on_the_branch_from_every_page(host: GitHubHost) -> None:
    """GitHub pages with `Link: <...>; rel="next"` (octokit/fixtures `paginate-issues`, whose
    next pages live under /repositories/{id}/...), and a SHA can have more than 100 runs: every
    page is read. The filters are the OpenAPI's for "List workflow runs for a repository"."""
    first = [run_json(i) for i in range(1, 101)]
    following = f"{API}/repositories/1000/actions/runs?head_sha={SHA}&page=2"
    responses.add(
        responses.GET,
        RUNS,
        match=[
            matchers.query_param_matcher(
                {"head_sha": SHA, "event": "push", "branch": "main", "per_page": "100"}
            )
        ],
        headers={"Link": f'<{following}>; rel="next", <{following}>; rel="last"'},
        json={"total_count": 101, "workflow_runs": first},
    )
    responses.add(
        responses.GET,
        f"{API}/repositories/1000/actions/runs",
        match=[matchers.query_param_matcher({"head_sha": SHA, "page": "2"})],
        json={"total_count": 101, "workflow_runs": [run_json(101, "Frontend CI")]},
    )
    runs = host.list_workflow_runs(APP, SHA, branch="main")
    assert [run.id for run in runs] == list(range(1, 102))
    assert runs[0].path == ".github/workflows/backend-ci.yml"
    assert runs[0].workflow_id == 161335
    assert len(responses.calls) == 2


def test_a_run_keeps_the_path_github_sends_even_with_a_ref(host: GitHubHost) -> None:
    """GitHub's REST example of a workflow run has `"path": ".github/workflows/build.yml@main"`
    (OpenAPI `workflow-run` examples); the adapter keeps it as sent and the config matches it
    without the ref (tests/test_config.py)."""
    run = {**run_json(), "path": ".github/workflows/build.yml@main", "name": None}
    responses.add(responses.GET, RUNS, json={"total_count": 1, "workflow_runs": [run]})
    (listed,) = host.list_workflow_runs(APP, SHA)
    assert listed.path == ".github/workflows/build.yml@main"
    assert listed.name == ""


# -- a token that cannot do the bot's job --------------------------------------------------


def test_runs_a_token_cannot_see_are_one_error_naming_the_repository_and_permission(
    host: GitHubHost, fake_time: FakeTime
) -> None:
    """GitHub answers 404 "Not Found" for a private repository the token does not cover: not
    an empty list, not a retry, but what the token lacks and the fix."""
    responses.add(responses.GET, RUNS, status=404, json=NOT_FOUND)
    with pytest.raises(AccessError) as caught:
        host.list_workflow_runs(APP, SHA)
    error = caught.value
    assert error.message.startswith(
        f"the token cannot see {APP}, where the bot needs Actions: read: GitHub answered 404"
    )
    assert error.hint == f"use a token that can read {APP} (Actions: read)"
    assert fake_time.slept == []


def test_a_missing_permission_says_which_and_what_github_accepts(fake_time: FakeTime) -> None:
    """403 "Resource not accessible by integration" is an App token without the permission
    (actions/create-github-app-token#258 shows GitHub's body); GitHub names what it accepts in
    `X-Accepted-GitHub-Permissions` (github.blog changelog 2023-08-10)."""
    minted: list[str] = []
    installation(GITOPS, 77)
    mint(77, "ghs_writer")
    mint(77, "ghs_reader")
    app = app_host(fake_time, minted)
    responses.add(
        responses.GET,
        RUNS,
        status=403,
        json=NOT_ACCESSIBLE,
        headers={"X-Accepted-GitHub-Permissions": "actions=read"},
    )
    with pytest.raises(AccessError) as caught:
        app.list_workflow_runs(APP, SHA)
    error = caught.value
    assert error.message.startswith(
        f"the GitHub App's token lacks Actions: read on {APP}: GitHub answered 403 "
        "'Resource not accessible by integration'"
    )
    assert error.hint == (
        "give the GitHub App the repository permission Actions: read and accept the change "
        f"on its installation for {APP} (GitHub accepts: actions=read)"
    )
    assert (error.need.repository, error.need.permission) == (APP, "Actions")


def test_an_app_not_installed_on_the_source_says_install_it_there(fake_time: FakeTime) -> None:
    """Minting a token for a repository outside the installation is refused with GitHub's 422
    "There is at least one repository that does not exist or is not accessible to the parent
    installation." (tibdex/github-app-token#105)."""
    installation(GITOPS, 77)
    mint(77, "ghs_writer")
    responses.add(
        responses.POST,
        f"{API}/app/installations/77/access_tokens",
        status=422,
        json={
            "message": "There is at least one repository that does not exist or is not "
            "accessible to the parent installation.",
        },
    )
    app = app_host(fake_time, [])
    with pytest.raises(UserError) as caught:
        app.list_workflow_runs(APP, SHA)
    assert caught.value.message.startswith(
        f"the GitHub App's installation does not include {GITOPS} and {APP}"
    )
    assert caught.value.hint.startswith(f"install the GitHub App on {GITOPS} and {APP}")


def test_permissions_the_app_was_not_granted_are_listed() -> None:
    """GitHub's 422 "The permissions requested are not granted to this installation."
    (PyGithub's tests/GithubIntegration.py, PyGithub#3539)."""
    installation(GITOPS, 77)
    responses.add(
        responses.POST,
        f"{API}/app/installations/77/access_tokens",
        status=422,
        json={"message": "The permissions requested are not granted to this installation."},
    )
    with pytest.raises(UserError) as caught:
        connect(api_url=API, app_id="12", private_key=PEM, repository=GITOPS)
    assert "lacks a permission the bot asks for" in caught.value.message
    assert caught.value.hint.endswith("Contents: write, Pull requests: write, Issues: write")


def test_a_token_without_push_access_cannot_read_permissions_and_says_so(
    host: GitHubHost,
) -> None:
    """GitHub shows a collaborator's permission only with push access: 403 "Must have push
    access to view collaborator permission." (yegor256/rultor#1407). That is the token's
    fault, so it is an error, never a silent denial."""
    url = f"{API}/repos/{GITOPS}/collaborators/release-manager/permission"
    responses.add(
        responses.GET,
        url,
        status=403,
        json={"message": "Must have push access to view collaborator permission."},
    )
    with pytest.raises(AccessError) as caught:
        host.read_permission(GITOPS, "release-manager")
    assert caught.value.message.startswith(f"the token lacks push access to {GITOPS}")
    assert caught.value.hint == f"use a token that can push to {GITOPS}"


def test_an_unreadable_permission_is_none_so_the_gate_denies(host: GitHubHost) -> None:
    url = f"{API}/repos/{GITOPS}/collaborators/mallory/permission"
    responses.add(responses.GET, url, status=404, json=NOT_FOUND)
    assert host.read_permission(GITOPS, "mallory") is None


def test_a_reaction_the_token_may_not_add_names_the_permission(host: GitHubHost) -> None:
    url = f"{API}/repos/{GITOPS}/issues/comments/5/reactions"
    responses.add(responses.POST, url, status=403, json=NOT_ACCESSIBLE)
    with pytest.raises(AccessError) as caught:
        host.react(GITOPS, 5, "eyes")
    assert caught.value.message.startswith(
        f"the token lacks Issues or Pull requests: write on {GITOPS}"
    )


def test_a_reply_the_token_may_not_post_is_one_error_not_a_traceback(host: GitHubHost) -> None:
    url = f"{API}/repos/{GITOPS}/issues/4/comments"
    responses.add(responses.POST, url, status=403, json=NOT_ACCESSIBLE)
    with pytest.raises(AccessError, match="lacks Issues or Pull requests: write"):
        host.reply(GITOPS, 4, "done")


# -- compare: no access is not divergence ----------------------------------------------------


def compare_url(base: str = OLD, head: str = SHA) -> str:
    return f"{API}/repos/{APP}/compare/{base}...{head}"


def test_compare_of_histories_without_a_common_ancestor_is_diverged(host: GitHubHost) -> None:
    """GitHub's answer for unrelated histories is 404 "No common ancestor between <base> and
    <head>." (app-sre/qontract-reconcile#4322, github-changelog-generator#994)."""
    responses.add(
        responses.GET,
        compare_url(),
        status=404,
        json={
            "message": f"No common ancestor between {OLD} and {SHA}.",
            "documentation_url": "https://docs.github.com/rest/commits/commits#compare-two-commits",
        },
    )
    comparison = host.compare(APP, OLD, SHA)
    assert comparison is not None and comparison.status == "diverged"
    assert len(responses.calls) == 1


def test_a_compare_the_token_cannot_see_is_an_access_error_not_diverged(
    host: GitHubHost,
) -> None:
    """A plain 404 "Not Found" (github/docs#13185 shows it for compare) from a repository the
    token cannot see: the repository itself answers 404 too, so it is the token's reach."""
    responses.add(responses.GET, compare_url(), status=404, json=NOT_FOUND)
    responses.add(responses.GET, f"{API}/repos/{APP}", status=404, json=NOT_FOUND)
    with pytest.raises(AccessError) as caught:
        host.compare(APP, OLD, SHA)
    assert caught.value.message.startswith(
        f"the token cannot see {APP}, where the bot needs Contents: read"
    )


def test_a_compare_with_a_commit_github_does_not_know_is_none(host: GitHubHost) -> None:
    """404 "Not Found" while the repository is visible: one of the commits is not in it
    (hellofresh/action-changed-files#29: a base that does not exist answers 404)."""
    responses.add(responses.GET, compare_url(), status=404, json=NOT_FOUND)
    responses.add(responses.GET, f"{API}/repos/{APP}", json={"full_name": APP, "private": True})
    assert host.compare(APP, OLD, SHA) is None


def commit_json(index: int) -> dict[str, object]:
    return {
        "sha": f"{index:040x}",
        "html_url": f"https://github.test/c/{index}",
        "commit": {"message": f"Change {index}\n\nbody", "author": {"name": "Octo"}},
        "author": {"login": "octocat"},
    }


def comparison_json(ahead: int, indexes: range) -> dict[str, object]:
    return {
        "status": "ahead",
        "ahead_by": ahead,
        "behind_by": 0,
        "total_commits": ahead,
        "html_url": f"https://github.test/compare/{OLD}...{SHA}",
        "commits": [commit_json(i) for i in indexes],
    }


def test_a_long_comparison_keeps_the_newest_commits_from_the_last_pages(
    host: GitHubHost,
) -> None:
    """The compare API lists commits oldest first, page by page ("The results are returned in
    chronological order", OpenAPI "Compare two commits"): with 205 commits the newest are on
    page 3, and page 2 fills it up to one page's worth."""

    def page(number: int, indexes: range) -> None:
        params = {"per_page": "100"} | ({"page": str(number)} if number > 1 else {})
        responses.add(
            responses.GET,
            compare_url(),
            match=[matchers.query_param_matcher(params)],
            json=comparison_json(205, indexes),
        )

    page(1, range(1, 101))
    page(3, range(201, 206))
    page(2, range(101, 201))
    comparison = host.compare(APP, OLD, SHA)
    assert comparison is not None and comparison.ahead_by == 205
    assert [c.sha for c in comparison.commits] == [f"{i:040x}" for i in range(106, 206)]
    assert comparison.commits[-1].headline == "Change 205"
    assert len(responses.calls) == 3


def test_a_comparison_within_one_page_is_one_request(host: GitHubHost) -> None:
    responses.add(responses.GET, compare_url(), json=comparison_json(3, range(1, 4)))
    comparison = host.compare(APP, OLD, SHA)
    assert comparison is not None and len(comparison.commits) == 3
    assert len(responses.calls) == 1


# -- GraphQL errors by type ------------------------------------------------------------------


def test_graphql_not_found_for_the_source_names_it(host: GitHubHost) -> None:
    """GitHub's answer for a repository the token cannot see: `"type": "NOT_FOUND"`, the path
    of the repository field and "Could not resolve to a Repository with the name
    'owner/name'." (cli/cli#436, abhinav/git-spice#437)."""
    responses.add(
        responses.POST,
        GRAPHQL,
        json={
            "data": {"gitops": FILES_AND_HISTORY_DATA["gitops"], "app": None},
            "errors": [
                {
                    "type": "NOT_FOUND",
                    "path": ["app"],
                    "locations": [{"line": 5, "column": 3}],
                    "message": f"Could not resolve to a Repository with the name '{APP}'.",
                }
            ],
        },
    )
    with pytest.raises(AccessError) as caught:
        files_and_history(host)
    error = caught.value
    assert error.need.repository == APP
    assert error.message.startswith(f"the token cannot see {APP}, where the bot needs Contents")
    assert "Could not resolve to a Repository with the name" in error.message
    assert len(graphql_documents()) == 1


def test_graphql_forbidden_names_the_permission_of_the_field(host: GitHubHost) -> None:
    responses.add(
        responses.POST,
        GRAPHQL,
        json={
            "data": {"repository": None},
            "errors": [
                {
                    "type": "FORBIDDEN",
                    "path": ["repository", "refs", "nodes", 0, "associatedPullRequests"],
                    "message": "Resource not accessible by integration",
                }
            ],
        },
    )
    with pytest.raises(AccessError) as caught:
        host.read_gitops_state(GITOPS, CONFIG)
    assert caught.value.message.startswith(f"the token lacks Pull requests: read on {GITOPS}")


def test_stale_data_is_a_race_to_read_again(host: GitHubHost) -> None:
    responses.add(
        responses.POST,
        GRAPHQL,
        json={"data": None, "errors": [{"type": "STALE_DATA", "message": "The data is stale."}]},
    )
    with pytest.raises(ConflictError, match="stale"):
        host.read_gitops_state(GITOPS, CONFIG)


def test_unprocessable_is_one_user_error_with_githubs_message(host: GitHubHost) -> None:
    responses.add(
        responses.POST,
        GRAPHQL,
        json={
            "data": None,
            "errors": [{"type": "UNPROCESSABLE", "message": "Something went wrong"}],
        },
    )
    with pytest.raises(UserError) as caught:
        host.read_gitops_state(GITOPS, CONFIG)
    assert not isinstance(caught.value, AccessError | ConflictError)
    assert caught.value.message == "GitHub's GraphQL API refused the request: Something went wrong"
    assert caught.value.hint == "GitHub answered UNPROCESSABLE"


def test_graphql_errors_without_a_type_keep_githubs_message(host: GitHubHost) -> None:
    responses.add(
        responses.POST,
        GRAPHQL,
        json={"data": None, "errors": [{"message": "Field 'x' doesn't exist on type 'Query'"}]},
    )
    with pytest.raises(UserError, match="Field 'x' doesn't exist"):
        host.read_gitops_state(GITOPS, CONFIG)


def test_a_graphql_rate_limit_at_http_200_waits_for_the_reset(
    host: GitHubHost, fake_time: FakeTime
) -> None:
    """GitHub answers an exceeded GraphQL limit with HTTP 200 and an error of type
    `RATE_LIMITED` (github/docs#22607; `RATE_LIMIT` in newer answers, githubkit#271), with the
    `x-ratelimit-*` headers, whose `remaining` may not be 0: the reset is waited for."""
    reset = int(fake_time.now) + 30
    responses.add(
        responses.POST,
        GRAPHQL,
        headers={"x-ratelimit-remaining": "4", "x-ratelimit-reset": str(reset)},
        json={
            "data": None,
            "errors": [
                {
                    "type": "RATE_LIMITED",
                    "message": "API rate limit exceeded for installation ID 77.",
                }
            ],
        },
    )
    responses.add(
        responses.POST,
        GRAPHQL,
        json={"data": FILES_AND_HISTORY_DATA},
    )
    result = files_and_history(host)
    assert result.candidate is not None and result.candidate.author == "octocat"
    assert fake_time.slept == [pytest.approx(31.0)]


def test_a_graphql_rate_limit_past_the_deadline_gives_up_with_githubs_words(
    host: GitHubHost, fake_time: FakeTime
) -> None:
    reset = int(fake_time.now) + 3600
    responses.add(
        responses.POST,
        GRAPHQL,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
        json={
            "data": None,
            "errors": [{"type": "RATE_LIMIT", "message": "API rate limit already exceeded."}],
        },
    )
    with pytest.raises(UserError) as caught:
        host.read_gitops_state(GITOPS, CONFIG)
    assert caught.value.message == (
        "GitHub kept failing while calling GitHub's GraphQL API (200: API rate limit already "
        "exceeded.); gave up after 1 attempt"
    )
    assert "after 3601 s (rate limit)" in caught.value.hint
    assert fake_time.slept == []


def test_a_graphql_query_is_retried_after_a_502(host: GitHubHost, fake_time: FakeTime) -> None:
    responses.add(responses.POST, GRAPHQL, status=502, json={"message": "Bad Gateway"})
    responses.add(responses.POST, GRAPHQL, json={"data": {"repository": None}})
    with pytest.raises(AccessError, match=f"cannot see {GITOPS}"):
        host.read_gitops_state(GITOPS, CONFIG)
    assert len(fake_time.slept) == 1


# -- tokens: least privilege, each call through the right one ------------------------------


def test_an_app_mints_a_writer_now_and_a_reader_for_both_repositories_on_first_use(
    fake_time: FakeTime,
) -> None:
    """POST /app/installations/{id}/access_tokens takes `repositories` (names) and
    `permissions` (OpenAPI "Create an installation access token for an app"). The writer
    reaches the GitOps repository alone; the reader, minted once the source is known, reaches
    both, so the combined read stays one GraphQL request. Each token is handed over for
    masking before it is used."""
    minted: list[str] = []
    installation(GITOPS, 77)
    mint(77, "ghs_writer")
    mint(77, "ghs_reader")
    app = app_host(fake_time, minted)
    assert minted == ["ghs_writer"]
    calls = responses.calls
    assert calls[0].request.headers["Authorization"].startswith("Bearer ")
    assert body(calls[1]) == {
        "repositories": ["scoutflow-gitops"],
        "permissions": dict(WRITER_PERMISSIONS),
    }
    assert WRITER_PERMISSIONS == {
        "contents": "write",
        "pull_requests": "write",
        "issues": "write",
    }

    responses.add(responses.POST, GRAPHQL, json={"data": FILES_AND_HISTORY_DATA})
    responses.add(responses.GET, RUNS, json={"total_count": 1, "workflow_runs": [run_json()]})
    files_and_history(app)
    app.list_workflow_runs(APP, SHA)
    assert minted == ["ghs_writer", "ghs_reader"]
    mint_call, read_call, runs_call = calls[2], calls[3], calls[4]
    assert body(mint_call) == {
        "repositories": ["scoutflow-gitops", "scoutflow-app"],
        "permissions": dict(READER_PERMISSIONS),
    }
    assert READER_PERMISSIONS == {
        "contents": "read",
        "actions": "read",
        "pull_requests": "read",
        "metadata": "read",
    }
    assert [token_of(read_call), token_of(runs_call)] == ["ghs_reader", "ghs_reader"]
    assert len(graphql_documents()) == 1, "GitOps files and source history in one request"


def test_gitops_reads_and_writes_go_through_the_writer(fake_time: FakeTime) -> None:
    minted: list[str] = []
    installation(GITOPS, 77)
    mint(77, "ghs_writer")
    app = app_host(fake_time, minted)
    responses.add(responses.POST, f"{API}/repos/{GITOPS}/issues/comments/5/reactions", json={})
    responses.add(
        responses.GET,
        f"{API}/repos/{GITOPS}/collaborators/omerbh7/permission",
        json={"permission": "admin", "role_name": "admin"},
    )
    app.react(GITOPS, 5, "eyes")
    assert app.read_permission(GITOPS, "omerbh7") == "admin"
    assert [token_of(call) for call in responses.calls[2:]] == ["ghs_writer", "ghs_writer"]
    assert minted == ["ghs_writer"], "nothing of the source was read: no reader minted"


def test_a_source_of_another_account_has_its_own_installation_and_a_read_of_its_own(
    fake_time: FakeTime,
) -> None:
    """An App is installed once per account, so a source repository of another account gets
    its token from its own installation (GET /repos/{owner}/{repo}/installation). One token
    cannot reach both, so the combined read becomes two requests, one per token."""
    other = "scoutflow-labs/scoutflow-app"
    minted: list[str] = []
    installation(GITOPS, 77)
    mint(77, "ghs_writer")
    installation(other, 88)
    mint(88, "ghs_other_reader")
    app = app_host(fake_time, minted)
    responses.add(
        responses.POST,
        GRAPHQL,
        json={"data": {"gitops": FILES_AND_HISTORY_DATA["gitops"]}},
    )
    responses.add(responses.POST, GRAPHQL, json={"data": {"app": FILES_AND_HISTORY_DATA["app"]}})
    result = app.read_files_and_history(
        repository=GITOPS,
        paths=["environments/dev/values.yaml"],
        revision="a" * 40,
        branch_revision=None,
        source_repository=other,
        commit=SHA,
        history_depth=100,
    )
    assert result.files == {"environments/dev/values.yaml": b"imageTag: x\n"}
    assert result.candidate is not None and result.candidate.sha == SHA
    mint_other = next(c for c in responses.calls if c.request.url.endswith("/88/access_tokens"))
    assert body(mint_other) == {
        "repositories": ["scoutflow-app"],
        "permissions": dict(READER_PERMISSIONS),
    }
    graphql = [c for c in responses.calls if c.request.url == GRAPHQL]
    assert [token_of(c) for c in graphql] == ["ghs_writer", "ghs_other_reader"]
    documents = graphql_documents()
    assert "gitops: repository" in documents[0] and "app: repository" not in documents[0]
    assert "app: repository" in documents[1] and "gitops: repository" not in documents[1]
    assert minted == ["ghs_writer", "ghs_other_reader"]


def test_a_plain_token_is_used_for_everything_and_nothing_is_minted(host: GitHubHost) -> None:
    responses.add(responses.POST, GRAPHQL, json={"data": FILES_AND_HISTORY_DATA})
    responses.add(responses.GET, RUNS, json=no_runs())
    files_and_history(host)
    host.list_workflow_runs(APP, SHA)
    assert [token_of(call) for call in responses.calls] == ["t0ken", "t0ken"]
    assert len(graphql_documents()) == 1


def test_an_app_not_installed_is_a_clear_error() -> None:
    responses.add(responses.GET, f"{API}/repos/{GITOPS}/installation", status=404, json=NOT_FOUND)
    with pytest.raises(UserError) as caught:
        connect(api_url=API, app_id="12", private_key=PEM, repository=GITOPS)
    assert caught.value.message.startswith(f"the GitHub App is not installed on {GITOPS}")
    assert caught.value.hint.startswith(f"install the GitHub App on {GITOPS}")


def test_a_malformed_private_key_is_a_clear_error() -> None:
    with (
        responses.RequestsMock(assert_all_requests_are_fired=False),
        pytest.raises(UserError) as caught,
    ):
        connect(api_url=API, app_id="12", private_key="not a key", repository=GITOPS)
    assert "private_key could not sign" in caught.value.message
    assert "not a key" not in str(caught.value)


# -- replies: look among the newest comments -----------------------------------------------


def test_a_reply_whose_post_failed_but_landed_is_not_posted_twice(
    host: GitHubHost, fake_time: FakeTime
) -> None:
    url = f"{API}/repos/{GITOPS}/issues/4/comments"
    responses.add(responses.POST, url, status=502, json={"message": "Bad Gateway"})
    responses.add(
        responses.GET,
        url,
        json=[{"body": "done", "user": {"type": "Bot"}, "html_url": "https://github.test/c/1"}],
    )
    assert host.reply(GITOPS, 4, "done") == "https://github.test/c/1"
    assert [call.request.method for call in responses.calls] == ["POST", "GET"]


def test_the_reply_check_reads_the_newest_comments_not_the_first_hundred(
    host: GitHubHost, fake_time: FakeTime
) -> None:
    """Issue comments are listed "ordered by ascending ID" (OpenAPI "List issue comments"),
    so on a busy issue the reply just posted is on the last page (`Link: rel="last"`)."""
    url = f"{API}/repos/{GITOPS}/issues/4/comments"
    last = f"{API}/repositories/1000/issues/4/comments?per_page=100&page=3"
    responses.add(responses.POST, url, status=502, json={"message": "Bad Gateway"})
    responses.add(
        responses.GET,
        url,
        headers={"Link": f'<{API}/x?page=2>; rel="next", <{last}>; rel="last"'},
        json=[{"body": "other", "user": {"type": "User"}, "html_url": "u"}] * 100,
    )
    responses.add(
        responses.GET,
        f"{API}/repositories/1000/issues/4/comments",
        match=[matchers.query_param_matcher({"per_page": "100", "page": "3"})],
        json=[{"body": "done", "user": {"type": "Bot"}, "html_url": "https://github.test/c/250"}],
    )
    assert host.reply(GITOPS, 4, "done") == "https://github.test/c/250"
    assert [call.request.method for call in responses.calls] == ["POST", "GET", "GET"]


# -- waits -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "attempt", "expected"),
    [
        (Failure(502), 0, (0.5, 1.5)),
        (Failure(502), 3, (4.0, 12.0)),
        (Failure(None), 1, (1.0, 3.0)),
        (Failure(429, {"Retry-After": "3"}), 5, (3.0, 3.0)),
        (Failure(403, {"retry-after": "0"}), 0, (0.0, 0.0)),
        # GitHub: a secondary limit with neither header means waiting at least a minute.
        (Failure(403, {}, "You have exceeded a secondary rate limit"), 0, (60.0, 60.0)),
        (Failure(429), 0, (60.0, 60.0)),
        (Failure(422), 0, None),
        (Failure(403, {}, "Resource not accessible by integration"), 0, None),
        # GraphQL's RATE_LIMITED arrives with HTTP 200: the reset, else a minute.
        (Failure(200, {"x-ratelimit-reset": "40"}, "limit", rate_limited=True), 0, (41.0, 41.0)),
        (Failure(200, {}, "limit", rate_limited=True), 0, (60.0, 60.0)),
        (Failure(200, {}, "Something went wrong"), 0, None),
    ],
)
def test_wait_for_follows_githubs_rules(
    failure: Failure, attempt: int, expected: tuple[float, float] | None
) -> None:
    policy = RetryPolicy(base_seconds=1.0, max_seconds=60.0)
    for jitter in (0.0, 0.999):
        wait = wait_for(failure, attempt, 0.0, policy, jitter)
        if expected is None:
            assert wait is None
        else:
            assert wait is not None and expected[0] <= wait <= expected[1]
