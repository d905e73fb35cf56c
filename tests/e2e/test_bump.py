"""Dev and stage follow CI: the real entrypoint against the simulator, one outcome per test.

Assertions are on the simulator's state (files on main, pull requests, merges) and on the
request log, not on log text. Every request is also checked against GitHub's API descriptions
when the `live_sandbox` fixture ends.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from scoutflow_gitops.sandbox.control import push_commit
from tests.e2e.harness import (
    APP,
    CI,
    GITOPS,
    bump_pulls,
    ci_event,
    new_app_commit,
    run_bot,
    tag_on_main,
    values_on_main,
)
from tests.sandbox.fixtures import LiveSandbox

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "webhooks"


def finish_ci(live: LiveSandbox, tmp_path: Path, sha: str) -> list[str]:
    """Three CI workflows finish for `sha`, one job each; the results in order."""
    return [run_bot(live, tmp_path, ci_event(live, sha, name)).result for name in CI]


def test_the_last_green_workflow_deploys_dev_and_stage_in_one_squashed_commit(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    deployed = live.info.deployed_sha
    before = {env: values_on_main(live, env) for env in ("dev", "stage", "prod")}
    sha = new_app_commit(live)

    first = run_bot(live, tmp_path, ci_event(live, sha, "Backend CI"))
    second = run_bot(live, tmp_path, ci_event(live, sha, "Frontend CI"))
    last = run_bot(live, tmp_path, ci_event(live, sha, "Database CI"))

    assert (first.result, second.result, last.result) == ("waiting", "waiting", "merged")
    assert first.exit_code == second.exit_code == last.exit_code == 0
    assert "Frontend CI, Database CI" in first.outputs["reason"]
    assert not first.writes and not second.writes
    for env in ("dev", "stage"):
        after = values_on_main(live, env)
        assert after == before[env].replace(deployed.encode(), sha.encode())
    assert values_on_main(live, "prod") == before["prod"]
    (pr,) = bump_pulls(live)
    assert pr.pull.merged and pr.title == f"Deploy {sha[:7]} to dev, stage"
    assert {label.name for label in pr.labels} == {"automated", "env:dev", "env:stage"}
    assert last.outputs["pr_number"] == str(pr.number)
    assert last.outputs["environments"] == "dev,stage"
    assert last.outputs["image_tag"] == sha
    assert "## ScoutFlow GitOps: Deployed" in last.summary
    assert f"+  imageTag: {sha}" in last.summary
    # config+state, runs, files+history, publish, (labels,) auto-merge refused as clean, merge.
    # The label call happens once per repository: it creates the labels the repo lacks.
    assert [r["path"].rsplit("/", 1)[-1] for r in last.requests].count("labels") == 1
    assert len(last.requests) == 7, [r["path"] for r in last.requests]
    assert len(first.requests) == 2

    newer = new_app_commit(live, "Add box scores")
    for name in CI[:2]:
        run_bot(live, tmp_path, ci_event(live, newer, name))
    steady = run_bot(live, tmp_path, ci_event(live, newer, "Database CI"))
    assert steady.result == "merged"
    assert len(steady.requests) == 6, [r["path"] for r in steady.requests]


def test_a_late_success_for_an_older_commit_never_downgrades(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    newest = new_app_commit(live)
    assert finish_ci(live, tmp_path, newest)[-1] == "merged"
    older = live.info.app_commits[1]

    results = finish_ci(live, tmp_path, older)

    assert results[-1] == "noop"
    assert tag_on_main(live, "dev") == tag_on_main(live, "stage") == newest
    assert len(bump_pulls(live)) == 1


def test_ci_success_for_what_already_runs_is_a_cheap_noop(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    again = run_bot(live, tmp_path, ci_event(live, live.info.deployed_sha, "Database CI"))
    assert again.result == "noop"
    assert "already runs" in again.outputs["reason"]
    assert not again.writes and len(again.requests) <= 3


def test_a_failed_workflow_blocks_without_a_request(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    sha = new_app_commit(live)
    failed = run_bot(live, tmp_path, ci_event(live, sha, "Backend CI", "failure"))
    assert (failed.result, failed.exit_code) == ("blocked", 0)
    assert failed.requests == ()
    others = [run_bot(live, tmp_path, ci_event(live, sha, name)).result for name in CI[1:]]
    assert others == ["blocked", "blocked"]
    assert tag_on_main(live, "dev") == live.info.deployed_sha


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"event": "pull_request"}, "pull_request event"),
        ({"head_branch": "feature/x"}, "branch feature/x"),
        ({"workflow": "Docs"}, "not a required workflow"),
    ],
)
def test_runs_the_pipeline_does_not_follow_are_skipped(
    live_sandbox: LiveSandbox, tmp_path: Path, fields: dict[str, str], words: str
) -> None:
    live = live_sandbox
    sha = new_app_commit(live)
    workflow = fields.pop("workflow", "Database CI")
    run = run_bot(live, tmp_path, ci_event(live, sha, workflow, **fields))
    assert (run.result, run.exit_code) == ("skipped", 0)
    assert words in run.outputs["reason"]
    assert not run.writes
    assert len(run.requests) <= 1


def test_a_commit_that_is_not_on_main_is_refused(live_sandbox: LiveSandbox, tmp_path: Path) -> None:
    live = live_sandbox
    with live.sandbox.lock:
        app = live.sandbox.repo(APP)
        live.sandbox.create_ref(app, "refs/heads/side", live.info.app_commits[2])
    side = push_commit(live.sandbox, APP, {"side.txt": "x"}, message="Side", branch="side")
    results = finish_ci(live, tmp_path, side)
    assert results[-1] == "refused"
    assert tag_on_main(live, "dev") == live.info.deployed_sha
    assert bump_pulls(live) == []


def test_dry_run_prints_the_plan_and_writes_nothing(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    sha = new_app_commit(live)
    for name in CI[:2]:
        run_bot(live, tmp_path, ci_event(live, sha, name))
    dry = run_bot(live, tmp_path, ci_event(live, sha, "Database CI"), dry_run=True)
    assert dry.result == "opened"
    assert dry.outputs["reason"].startswith("dry run: would open a PR")
    assert f"+  imageTag: {sha}" in dry.stdout
    assert not dry.writes
    assert bump_pulls(live) == []


def _set_merge(live: LiveSandbox, mode: str) -> None:
    """Commit a pipeline config whose CI environments merge with `mode`."""
    path = ".github/scoutflow-gitops.yml"
    with live.sandbox.lock:
        repo = live.sandbox.repo(GITOPS)
        tree = repo.git.flat_tree(repo.git.commit_info(live.sandbox.branch_head(repo, "main")).tree)
        text = repo.git.blob(tree[path].sha).decode()
    # Only the environments that follow CI: prod's `merge: none` stays.
    text = re.sub(r"(follows_ci: true\n(?:\s*#.*\n)*\s*merge: )\w+", rf"\g<1>{mode}", text)
    push_commit(live.sandbox, GITOPS, {path: text}, message=f"Bump PRs merge: {mode}")


def test_merge_none_opens_then_updates_one_rolling_pr(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    _set_merge(live, "none")
    first_sha = new_app_commit(live, "First")
    assert finish_ci(live, tmp_path, first_sha)[-1] == "opened"
    second_sha = new_app_commit(live, "Second")
    results = finish_ci(live, tmp_path, second_sha)

    assert results[-1] == "updated"
    (pr,) = bump_pulls(live)
    assert pr.state == "open" and not pr.pull.merged
    assert pr.title == f"Deploy {second_sha[:7]} to dev, stage"
    assert f"Supersedes `{first_sha[:7]}`" in pr.body
    # The branch is one commit on top of main: the rolling PR shows only the two tag lines.
    repo = live.sandbox.repo(GITOPS)
    head = repo.git.commit_info(pr.pull.head_sha)
    assert head.parents == (live.sandbox.branch_head(repo, "main"),)
    assert tag_on_main(live, "dev") == live.info.deployed_sha

    replay = run_bot(live, tmp_path, ci_event(live, first_sha, "Database CI"))
    assert replay.result == "noop" and "never downgraded" in replay.outputs["reason"]
    assert bump_pulls(live)[0].pull.head_sha == pr.pull.head_sha


def test_required_checks_mean_auto_merge_then_github_merges(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    assert live.control("POST", f"/repos/{GITOPS}/settings", {"require_checks": True}).ok
    sha = new_app_commit(live)
    assert finish_ci(live, tmp_path, sha)[-1] == "auto-merge-enabled"
    (pr,) = bump_pulls(live)
    assert pr.pull.auto_merge is not None and not pr.pull.merged
    live.control(
        "POST", "/checks", {"repo": GITOPS, "sha": pr.pull.head_sha, "conclusion": "success"}
    )
    assert bump_pulls(live)[0].pull.merged
    assert tag_on_main(live, "stage") == sha


def test_a_pr_left_without_auto_merge_is_repaired_by_the_next_event(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    _set_merge(live, "none")
    sha = new_app_commit(live)
    assert finish_ci(live, tmp_path, sha)[-1] == "opened"
    _set_merge(live, "direct")
    again = run_bot(live, tmp_path, ci_event(live, sha, "Database CI"))
    assert again.result == "merged"
    assert tag_on_main(live, "dev") == sha
    assert len(bump_pulls(live)) == 1


@pytest.mark.parametrize("index", range(5))
def test_every_real_workflow_run_example_gets_a_clear_outcome(
    live_sandbox: LiveSandbox, tmp_path: Path, index: int
) -> None:
    payload = json.loads((FIXTURES / "workflow_run.json").read_text())[index]
    run = run_bot(live_sandbox, tmp_path, payload)
    assert run.exit_code == 0
    assert run.result in {"skipped", "blocked"}
    assert run.outputs["reason"]
    assert run.requests == ()


def test_a_leftover_branch_without_a_pr_is_reset_and_used(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    """Half-done state: the bump branch exists (stale, on an older main) but has no PR."""
    live = live_sandbox
    with live.sandbox.lock:
        repo = live.sandbox.repo(GITOPS)
        main = live.sandbox.branch_head(repo, "main")
        stale = repo.git.commit_info(main).parents[0]
        live.sandbox.create_ref(repo, "refs/heads/scoutflow-gitops/bump-dev-stage", stale)
    sha = new_app_commit(live)
    assert finish_ci(live, tmp_path, sha)[-1] == "merged"
    (pr,) = bump_pulls(live)
    assert live.sandbox.repo(GITOPS).git.commit_info(pr.pull.head_sha).parents == (main,)
    assert tag_on_main(live, "dev") == tag_on_main(live, "stage") == sha


def test_an_open_pr_on_a_branch_behind_main_is_rebuilt_on_the_new_main(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    """Half-done state: main moved on (someone edited the repo) under an open bump PR."""
    live = live_sandbox
    _set_merge(live, "none")
    first = new_app_commit(live, "First")
    assert finish_ci(live, tmp_path, first)[-1] == "opened"
    push_commit(live.sandbox, GITOPS, {"docs/notes.md": "A note\n"}, message="Add a note")
    second = new_app_commit(live, "Second")
    assert finish_ci(live, tmp_path, second)[-1] == "updated"
    (pr,) = bump_pulls(live)
    repo = live.sandbox.repo(GITOPS)
    head = repo.git.commit_info(pr.pull.head_sha)
    assert head.parents == (live.sandbox.branch_head(repo, "main"),)
    assert "docs/notes.md" in repo.git.flat_tree(head.tree)
