"""Pages, comparisons and run payloads as GitHub shapes them (rows 17 to 20 of
``docs/sandbox-rules.md``)."""

from __future__ import annotations

from typing import Any

import requests

from scoutflow_gitops.sandbox.control import finish_workflow_run, push_commit
from tests.sandbox.fixtures import LiveSandbox

APP = "omerbh7/scoutflow-app"
AUTH = {"Authorization": "token sandbox-token"}


def _get(live: LiveSandbox, path: str, **params: Any) -> requests.Response:
    return requests.get(live.url + path, params=params, headers=AUTH, timeout=10)


def test_list_endpoints_page_at_most_a_hundred(live_sandbox: LiveSandbox) -> None:
    """Row 17a and 19: ``per_page`` is at most 100 and the rest is reached through the
    ``Link`` header; a commit can have more than a hundred workflow runs (re-runs, many
    workflows), so a reader that stops at the first page misses some."""
    live = live_sandbox
    sha = live.info.deployed_sha
    for index in range(105):
        finish_workflow_run(
            live.sandbox, live.server.shapes, APP, head_sha=sha,
            workflow=f"Check {index}", conclusion="success",
        )  # fmt: skip
    first = _get(live, f"/repos/{APP}/actions/runs", head_sha=sha, per_page=500)
    assert first.json()["total_count"] == 108
    assert len(first.json()["workflow_runs"]) == 100
    assert 'rel="next"' in first.headers["Link"]
    second = _get(live, f"/repos/{APP}/actions/runs", head_sha=sha, per_page=100, page=2)
    assert len(second.json()["workflow_runs"]) == 8
    assert 'rel="next"' not in second.headers["Link"]


def test_compare_pages_oldest_first(live_sandbox: LiveSandbox) -> None:
    """Row 17b: compare lists commits oldest first; with ``per_page`` or ``page`` it pages them,
    so the newest commits of a long comparison are on its last page."""
    live = live_sandbox
    base = live.info.app_commits[0]
    head = live.info.app_commits[-1]
    whole = _get(live, f"/repos/{APP}/compare/{base}...{head}").json()
    assert [c["sha"] for c in whole["commits"]] == list(live.info.app_commits[1:])
    paged = _get(live, f"/repos/{APP}/compare/{base}...{head}", per_page=2, page=3)
    assert [c["sha"] for c in paged.json()["commits"]] == list(live.info.app_commits[5:])
    assert paged.json()["ahead_by"] == 5
    assert 'rel="prev"' in paged.headers["Link"]


def test_compare_of_unrelated_histories_is_404_no_common_ancestor(
    live_sandbox: LiveSandbox,
) -> None:
    """Row 18: GitHub answers 404 "No common ancestor between A and B." for commits with no
    shared history (github-changelog-generator/github-changelog-generator#994): not a
    ``diverged`` comparison, and a different 404 from one that hides a repository."""
    live = live_sandbox
    with live.sandbox.lock:
        repo = live.sandbox.repo(APP)
        orphan = live.sandbox.commit_files(repo, "orphan", {"x.txt": b"x"}, "Unrelated root")
    base = live.info.deployed_sha
    answer = _get(live, f"/repos/{APP}/compare/{base}...{orphan}")
    assert answer.status_code == 404
    assert answer.json()["message"] == f"No common ancestor between {base} and {orphan}."


def test_runs_and_payloads_name_their_workflow_file(live_sandbox: LiveSandbox) -> None:
    """Row 20: a run carries ``workflow_id`` and ``path``; its ``name`` comes from the file's
    ``name:``, which two files may share; GitHub's own ``workflow_run`` webhook examples carry
    an empty ``workflow_run.name`` (octokit/webhooks examples, copied in
    ``tests/fixtures/github/webhooks/workflow_run.json``)."""
    live = live_sandbox
    sha = push_commit(live.sandbox, APP, {"src/a.py": "a = 1\n"}, message="Add a")
    real = finish_workflow_run(
        live.sandbox, live.server.shapes, APP, head_sha=sha, workflow="Backend CI",
        conclusion="success", run_name="",
    )  # fmt: skip
    impostor = finish_workflow_run(
        live.sandbox, live.server.shapes, APP, head_sha=sha, workflow="Backend CI",
        conclusion="success", workflow_path=".github/workflows/backend-ci-copy.yml",
    )  # fmt: skip
    assert real["workflow_run"]["name"] == ""
    assert real["workflow"]["name"] == "Backend CI"
    assert real["workflow_run"]["path"] == ".github/workflows/backend-ci.yml"
    assert impostor["workflow_run"]["name"] == "Backend CI"
    assert impostor["workflow_run"]["path"] == ".github/workflows/backend-ci-copy.yml"
    assert impostor["workflow_run"]["workflow_id"] != real["workflow_run"]["workflow_id"]
    listed = _get(live, f"/repos/{APP}/actions/runs", head_sha=sha).json()["workflow_runs"]
    assert sorted(run["path"] for run in listed) == [
        ".github/workflows/backend-ci-copy.yml",
        ".github/workflows/backend-ci.yml",
    ]
