"""The control API, the webhook payloads it returns, the request log, and `sandbox serve`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from scoutflow_gitops.sandbox import Sandbox, seed_scoutflow
from scoutflow_gitops.sandbox.seed import APP_HISTORY
from tests.sandbox.contract import assert_webhook
from tests.sandbox.fixtures import PROJECT_ROOT, LiveSandbox


def test_workflow_run_payloads_have_githubs_fields(live_sandbox: LiveSandbox) -> None:
    info = live_sandbox.info
    body = {
        "repo": info.app_repo,
        "head_sha": info.app_commits[-1],
        "workflow": "Backend CI",
        "conclusion": "success",
    }
    done = live_sandbox.control("POST", "/workflow-runs", body).json()
    assert_webhook("workflow_run", done)
    assert done["action"] == "completed"
    run = done["workflow_run"]
    assert (run["head_sha"], run["conclusion"], run["status"]) == (
        info.app_commits[-1],
        "success",
        "completed",
    )
    assert run["repository"]["full_name"] == info.app_repo
    assert done["workflow"]["path"] == ".github/workflows/backend-ci.yml"
    running = live_sandbox.control(
        "POST", "/workflow-runs", {**body, "conclusion": None, "head_branch": "feature"}
    ).json()
    assert_webhook("workflow_run", running)
    assert running["action"] == "in_progress"
    assert running["workflow_run"]["conclusion"] is None
    listed = live_sandbox.github.get_repo(info.app_repo).get_workflow_runs(
        head_sha=info.app_commits[-1]
    )
    assert listed.totalCount == 2


def test_comment_payloads_open_an_issue_when_none_is_given(live_sandbox: LiveSandbox) -> None:
    repo = live_sandbox.info.gitops_repo
    first = live_sandbox.control(
        "POST", "/comments", {"repo": repo, "user": "release-manager", "body": "/promote dev"}
    ).json()
    assert_webhook("issue_comment", first)
    assert first["action"] == "created"
    assert first["comment"]["user"]["login"] == "release-manager"
    assert first["comment"]["author_association"] == "COLLABORATOR"
    number = first["issue"]["number"]
    second = live_sandbox.control(
        "POST", "/comments", {"repo": repo, "user": "outsider", "body": "me too", "issue": number}
    ).json()
    assert second["issue"]["number"] == number
    assert second["comment"]["author_association"] == "NONE"
    assert second["issue"]["comments"] == 2


def test_dispatch_payloads_have_githubs_fields(live_sandbox: LiveSandbox) -> None:
    # Dispatching needs Actions write, which the bot's App does not have: the owner does it.
    app = live_sandbox.as_user("omerbh7").get_repo(live_sandbox.info.app_repo)
    app.get_workflow("frontend-ci.yml").create_dispatch("main", {"reason": "demo"})
    payloads = live_sandbox.control("GET", f"/dispatches?repo={live_sandbox.info.app_repo}").json()
    assert len(payloads) == 1
    assert_webhook("workflow_dispatch", payloads[0])
    assert payloads[0]["workflow"] == ".github/workflows/frontend-ci.yml"


def test_request_log_records_api_calls_but_never_tokens(live_sandbox: LiveSandbox) -> None:
    live_sandbox.github.get_repo(live_sandbox.info.app_repo)
    live_sandbox.graphql("{ viewer { login } }")
    live_sandbox.control("GET", "/clock")
    log = live_sandbox.control("GET", "/requests").json()
    assert log == [
        {"method": "GET", "path": f"/repos/{live_sandbox.info.app_repo}", "status": 200},
        {"method": "POST", "path": "/graphql", "status": 200},
    ]
    full = live_sandbox.control("GET", "/requests?full=1").json()
    assert full[1]["body"] == {"query": "{ viewer { login } }", "variables": {}}
    assert full[1]["response"] == {"data": {"viewer": {"login": "scoutflow-gitops[bot]"}}}
    assert "sandbox-token" not in str(full)
    assert live_sandbox.control("DELETE", "/requests").status_code == 204
    assert live_sandbox.control("GET", "/requests").json() == []


def test_clock_collaborators_and_state(live_sandbox: LiveSandbox) -> None:
    before = live_sandbox.control("GET", "/clock").json()["now"]
    after = live_sandbox.control("POST", "/clock", {"advance_minutes": 90}).json()["now"]
    assert before < after
    repo = live_sandbox.info.gitops_repo
    sha = live_sandbox.control(
        "POST", "/commits", {"repo": repo, "message": "Later", "files": {"later.txt": "l\n"}}
    ).json()["sha"]
    commit = live_sandbox.github.get_repo(repo).get_commit(sha)
    assert commit.commit.committer.date.isoformat().startswith(after[:16])
    granted = live_sandbox.control(
        "POST", "/collaborators", {"repo": repo, "user": "outsider", "permission": "write"}
    )
    assert granted.status_code == 200
    state = live_sandbox.control("GET", f"/state?repo={repo}").json()
    assert state["files"]["later.txt"] == "l\n"
    assert state["collaborators"]["outsider"] == "write"
    assert state["branches"]["main"] == sha
    bad = live_sandbox.control(
        "POST", "/collaborators", {"repo": repo, "user": "x", "permission": "god"}
    )
    assert bad.status_code == 422
    assert live_sandbox.control("GET", "/state?repo=omerbh7/ghost").status_code == 404


def test_seed_is_deterministic_and_points_values_at_an_older_commit() -> None:
    first, second = Sandbox(), Sandbox()
    one, two = seed_scoutflow(first, PROJECT_ROOT), seed_scoutflow(second, PROJECT_ROOT)
    assert one == two
    assert len(one.app_commits) == len(APP_HISTORY) == 6
    assert one.deployed_sha == one.app_commits[3]
    assert one.newer_app_commits == one.app_commits[4:]
    gitops = first.repo(one.gitops_repo)
    tree = gitops.git.flat_tree(gitops.git.commit_info(one.gitops_head).tree)
    for name in one.values_files:
        assert one.deployed_sha in gitops.git.blob(tree[name].sha).decode()
    assert first.role(gitops, "release-manager") == "maintain"
    assert first.role(gitops, "outsider") is None


def test_seed_refuses_a_folder_that_is_not_a_repository(tmp_path: Path) -> None:
    from scoutflow_gitops.errors import UserError

    try:
        seed_scoutflow(Sandbox(), tmp_path)
    except UserError as exc:
        assert "not a git repository" in exc.message
    else:
        raise AssertionError("expected a UserError")


def test_serve_prints_its_url_and_stops_cleanly_on_sigterm() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable,
        "-m",
        "scoutflow_gitops.cli",
        "sandbox",
        "serve",
        "--repo",
        str(PROJECT_ROOT),
    ]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        try:
            assert url.startswith("http://127.0.0.1:")
            lines = [process.stdout.readline().strip() for _ in range(3)]
            token = lines[-1].rpartition(": ")[2]
            assert token.startswith("ghp_"), lines
            response = requests.get(
                f"{url}/repos/omerbh7/scoutflow-app",
                headers={"Authorization": f"token {token}"},
                timeout=5,
            )
            assert response.json()["full_name"] == "omerbh7/scoutflow-app"
            unknown = requests.get(
                f"{url}/repos/omerbh7/scoutflow-app",
                headers={"Authorization": "token t"},
                timeout=5,
            )
            assert unknown.status_code == 401
            assert unknown.json()["message"] == "Bad credentials"
        finally:
            process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
