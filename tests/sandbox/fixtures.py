"""Pytest fixtures for a running, seeded sandbox.

In a test module (or a conftest.py) of any folder:

    from tests.sandbox.fixtures import live_sandbox  # noqa: F401  (pytest finds it by name)

    def test_something(live_sandbox: LiveSandbox) -> None:
        repo = live_sandbox.github.get_repo(live_sandbox.info.gitops_repo)

``live_sandbox`` seeds the ScoutFlow repositories from this checkout's HEAD, serves them on a
free port, and when the test ends checks every request in the log against GitHub's API
descriptions (``assert_contract``). Call ``live_sandbox.sandbox.clear_requests()`` before
requests a test sends on purpose to break the contract (an unknown route, say).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from github import Auth, Github

from scoutflow_gitops.sandbox import RunningServer, Sandbox, SeedInfo, seed_scoutflow, serve
from tests.sandbox.contract import assert_contract

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The test client's token: the App's installation token for both repositories, acting as the
# bot. Unlike a job's token it never expires, so a test may move the clock freely.
CLIENT_TOKEN = "sandbox-token"


@dataclass(frozen=True)
class LiveSandbox:
    sandbox: Sandbox
    server: RunningServer
    info: SeedInfo
    github: Github

    @property
    def url(self) -> str:
        return self.server.url

    def control(self, method: str, path: str, json: object = None) -> requests.Response:
        """Call the control API (``path`` without the ``/_sandbox`` prefix)."""
        return requests.request(method, f"{self.url}/_sandbox{path}", json=json, timeout=10)

    def as_user(self, login: str) -> Github:
        """A PyGithub client with a personal access token of ``login`` (their roles, no more)."""
        with self.sandbox.lock:
            grant = self.sandbox.access.user_token(self.sandbox.user(login))
        return github_client(self.url, token=grant.token)

    def graphql(self, query: str, variables: dict[str, object] | None = None) -> dict[str, object]:
        """POST /graphql with a token; the full answer, errors included."""
        response = requests.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": "bearer sandbox-token"},
            timeout=10,
        )
        answer: dict[str, object] = response.json()
        return answer


def github_client(url: str, token: str = CLIENT_TOKEN, **options: object) -> Github:
    """A PyGithub client for the sandbox, without PyGithub's client-side throttling.

    PyGithub waits 0.25 s between requests and 1 s between writes by default, to respect
    GitHub's secondary rate limits; against the sandbox that only makes tests slow.
    """
    return Github(
        base_url=url,
        auth=Auth.Token(token),
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
        **options,  # type: ignore[arg-type]
    )


def register_client_token(sandbox: Sandbox, token: str = CLIENT_TOKEN) -> None:
    with sandbox.lock:
        installation = next(iter(sandbox.access.installations.values()))
        sandbox.access.revoke(token)
        sandbox.access.mint(installation, sandbox.bot, None, None, None, token)


@pytest.fixture
def live_sandbox() -> Iterator[LiveSandbox]:
    sandbox = Sandbox()
    info = seed_scoutflow(sandbox, PROJECT_ROOT)
    register_client_token(sandbox)
    server = serve(sandbox)
    github = github_client(server.url)
    try:
        yield LiveSandbox(sandbox, server, info, github)
        assert_contract(sandbox)
    finally:
        github.close()
        server.shutdown()
