"""Many events at once, and GitHub failing mid-flight: the real CLI in separate processes.

The storm is `bench/storm.py` at a small size (the benchmark runs the full one): shuffled
`workflow_run` completions, several bot processes at once, with and without injected transient
failures. The single-job tests inject one fault where it hurts most: GitHub did the write but
the client never saw the answer. Each job is the real `scoutflow-gitops run` in a subprocess.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from bench.storm import Delivery, Job, StormConfig, run_job, run_storm

from scoutflow_gitops.sandbox.faults import Fault, add_fault, list_faults
from tests.e2e.harness import CI, GITOPS, bump_pulls, ci_event, new_app_commit, tag_on_main
from tests.sandbox.contract import check_record
from tests.sandbox.fixtures import LiveSandbox

GRAPHQL = "^/graphql$"


@pytest.mark.parametrize("fault_rate", [0.0, 0.1], ids=["calm", "10%-transient-faults"])
def test_a_small_storm_ends_on_the_newest_fully_green_commit(fault_rate: float) -> None:
    config = StormConfig(commits=8, completions=27, processes=4, fault_rate=fault_rate)

    report = run_storm(config)

    assert len(report.jobs) == config.completions
    assert report.problems() == []
    assert report.deployed == {"dev": report.expected, "stage": report.expected}
    assert {move.direction for move in report.moves} <= {"forward", "outside"}
    assert report.results["blocked"] >= 1 and report.results["merged"] >= 1
    if fault_rate:
        assert report.injected > 0
    assert [p for record in report.records for p in check_record(record)] == []


def _green_but_one(live: LiveSandbox, message: str) -> tuple[str, dict[str, Any]]:
    """A new commit whose first two workflows passed; the third one's payload."""
    sha = new_app_commit(live, message)
    for workflow in CI[:2]:
        ci_event(live, sha, workflow)
    return sha, ci_event(live, sha, CI[2])


def _wait_for_the_first_fault(live: LiveSandbox, seconds: float = 30) -> None:
    """Until the first armed fault has fired (the slow job reached it), or fail."""
    deadline = time.monotonic() + seconds
    while list_faults(live.sandbox)[0]["injected"] == 0:
        assert time.monotonic() < deadline, "the slow job never reached its fault"
        time.sleep(0.02)


def _job(live: LiveSandbox, tmp_path: Path, sha: str, payload: dict[str, Any], name: str) -> Job:
    return run_job(live.url, Delivery(0, sha, CI[2], "success"), payload, tmp_path / name)


def test_a_publish_github_applied_but_answered_502_leaves_one_merged_pr(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    sha, payload = _green_but_one(live, "Add shot charts")
    add_fault(
        live.sandbox,
        Fault(GRAPHQL, graphql_operation="Publish", status=502, times=1, after=True),
    )

    job = _job(live, tmp_path, sha, payload, "job")

    assert (job.exit_code, job.result) == (0, "merged"), job.stderr
    (pull,) = bump_pulls(live)
    assert pull.pull.merged
    assert tag_on_main(live, "dev") == tag_on_main(live, "stage") == sha


def test_a_pr_whose_creation_answer_was_lost_still_gets_its_labels(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    sha, payload = _green_but_one(live, "Add shot charts")
    add_fault(
        live.sandbox,
        Fault(GRAPHQL, graphql_operation="Publish", status=502, times=1, after=True),
    )

    _job(live, tmp_path, sha, payload, "job")

    (pull,) = bump_pulls(live)
    assert {label.name for label in pull.labels} == {"automated", "env:dev", "env:stage"}


def test_a_merge_github_applied_but_answered_502_is_reported_as_done(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    sha, payload = _green_but_one(live, "Add shot charts")
    add_fault(
        live.sandbox, Fault(GRAPHQL, graphql_operation="Merge", status=502, times=1, after=True)
    )

    job = _job(live, tmp_path, sha, payload, "job")

    assert tag_on_main(live, "dev") == sha
    assert "Traceback" not in job.stderr
    assert (job.exit_code, job.result) in {(0, "merged"), (0, "noop")}, job.stderr


def test_a_newer_commit_is_deployed_when_its_pr_was_merged_meanwhile(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    older, older_payload = _green_but_one(live, "Add shot charts")
    newer, newer_payload = _green_but_one(live, "Add box scores")
    # The older commit's job opens its PR and stalls before merging it; the newer commit's job
    # reads that open PR, then its move of the PR's branch waits until the older job has merged.
    add_fault(live.sandbox, Fault(GRAPHQL, graphql_operation="Merge", delay_ms=1500, times=1))
    jobs: dict[str, Job] = {}
    slow = threading.Thread(
        target=lambda: jobs.update(older=_job(live, tmp_path, older, older_payload, "a"))
    )
    slow.start()
    _wait_for_the_first_fault(live)
    add_fault(live.sandbox, Fault(GRAPHQL, graphql_operation="MoveRefs", delay_ms=3000, times=1))
    jobs["newer"] = _job(live, tmp_path, newer, newer_payload, "b")
    slow.join()

    assert (jobs["older"].exit_code, jobs["older"].result) == (0, "merged")
    first = bump_pulls(live)[0]
    assert first.pull.merged and first.title == f"Deploy {older[:7]} to dev, stage"
    assert "Traceback" not in jobs["newer"].stderr
    assert jobs["newer"].exit_code == 0, jobs["newer"].stderr
    assert tag_on_main(live, "dev") == tag_on_main(live, "stage") == newer


def test_a_job_whose_pr_a_newer_job_moved_ends_cleanly(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    older, older_payload = _green_but_one(live, "Add shot charts")
    newer, newer_payload = _green_but_one(live, "Add box scores")
    # The older commit's job stalls before its merge; the newer one's job moves the PR to its
    # commit and stalls in turn, so the older job's merge names a head that is gone.
    add_fault(live.sandbox, Fault(GRAPHQL, graphql_operation="Merge", delay_ms=1500, times=1))
    jobs: dict[str, Job] = {}
    slow = threading.Thread(
        target=lambda: jobs.update(older=_job(live, tmp_path, older, older_payload, "a"))
    )
    slow.start()
    _wait_for_the_first_fault(live)
    add_fault(live.sandbox, Fault(GRAPHQL, graphql_operation="Merge", delay_ms=3000, times=1))
    jobs["newer"] = _job(live, tmp_path, newer, newer_payload, "b")
    slow.join()

    assert (jobs["newer"].exit_code, jobs["newer"].result) == (0, "merged")
    assert tag_on_main(live, "dev") == newer
    assert "Traceback" not in jobs["older"].stderr
    assert jobs["older"].exit_code == 0, jobs["older"].stderr


@pytest.mark.parametrize("delete_branch_on_merge", [False, True], ids=["branch-kept", "deleted"])
def test_a_job_that_read_before_another_merged_the_same_commit_leaves_no_second_pr(
    live_sandbox: LiveSandbox, tmp_path: Path, delete_branch_on_merge: bool
) -> None:
    """Two jobs for one commit: the late one reads (no bot branch), stalls, and publishes after
    the first has opened and squash-merged its PR. Its compare-and-swap on "branch absent"
    must not leave a second PR deploying what main already runs.

    Branch kept (GitHub's default): the swap fails, but GitHub runs every mutation of a
    document even after one fails (GraphQL spec, "Executing Operations": mutation fields run
    serially, and a field error nulls only that field), so ``createPullRequest`` opens a PR on
    the first job's commit. A squash merge leaves that commit off main, so GitHub sees it as
    one commit ahead and opens the PR (docs.github.com/en/pull-requests/collaborating-with-
    pull-requests/incorporating-changes-from-a-pull-request/about-pull-request-merges,
    "Squashing and merging a long-running branch").
    Branch deleted ("Automatically delete head branches", docs.github.com/en/repositories/
    configuring-branches-and-merges-in-your-repository/configuring-pull-request-merges/
    managing-the-automatic-deletion-of-branches): the swap succeeds, as a ``beforeOid`` of
    zeros only asks that the ref be absent, and the PR starts from the main before the merge.
    """
    live = live_sandbox
    live.sandbox.update_settings(
        live.sandbox.repo(GITOPS), {"delete_branch_on_merge": delete_branch_on_merge}
    )
    sha, payload = _green_but_one(live, "Add shot charts")
    add_fault(live.sandbox, Fault(GRAPHQL, graphql_operation="Publish", delay_ms=3000, times=1))
    jobs: dict[str, Job] = {}
    slow = threading.Thread(
        target=lambda: jobs.update(late=_job(live, tmp_path, sha, payload, "a"))
    )
    slow.start()
    _wait_for_the_first_fault(live)
    jobs["first"] = _job(live, tmp_path, sha, payload, "b")
    slow.join()

    assert (jobs["first"].exit_code, jobs["first"].result) == (0, "merged"), jobs["first"].stderr
    assert tag_on_main(live, "dev") == tag_on_main(live, "stage") == sha
    assert (jobs["late"].exit_code, jobs["late"].result) == (0, "noop"), jobs["late"].stderr
    merged, taken_back = bump_pulls(live)
    assert merged.pull.merged and merged.title == f"Deploy {sha[:7]} to dev, stage"
    # The late PR is closed at once, with a word for whoever got its notification.
    assert taken_back.state == "closed" and not taken_back.pull.merged
    (comment,) = taken_back.comments
    assert comment.body.startswith("Closed by the run that opened it: ")
    assert "nothing here was deployed" in comment.body
    branches = live.sandbox.repo(GITOPS).git.refs("refs/heads/scoutflow-gitops")
    if delete_branch_on_merge:
        assert branches == {}, "the late job's own branch is deleted with its PR"
    else:
        # The first job's branch stays as GitHub keeps it, at the first job's commit.
        assert list(branches.values()) == [merged.pull.head_sha]
