"""The GitHub adapter's error paths, against recorded-style answers (`responses`).

The happy paths run against the simulator in tests/e2e; here GitHub misbehaves on purpose:
rate limits, server errors, dropped connections, bad credentials, GraphQL errors.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from scoutflow_gitops.errors import UserError
from scoutflow_gitops.github import GitHubHost, connect
from scoutflow_gitops.retry import Failure, Retrier, RetryPolicy, wait_for

API = "http://api.github.test:8080"
RUNS = f"{API}/repos/omerbh7/scoutflow-app/actions/runs"
SHA = "1f3c5e7a9b2d4f6081a3c5e7f9b1d3f5a7c9e1b3"


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


@pytest.fixture
def host(fake_time: FakeTime) -> GitHubHost:
    client, _ = connect(
        api_url=API, token="t0ken", repository="omerbh7/scoutflow-gitops", write_interval=None
    )
    retrier = Retrier(
        RetryPolicy(attempts=4, base_seconds=1.0, deadline_seconds=120.0),
        clock=lambda: fake_time.now,
        wall_clock=lambda: fake_time.now,
        sleep=fake_time.sleep,
    )
    return GitHubHost(client, "https://github.test", retrier)


def run_json(name: str = "Backend CI") -> dict[str, object]:
    return {
        "id": 1,
        "name": name,
        "event": "push",
        "head_branch": "main",
        "status": "completed",
        "conclusion": "success",
        "run_attempt": 1,
        "created_at": "2026-11-27T10:00:00Z",
        "html_url": "https://github.test/r/1",
    }


def test_a_server_error_is_retried_with_backoff(host: GitHubHost, fake_time: FakeTime) -> None:
    responses.add(responses.GET, RUNS, status=502, json={"message": "Server Error"})
    responses.add(responses.GET, RUNS, status=503, json={"message": "Unavailable"})
    responses.add(responses.GET, RUNS, json={"total_count": 1, "workflow_runs": [run_json()]})
    runs = host.list_workflow_runs("omerbh7/scoutflow-app", SHA)
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
    responses.add(responses.GET, RUNS, json={"total_count": 0, "workflow_runs": []})
    assert host.list_workflow_runs("omerbh7/scoutflow-app", SHA) == ()
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
    responses.add(responses.GET, RUNS, json={"total_count": 0, "workflow_runs": []})
    host.list_workflow_runs("omerbh7/scoutflow-app", SHA)
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
        host.list_workflow_runs("omerbh7/scoutflow-app", SHA)
    assert fake_time.slept == []
    assert "gave up after 1 attempt" in caught.value.message
    assert "re-run the job after 3601 s (rate limit)" in caught.value.hint


def test_retries_are_bounded(host: GitHubHost, fake_time: FakeTime) -> None:
    for _ in range(6):
        responses.add(responses.GET, RUNS, status=500, json={"message": "boom"})
    with pytest.raises(UserError, match="gave up after 4 attempts"):
        host.list_workflow_runs("omerbh7/scoutflow-app", SHA)
    assert len(fake_time.slept) == 3


def test_a_dropped_connection_is_retried(host: GitHubHost, fake_time: FakeTime) -> None:
    responses.add(responses.GET, RUNS, body=requests.ConnectionError("reset by peer"))
    responses.add(responses.GET, RUNS, json={"total_count": 0, "workflow_runs": []})
    assert host.list_workflow_runs("omerbh7/scoutflow-app", SHA) == ()
    assert len(fake_time.slept) == 1


@pytest.mark.parametrize(
    ("status", "hint"),
    [
        (401, "missing, expired or revoked"),
        (404, "does not exist, or the token cannot see it"),
        (403, "lacks a permission"),
    ],
)
def test_client_errors_are_not_retried_and_say_what_to_do(
    host: GitHubHost, fake_time: FakeTime, status: int, hint: str
) -> None:
    responses.add(responses.GET, RUNS, status=status, json={"message": "Nope"})
    with pytest.raises(UserError) as caught:
        host.list_workflow_runs("omerbh7/scoutflow-app", SHA)
    assert f"GitHub answered {status} while listing workflow runs" in caught.value.message
    assert hint in caught.value.hint
    assert fake_time.slept == []


def test_graphql_errors_are_user_errors_with_githubs_message(host: GitHubHost) -> None:
    responses.add(
        responses.POST,
        f"{API}/graphql",
        json={"data": None, "errors": [{"message": "Could not resolve to a Repository"}]},
    )
    with pytest.raises(UserError, match="Could not resolve to a Repository"):
        host.read_gitops_state("omerbh7/scoutflow-gitops", ".github/scoutflow-gitops.yml")


def test_a_graphql_query_is_retried_after_a_502(host: GitHubHost, fake_time: FakeTime) -> None:
    responses.add(responses.POST, f"{API}/graphql", status=502, json={"message": "Bad Gateway"})
    responses.add(responses.POST, f"{API}/graphql", json={"data": {"repository": None}})
    with pytest.raises(UserError, match="was not found or the token cannot read it"):
        host.read_gitops_state("omerbh7/scoutflow-gitops", ".github/scoutflow-gitops.yml")
    assert len(fake_time.slept) == 1


def test_an_unreadable_permission_is_none_so_the_gate_denies(host: GitHubHost) -> None:
    url = f"{API}/repos/omerbh7/scoutflow-gitops/collaborators/mallory/permission"
    responses.add(responses.GET, url, status=404, json={"message": "Not Found"})
    assert host.read_permission("omerbh7/scoutflow-gitops", "mallory") is None


def test_compare_of_unrelated_commits_is_diverged(host: GitHubHost) -> None:
    responses.add(
        responses.GET,
        f"{API}/repos/omerbh7/scoutflow-app/compare/{'a' * 40}...{SHA}",
        status=404,
        json={"message": "No common ancestor"},
    )
    assert host.compare("omerbh7/scoutflow-app", "a" * 40, SHA).status == "diverged"


def test_a_reply_whose_post_failed_but_landed_is_not_posted_twice(
    host: GitHubHost, fake_time: FakeTime
) -> None:
    url = f"{API}/repos/omerbh7/scoutflow-gitops/issues/4/comments"
    responses.add(responses.POST, url, status=502, json={"message": "Bad Gateway"})
    responses.add(
        responses.GET,
        url,
        json=[{"body": "done", "user": {"type": "Bot"}, "html_url": "https://github.test/c/1"}],
    )
    assert host.reply("omerbh7/scoutflow-gitops", 4, "done") == "https://github.test/c/1"
    assert [call.request.method for call in responses.calls] == ["POST", "GET"]


def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_an_app_token_is_minted_for_the_gitops_repository_and_the_workflows_own() -> None:
    responses.add(
        responses.GET, f"{API}/repos/omerbh7/scoutflow-gitops/installation", json={"id": 77}
    )
    responses.add(
        responses.POST,
        f"{API}/app/installations/77/access_tokens",
        json={"token": "ghs_minted", "expires_at": "2026-11-27T12:00:00Z"},
    )
    _, token = connect(
        api_url=API,
        app_id="12",
        private_key=_pem(),
        repository="omerbh7/scoutflow-gitops",
        also_read="omerbh7/scoutflow-app",
    )
    assert token == "ghs_minted"
    assert responses.calls[0].request.headers["Authorization"].startswith("Bearer ")
    body = json.loads(responses.calls[1].request.body or b"{}")
    assert body == {"repositories": ["scoutflow-gitops", "scoutflow-app"]}


def test_an_app_not_installed_is_a_clear_error() -> None:
    responses.add(
        responses.GET,
        f"{API}/repos/omerbh7/scoutflow-gitops/installation",
        status=404,
        json={"message": "Not Found"},
    )
    with pytest.raises(UserError) as caught:
        connect(api_url=API, app_id="12", private_key=_pem(), repository="omerbh7/scoutflow-gitops")
    assert "could not mint an installation token" in caught.value.message
    assert "installed on the repository" in caught.value.hint


def test_a_malformed_private_key_is_a_clear_error() -> None:
    with (
        responses.RequestsMock(assert_all_requests_are_fired=False),
        pytest.raises(UserError) as caught,
    ):
        connect(
            api_url=API, app_id="12", private_key="not a key", repository="omerbh7/scoutflow-gitops"
        )
    assert "private_key could not sign" in caught.value.message
    assert "not a key" not in str(caught.value)


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
