"""Tokens reach what GitHub lets them reach, and no more.

Each rule cites its evidence; the rows named (1b, 2a, ...) are in ``docs/sandbox-rules.md``.
The ScoutFlow seed makes both repositories private and installs the bot's App on both.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import requests

from scoutflow_gitops.sandbox.control import issue_token
from tests.sandbox.fixtures import LiveSandbox

APP = "omerbh7/scoutflow-app"
GITOPS = "omerbh7/scoutflow-gitops"
REPO_QUERY = "query($o: String!, $n: String!) { repository(owner: $o, name: $n) { id } }"


def _token(live: LiveSandbox, **request: Any) -> str:
    with live.sandbox.lock:
        return str(issue_token(live.sandbox, request)["token"])


def _rest(live: LiveSandbox, token: str, method: str, path: str, body: Any = None) -> Any:
    return requests.request(
        method,
        live.url + path,
        json=body,
        headers={"Authorization": f"token {token}"},
        timeout=10,
    )


def _graphql(live: LiveSandbox, token: str, query: str, **variables: Any) -> Any:
    response = requests.post(
        f"{live.url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"bearer {token}"},
        timeout=10,
    )
    return response


def _app_jwt(issuer: int = 1) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part({'iss': issuer})}.c2lnbmF0dXJl"


def test_an_unknown_token_is_refused_with_bad_credentials(live_sandbox: LiveSandbox) -> None:
    """Row 7: GitHub answers 401 ``Bad credentials`` to a token it does not know, on REST and
    on ``POST /graphql`` alike (hisxo/gitGraber#32, hcengineering/platform#5104)."""
    live = live_sandbox
    rest = _rest(live, "ghs_neverIssued", "GET", f"/repos/{GITOPS}")
    graphql = _graphql(live, "ghs_neverIssued", REPO_QUERY, o="omerbh7", n="scoutflow-gitops")
    assert (rest.status_code, rest.json()["message"]) == (401, "Bad credentials")
    assert (graphql.status_code, graphql.json()["message"]) == (401, "Bad credentials")


def test_an_installation_token_reaches_only_its_repositories(live_sandbox: LiveSandbox) -> None:
    """Rows 2a and 2b: an installation token minted for some repositories sees no other
    private one: REST 404 ``Not Found``; GraphQL ``NOT_FOUND`` "Could not resolve to a
    Repository with the name 'owner/name'." at HTTP 200 (cli/cli#436, abhinav/git-spice#437)."""
    live = live_sandbox
    token = _token(live, kind="installation", repositories=[GITOPS])
    assert _rest(live, token, "GET", f"/repos/{GITOPS}").status_code == 200
    runs = _rest(live, token, "GET", f"/repos/{APP}/actions/runs")
    assert (runs.status_code, runs.json()["message"]) == (404, "Not Found")
    answer = _graphql(live, token, REPO_QUERY, o="omerbh7", n="scoutflow-app")
    assert answer.status_code == 200
    error = answer.json()["errors"][0]
    assert error["type"] == "NOT_FOUND"
    assert (
        error["message"]
        == "Could not resolve to a Repository with the name 'omerbh7/scoutflow-app'."
    )
    assert answer.json()["data"] == {"repository": None}


def test_a_public_repository_is_readable_by_any_token(live_sandbox: LiveSandbox) -> None:
    """Row 2a: GitHub hides only what a token may not see; a public repository is readable
    with any valid token. (What a token outside the installation may *read* of a public
    repository was not found documented; reads are allowed here, writes are not.)"""
    live = live_sandbox
    token = _token(live, kind="installation", repositories=[GITOPS])
    assert _rest(live, token, "GET", f"/repos/{APP}/actions/runs").status_code == 404
    live.control("POST", f"/repos/{APP}/visibility", {"private": False})
    assert _rest(live, token, "GET", f"/repos/{APP}/actions/runs").status_code == 200


def test_minting_is_held_to_the_installation(live_sandbox: LiveSandbox) -> None:
    """Rows 1b and 1c: a token cannot cover a repository the installation lacks (422 "There is
    at least one repository that does not exist or is not accessible to the parent
    installation.") nor a permission it was not granted (422 "The permissions requested are
    not granted to this installation.", peter-murray/workflow-application-token-action#48)."""
    live = live_sandbox
    with live.sandbox.lock:
        live.sandbox.create_repo("omerbh7", "elsewhere")
    installation = next(iter(live.sandbox.access.installations))
    path = f"/app/installations/{installation}/access_tokens"
    jwt = _app_jwt()
    outside = requests.post(
        live.url + path,
        json={"repositories": ["scoutflow-gitops", "elsewhere"]},
        headers={"Authorization": f"Bearer {jwt}"},
        timeout=10,
    )
    assert outside.status_code == 422
    assert outside.json()["message"].startswith("There is at least one repository")
    too_much = requests.post(
        live.url + path,
        json={"repositories": ["scoutflow-gitops"], "permissions": {"administration": "write"}},
        headers={"Authorization": f"Bearer {jwt}"},
        timeout=10,
    )
    assert too_much.status_code == 422
    narrow = requests.post(
        live.url + path,
        json={"repositories": ["scoutflow-app"], "permissions": {"contents": "read"}},
        headers={"Authorization": f"Bearer {jwt}"},
        timeout=10,
    )
    assert narrow.status_code == 201
    assert narrow.json()["permissions"] == {"metadata": "read", "contents": "read"}
    assert [r["full_name"] for r in narrow.json()["repositories"]] == [APP]
    # The minted token's text never reaches the request log.
    assert all(
        "token" not in (record.response_body or {}) or record.response_body["token"] == "[redacted]"
        for record in live.sandbox.requests()
        if isinstance(record.response_body, dict)
    )


def test_a_missing_permission_is_forbidden(live_sandbox: LiveSandbox) -> None:
    """Rows 3a and 3b: a reachable repository whose permission the token lacks answers 403
    "Resource not accessible by integration" on REST (apache/doris#39553) and a ``FORBIDDEN``
    error for the refused field at HTTP 200 on GraphQL
    (github-community-projects/contributors#492)."""
    live = live_sandbox
    token = _token(
        live, kind="installation", repositories=[GITOPS], permissions={"contents": "read"}
    )
    issue = live.control("POST", "/comments", {"repo": GITOPS, "user": "omerbh7", "body": "hi"})
    number = issue.json()["issue"]["number"]
    comment = _rest(live, token, "POST", f"/repos/{GITOPS}/issues/{number}/comments", {"body": "x"})
    assert (comment.status_code, comment.json()["message"]) == (
        403,
        "Resource not accessible by integration",
    )
    node = issue.json()["issue"]["node_id"]
    answer = _graphql(
        live,
        token,
        'mutation($s: ID!) { addComment(input: {subjectId: $s, body: "x"}) { clientMutationId } }',
        s=node,
    )
    error = answer.json()["errors"][0]
    assert (answer.status_code, error["type"], error["path"]) == (200, "FORBIDDEN", ["addComment"])
    assert answer.json()["data"] == {"addComment": None}
    with live.sandbox.lock:
        assert [c.body for c in live.sandbox.repo(GITOPS).issues[number].comments] == ["hi"]


def test_reading_a_permission_needs_push_access(live_sandbox: LiveSandbox) -> None:
    """Row 4: ``GET /collaborators/{user}/permission`` answers 403 "Must have push access to
    view collaborator permission." to a caller without push access (yegor256/rultor#1407)."""
    live = live_sandbox
    path = f"/repos/{GITOPS}/collaborators/release-manager/permission"
    reader = _token(
        live, kind="installation", repositories=[GITOPS], permissions={"contents": "read"}
    )
    refused = _rest(live, reader, "GET", path)
    assert (refused.status_code, refused.json()["message"]) == (
        403,
        "Must have push access to view collaborator permission.",
    )
    pusher = _token(
        live, kind="installation", repositories=[GITOPS], permissions={"contents": "write"}
    )
    assert _rest(live, pusher, "GET", path).json()["role_name"] == "maintain"


def test_a_workflow_token_reaches_only_its_own_repository(live_sandbox: LiveSandbox) -> None:
    """Row 5: "The token's permissions are limited to the repository that contains your
    workflow" (docs.github.com, Automatic token authentication)."""
    live = live_sandbox
    token = _token(live, kind="workflow", repo=GITOPS, permissions={"contents": "read"})
    assert _rest(live, token, "GET", f"/repos/{GITOPS}/contents/README.md").status_code == 200
    assert _rest(live, token, "GET", f"/repos/{APP}/compare/main...main").status_code == 404
    answer = _graphql(live, token, REPO_QUERY, o="omerbh7", n="scoutflow-app")
    assert answer.json()["errors"][0]["type"] == "NOT_FOUND"


def test_the_app_jwt_reaches_only_the_apps_endpoints(live_sandbox: LiveSandbox) -> None:
    """Row 6: ``GET /repos/{o}/{r}/installation`` answers 404 where the App is not installed
    (ministryofjustice/operations-engineering#4721). The App's JWT is for the App's own
    endpoints; no evidence was found of GitHub's exact answer to a JWT on a repository's
    contents, so the simulator answers 403 "Resource not accessible by integration"."""
    live = live_sandbox
    with live.sandbox.lock:
        live.sandbox.create_repo("omerbh7", "elsewhere")
    headers = {"Authorization": f"Bearer {_app_jwt()}"}
    installed = requests.get(f"{live.url}/repos/{GITOPS}/installation", headers=headers, timeout=5)
    assert installed.json()["permissions"]["contents"] == "write"
    missing = requests.get(
        f"{live.url}/repos/omerbh7/elsewhere/installation", headers=headers, timeout=5
    )
    assert missing.status_code == 404
    contents = requests.get(f"{live.url}/repos/{GITOPS}", headers=headers, timeout=5)
    assert contents.status_code == 403
    not_ours = requests.get(
        f"{live.url}/repos/{GITOPS}/installation",
        headers={"Authorization": f"Bearer {_app_jwt(issuer=99)}"},
        timeout=5,
    )
    assert (not_ours.status_code, not_ours.json()["message"]) == (401, "Bad credentials")


def test_an_installation_token_expires_after_an_hour(live_sandbox: LiveSandbox) -> None:
    """Row 7 and 1a: installation tokens expire an hour after they are minted
    (docs.github.com, "Generating an installation access token"); an expired one is refused
    like an unknown one."""
    live = live_sandbox
    token = _token(live, kind="installation", repositories=[GITOPS])
    assert _rest(live, token, "GET", f"/repos/{GITOPS}").status_code == 200
    live.control("POST", "/clock", {"advance_minutes": 61})
    expired = _rest(live, token, "GET", f"/repos/{GITOPS}")
    assert (expired.status_code, expired.json()["message"]) == (401, "Bad credentials")


def test_a_user_token_reaches_what_the_users_role_allows(live_sandbox: LiveSandbox) -> None:
    """A personal access token acts with its user's access: none at all on a private
    repository hides it (404), read access cannot write (docs.github.com, "Repository roles
    for an organization"; the 403 text for a token lacking a permission is row 3a's)."""
    live = live_sandbox
    outsider = _token(live, kind="user", user="outsider")
    assert _rest(live, outsider, "GET", f"/repos/{GITOPS}").status_code == 404
    reader = _token(live, kind="user", user="qa-reader")
    assert _rest(live, reader, "GET", f"/repos/{GITOPS}").status_code == 200
    refused = _rest(
        live, reader, "POST", f"/repos/{GITOPS}/git/refs", {"ref": "refs/heads/x", "sha": "0" * 40}
    )
    assert refused.status_code == 403


def test_a_public_repository_outside_the_token_is_not_writable(live_sandbox: LiveSandbox) -> None:
    """Row 2a: an installation token writing to a public repository it was not minted for is
    refused 403 "Resource not accessible by integration" (ambient-code/platform#935)."""
    live = live_sandbox
    token = _token(live, kind="installation", repositories=[GITOPS])
    live.control("POST", f"/repos/{APP}/visibility", {"private": False})
    ref = {"ref": "refs/heads/intruder", "sha": live.info.deployed_sha}
    refused = _rest(live, token, "POST", f"/repos/{APP}/git/refs", ref)
    assert (refused.status_code, refused.json()["message"]) == (
        403,
        "Resource not accessible by integration",
    )
    assert live.sandbox.repo(APP).git.ref("refs/heads/intruder") is None


def test_a_node_is_held_to_the_permission_of_its_kind(live_sandbox: LiveSandbox) -> None:
    """Rows 3b: reading a pull request needs Pull requests: read, whether it is reached through
    ``repository.pullRequest`` or by its id through ``node`` (a refused field is ``FORBIDDEN``
    with the field ``null``)."""
    live = live_sandbox
    issue = live.control("POST", "/comments", {"repo": GITOPS, "user": "omerbh7", "body": "hi"})
    node = issue.json()["issue"]["node_id"]
    token = _token(
        live, kind="installation", repositories=[GITOPS], permissions={"contents": "read"}
    )
    answer = _graphql(live, token, "query($id: ID!) { node(id: $id) { id } }", id=node)
    error = answer.json()["errors"][0]
    assert (error["type"], error["path"]) == ("FORBIDDEN", ["node"])
    assert answer.json()["data"] == {"node": None}
    reader = _token(
        live, kind="installation", repositories=[GITOPS], permissions={"issues": "read"}
    )
    allowed = _graphql(live, reader, "query($id: ID!) { node(id: $id) { id } }", id=node)
    assert allowed.json()["data"] == {"node": {"id": node}}


def test_pull_requests_write_comments_on_pull_requests_only(live_sandbox: LiveSandbox) -> None:
    """GitHub's fine-grained permission table for "Create an issue comment": Issues write, or
    Pull requests write (docs.github.com, "Permissions required for GitHub Apps"); the latter
    reaches a pull request's thread, not a plain issue's (inferred: no answer was recorded)."""
    live = live_sandbox
    token = _token(
        live, kind="installation", repositories=[GITOPS], permissions={"pull_requests": "write"}
    )
    issue = live.control("POST", "/comments", {"repo": GITOPS, "user": "omerbh7", "body": "hi"})
    number = issue.json()["issue"]["number"]
    refused = _rest(live, token, "POST", f"/repos/{GITOPS}/issues/{number}/comments", {"body": "x"})
    assert refused.status_code == 403
