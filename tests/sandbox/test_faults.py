"""Fault injection: GitHub's failures on demand, through PyGithub and raw HTTP.

Every test runs on the contract-checked `live_sandbox`, so the faulted answers in the request
log are also held to GitHub's descriptions at teardown (see `tests/sandbox/contract.py`).
"""

from __future__ import annotations

import time
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import requests
from github import Auth, Github, GithubException, GithubRetry, RateLimitExceededException

from scoutflow_gitops.sandbox import Sandbox
from scoutflow_gitops.sandbox.faults import Fault, add_fault, list_faults
from scoutflow_gitops.sandbox.model import RequestRecord
from tests.sandbox.contract import check_record
from tests.sandbox.fixtures import LiveSandbox, github_client

GITOPS = "omerbh7/scoutflow-gitops"
REPO_PATH = f"/repos/{GITOPS}"
AUTH = {"Authorization": "token sandbox-token"}


def api(
    live: LiveSandbox, method: str, path: str, body: object = None, timeout: float = 10
) -> requests.Response:
    return requests.request(method, live.url + path, json=body, headers=AUTH, timeout=timeout)


def arm(live: LiveSandbox, **fields: object) -> dict[str, Any]:
    response = live.control("POST", "/faults", fields)
    assert response.status_code == 201, response.text
    armed: dict[str, Any] = response.json()
    return armed


def retrying_client(live: LiveSandbox, **retry: Any) -> Github:
    """PyGithub as the bot configures it: retries 5xx (and rate limits) without backoff here."""
    return Github(
        base_url=live.url,
        auth=Auth.Token("sandbox-token"),
        retry=GithubRetry(total=3, backoff_factor=0, **retry),
        seconds_between_requests=None,
        seconds_between_writes=None,
    )


def logged(live: LiveSandbox) -> list[tuple[str, str, int]]:
    return [(r["method"], r["path"], r["status"]) for r in live.control("GET", "/requests").json()]


def head_of_main(live: LiveSandbox) -> str:
    with live.sandbox.lock:
        repo = live.sandbox.repo(GITOPS)
        return live.sandbox.branch_head(repo, "main")


def test_times_fails_the_first_matching_requests_then_lets_them_pass(
    live_sandbox: LiveSandbox,
) -> None:
    live = live_sandbox
    armed = arm(live, path_regex=f"^{REPO_PATH}$", status=502, times=2)
    assert (armed["id"], armed["remaining"], armed["injected"]) == (1, 2, 0)

    answers = [api(live, "GET", REPO_PATH) for _ in range(3)]
    other = api(live, "GET", f"{REPO_PATH}/branches")

    assert [a.status_code for a in answers] == [502, 502, 200]
    assert answers[0].json() == {
        "message": "Server Error",
        "documentation_url": "https://docs.github.com/rest",
        "status": "502",
    }
    assert other.status_code == 200
    (listed,) = live.control("GET", "/faults").json()
    assert (listed["remaining"], listed["matched"], listed["injected"]) == (0, 3, 2)
    assert logged(live) == [
        ("GET", REPO_PATH, 502),
        ("GET", REPO_PATH, 502),
        ("GET", REPO_PATH, 200),
        ("GET", f"{REPO_PATH}/branches", 200),
    ]


def test_pygithub_retries_server_errors_through(live_sandbox: LiveSandbox) -> None:
    live = live_sandbox
    arm(live, path_regex=f"^{REPO_PATH}$", status=503, times=2)
    client = retrying_client(live)
    assert client.get_repo(GITOPS).full_name == GITOPS
    assert [status for _, _, status in logged(live)] == [503, 503, 200]
    arm(live, path_regex=f"^{REPO_PATH}$", status=500)
    with pytest.raises(GithubException) as failed:
        github_client(live.url).get_repo(GITOPS)
    assert failed.value.status == 500


def test_a_rate_draws_from_a_seeded_rng_so_runs_repeat(live_sandbox: LiveSandbox) -> None:
    live = live_sandbox

    def pattern(seed: int) -> list[int]:
        live.control("DELETE", "/faults")
        arm(live, path_regex="/branches$", status=502, rate=0.3, seed=seed)
        return [api(live, "GET", f"{REPO_PATH}/branches").status_code for _ in range(40)]

    first, again, other = pattern(7), pattern(7), pattern(8)
    assert first == again
    assert first != other
    assert 4 <= first.count(502) <= 20
    (listed,) = list_faults(live.sandbox)
    assert (listed["rate"], listed["seed"], listed["remaining"]) == (0.3, 8, None)
    assert listed["matched"] == 40 and listed["injected"] == other.count(502)


def test_method_and_path_narrow_what_a_fault_matches(live_sandbox: LiveSandbox) -> None:
    live = live_sandbox
    arm(live, method="POST", path_regex="/git/refs$", status=503)
    assert api(live, "GET", f"{REPO_PATH}/git/matching-refs/heads/").status_code == 200
    assert api(live, "GET", REPO_PATH).status_code == 200
    created = api(
        live, "POST", f"{REPO_PATH}/git/refs", {"ref": "refs/heads/x", "sha": head_of_main(live)}
    )
    assert created.status_code == 503
    # The control API is never faulted, whatever the regex says.
    arm(live, path_regex=".*", status=500)
    assert live.control("GET", "/faults").status_code == 200


def test_a_fault_before_the_request_writes_nothing(live_sandbox: LiveSandbox) -> None:
    live = live_sandbox
    arm(live, method="POST", path_regex="/git/refs$", status=502, times=1)
    ref = {"ref": "refs/heads/feature", "sha": head_of_main(live)}

    assert api(live, "POST", f"{REPO_PATH}/git/refs", ref).status_code == 502
    assert live.sandbox.repo(GITOPS).git.ref("refs/heads/feature") is None
    assert api(live, "POST", f"{REPO_PATH}/git/refs", ref).status_code == 201


def test_after_applies_the_write_and_a_retried_post_finds_it_done(
    live_sandbox: LiveSandbox,
) -> None:
    live = live_sandbox
    sandbox = live.sandbox
    with sandbox.lock:
        repo = sandbox.repo(GITOPS)
        sandbox.create_ref(repo, "refs/heads/change", head_of_main(live))
        sandbox.commit_files(repo, "change", {"NOTES.md": b"hi\n"}, "Notes")
    arm(live, method="POST", path_regex="/pulls$", status=502, times=1, after=True)

    # GitHub opened the PR, the client saw a 502, PyGithub sent the POST again.
    with pytest.raises(GithubException) as retried:
        retrying_client(live).get_repo(GITOPS).create_pull("main", "change", title="Notes")

    assert retried.value.status == 422
    assert "A pull request already exists" in str(retried.value.data)
    assert [status for _, _, status in logged(live)][-2:] == [502, 422]
    (pull,) = sandbox.repo(GITOPS).pulls()
    assert pull.title == "Notes" and pull.state == "open"


def test_secondary_rate_limits_send_retry_after_and_pygithub_waits(
    live_sandbox: LiveSandbox,
) -> None:
    live = live_sandbox
    arm(live, path_regex=f"^{REPO_PATH}$", status=403, retry_after=1, times=1)
    arm(live, path_regex="/branches$", status=429, retry_after=30, times=1)

    limited = api(live, "GET", f"{REPO_PATH}/branches")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "30"
    assert limited.json()["message"].startswith("You have exceeded a secondary rate limit.")
    assert limited.json()["message"].endswith(
        f"request ID {limited.headers['X-GitHub-Request-Id']}."
    )

    started = time.monotonic()
    assert retrying_client(live).get_repo(GITOPS).full_name == GITOPS
    assert time.monotonic() - started >= 1
    assert [status for _, _, status in logged(live)][-2:] == [403, 200]


def test_primary_rate_limits_count_down_to_a_reset_in_simulated_time(
    live_sandbox: LiveSandbox,
) -> None:
    live = live_sandbox
    path = f"{REPO_PATH}/branches"
    arm(live, path_regex="/branches$", status=403, rate_limit="primary", reset_after=90, times=2)

    limited = api(live, "GET", path)

    assert limited.status_code == 403
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    now: datetime = parsedate_to_datetime(limited.headers["Date"])
    assert int(limited.headers["X-RateLimit-Reset"]) == int(now.timestamp()) + 90
    assert limited.json()["message"].startswith("API rate limit exceeded for installation ID")
    with pytest.raises(RateLimitExceededException):
        github_client(live.url).requester.requestJsonAndCheck("GET", path)
    _, answer = github_client(live.url).requester.requestJsonAndCheck("GET", path)
    assert "main" in [branch["name"] for branch in answer]


def test_graphqls_primary_rate_limit_is_an_answer_not_an_http_error(
    live_sandbox: LiveSandbox,
) -> None:
    """GitHub answers a GraphQL request over its primary limit with HTTP 200 and an error of
    type ``RATE_LIMITED`` ("API rate limit exceeded for installation ID N."), the limit's
    headers saying when it resets (renovatebot/renovate#21861; GitHub staff in
    github/docs#22607; docs/sandbox-rules.md row 15b)."""
    live = live_sandbox
    arm(live, path_regex="^/graphql$", status=403, rate_limit="primary", reset_after=90, times=1)

    limited = api(live, "POST", "/graphql", {"query": "{ viewer { login } }"})

    assert limited.status_code == 200
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    now: datetime = parsedate_to_datetime(limited.headers["Date"])
    assert int(limited.headers["X-RateLimit-Reset"]) == int(now.timestamp()) + 90
    (error,) = limited.json()["errors"]
    assert error["type"] == "RATE_LIMITED"
    assert error["message"].startswith("API rate limit exceeded for installation ID")
    answer = api(live, "POST", "/graphql", {"query": "{ viewer { login } }"}).json()
    assert answer["data"]["viewer"]["login"] == "scoutflow-gitops[bot]"


def test_a_delay_past_the_client_timeout_still_lands_the_write(live_sandbox: LiveSandbox) -> None:
    live = live_sandbox
    arm(live, method="POST", path_regex="/git/refs$", delay_ms=800, times=1)
    ref = {"ref": "refs/heads/slow", "sha": head_of_main(live)}

    with pytest.raises(requests.exceptions.ReadTimeout):
        api(live, "POST", f"{REPO_PATH}/git/refs", ref, timeout=0.2)
    assert live.sandbox.repo(GITOPS).git.ref("refs/heads/slow") is None  # still sleeping
    time.sleep(1)

    assert live.sandbox.repo(GITOPS).git.ref("refs/heads/slow") == ref["sha"]
    assert logged(live) == [("POST", f"{REPO_PATH}/git/refs", 201)]


def test_a_dropped_connection_after_the_write_is_logged_as_status_zero(
    live_sandbox: LiveSandbox,
) -> None:
    live = live_sandbox
    arm(live, method="POST", path_regex="/issues$", drop=True, after=True, times=1)

    with pytest.raises(requests.exceptions.ConnectionError):
        api(live, "POST", f"{REPO_PATH}/issues", {"title": "Flaky"})

    assert [issue.title for issue in live.sandbox.repo(GITOPS).issues.values()] == ["Flaky"]
    assert logged(live) == [("POST", f"{REPO_PATH}/issues", 0)]
    # The connection pool recovers: the next request on a fresh connection works.
    assert api(live, "GET", f"{REPO_PATH}/issues/1").status_code == 200


def test_graphql_faults_pick_operations_by_name_or_by_query_text(
    live_sandbox: LiveSandbox,
) -> None:
    live = live_sandbox
    arm(live, path_regex="^/graphql$", graphql_operation="Viewer", status=502, times=1)
    arm(live, path_regex="^/graphql$", graphql_operation=r"repository\(", status=504, times=1)
    requester = github_client(live.url).requester

    with pytest.raises(GithubException) as named:
        requester.graphql_query("query Viewer { viewer { login } }", {})
    assert named.value.status == 502
    assert "Something went wrong while executing your query" in str(named.value.data)
    # Another name, or no name, passes: a bare identifier matches the operation name exactly.
    requester.graphql_query("query ViewerLogin { viewer { login } }", {})
    requester.graphql_query("{ viewer { login } }", {})
    with pytest.raises(GithubException) as by_text:
        requester.graphql_query(
            '{ repository(owner: "omerbh7", name: "scoutflow-app") { id } }', {}
        )
    assert by_text.value.status == 504
    assert [status for _, _, status in logged(live)] == [502, 200, 200, 504]


def test_after_on_a_mutation_keeps_its_effect(live_sandbox: LiveSandbox) -> None:
    live = live_sandbox
    arm(live, path_regex="^/graphql$", graphql_operation="Branch", status=502, after=True)
    repo_id = live.sandbox.repo(GITOPS).node_id
    mutation = (
        "mutation Branch($input: CreateRefInput!) { createRef(input: $input) { ref { name } } }"
    )
    variables = {"repositoryId": repo_id, "name": "refs/heads/cut", "oid": head_of_main(live)}

    answer = api(live, "POST", "/graphql", {"query": mutation, "variables": {"input": variables}})

    assert answer.status_code == 502
    assert live.sandbox.repo(GITOPS).git.ref("refs/heads/cut") == head_of_main(live)


def test_a_race_answers_with_the_given_status_and_body(live_sandbox: LiveSandbox) -> None:
    live = live_sandbox
    race = {"message": "Reference update failed", "documentation_url": "https://docs.github.com"}
    arm(live, method="PATCH", path_regex="/git/refs/", status=422, body=race, times=1)
    arm(live, method="PUT", path_regex="/merge$", status=409, body="Base branch was modified.")
    branch = live.github.get_repo(GITOPS).get_git_ref("heads/main")

    with pytest.raises(GithubException) as refused:
        branch.edit(head_of_main(live))
    merge = api(live, "PUT", f"{REPO_PATH}/pulls/1/merge", {})

    assert (refused.value.status, refused.value.data) == (422, race)
    assert merge.status_code == 409
    assert merge.json()["message"] == "Base branch was modified."


def test_the_python_api_and_clearing(live_sandbox: LiveSandbox) -> None:
    live = live_sandbox
    fault_id = add_fault(live.sandbox, Fault(path_regex="/branches$", status=500, times=1))
    assert [f["id"] for f in live.control("GET", "/faults").json()] == [fault_id]
    assert api(live, "GET", f"{REPO_PATH}/branches").status_code == 500
    assert live.control("DELETE", "/faults").status_code == 204
    assert live.control("GET", "/faults").json() == []
    # Faults belong to one sandbox: another one is not affected.
    assert list_faults(Sandbox()) == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"status": 502}, "path_regex is required"),
        ({"path_regex": "(", "status": 502}, "path_regex is not a regular expression"),
        ({"path_regex": ".*"}, "a fault needs a status, a delay_ms or drop"),
        ({"path_regex": ".*", "status": 502, "times": 2, "rate": 0.5}, "times or rate"),
        ({"path_regex": ".*", "status": 502, "rate": 1.5}, "rate must be a probability"),
        ({"path_regex": ".*", "status": 502, "times": True}, "times has the wrong type"),
        ({"path_regex": ".*", "status": 502, "drop": True}, "give one of status and drop"),
        ({"path_regex": ".*", "status": 502, "rate_limit": "primary"}, "needs status 403 or 429"),
        ({"path_regex": ".*", "status": 429, "rate_limit": "tertiary"}, "primary or secondary"),
        ({"path_regex": ".*", "status": 502, "method": "get"}, "method must be one of"),
        ({"path_regex": ".*", "status": 99}, "status must be an HTTP status"),
        ({"path_regex": ".*", "status": 502, "tims": 1}, "unknown fault fields: tims"),
    ],
)
def test_bad_faults_are_refused_with_the_reason(
    live_sandbox: LiveSandbox, fields: dict[str, object], message: str
) -> None:
    response = live_sandbox.control("POST", "/faults", fields)
    assert response.status_code == 422
    assert message in response.json()["message"]
    assert live_sandbox.control("GET", "/faults").json() == []


def test_the_contract_accepts_injected_failures_only_in_githubs_shapes() -> None:
    def record(path: str, status: int, answer: object, method: str = "GET") -> RequestRecord:
        query = {"query": "{ viewer { login } }"} if path == "/graphql" else None
        return RequestRecord(method, path, "", status, query, answer)

    error = {"message": "Server Error", "documentation_url": "https://docs.github.com/rest"}
    runs = f"{REPO_PATH}/actions/runs"  # documents 200 only
    assert check_record(record(runs, 502, error)) == []
    assert check_record(record(runs, 0, None)) == []
    assert check_record(record(runs, 502, {"message": 5}))  # not GitHub's error shape
    assert check_record(record(runs, 409, error))  # a race GitHub does not document there
    limited = {"message": "You have exceeded a secondary rate limit. Please wait."}
    assert check_record(record(runs, 403, limited)) == []
    assert check_record(record(runs, 403, {"message": "Resource not accessible"}))
    failed = {"data": None, "errors": [{"message": "Something went wrong"}]}
    assert check_record(record("/graphql", 502, failed, "POST")) == []
    assert check_record(record("/graphql", 409, failed, "POST"))
