"""Attacks on the bot's GitHub handling, by people who read its code and by GitHub's own rules.

Each test drives the real entrypoint against the simulator. Its docstring names the attack,
who controls the input the bot trusted, and the evidence for any GitHub behaviour it relies on.
"""

from __future__ import annotations

from pathlib import Path

from tests.hostile.harness import (
    APP,
    CI,
    GITOPS,
    assert_no_crash,
    assert_policy,
    file_on_main,
    finish,
    green_except_last,
    new_app_commit,
    pulls,
    run,
    values_path,
)
from tests.sandbox.fixtures import LiveSandbox

# The committed config's bump branch.
BUMP = "scoutflow-gitops/bump-dev-stage"


def test_an_open_pr_from_the_bump_branch_into_another_base_is_never_taken_for_the_bump(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    """Attack: someone with write access opens a PR from the bot's branch (``BUMP``) into a
    side branch of their own. The bot took the first open PR on its branch for its own, moved
    the branch, retitled that PR "Deploy ... to dev, stage", merged it into the side branch
    and reported ``merged``, while main (what Argo CD deploys) never changed.

    Who controls it: any writer of the GitOps repository (the PR's base is theirs to choose).
    GitHub: a branch may be the head of several open PRs with different bases (only one per
    head and base pair), and ``Ref.associatedPullRequests`` lists PRs by head ref; the base is
    the PR's ``baseRefName`` (GraphQL schema, ``PullRequest.baseRefName``).
    """
    live = live_sandbox
    writer = live.as_user("dev-writer").get_repo(GITOPS)
    head = live.info.gitops_head
    writer.create_git_ref("refs/heads/side", head)
    writer.create_git_ref(f"refs/heads/{BUMP}", head)
    # The branch needs a commit the base lacks, or GitHub refuses the PR.
    live.sandbox.commit_files(live.sandbox.repo(GITOPS), BUMP, {"notes.md": b"mine\n"}, "Mine")
    decoy = writer.create_pull(base="side", head=BUMP, title="Side work")
    before = file_on_main(live, values_path("dev"))
    sha = new_app_commit(live, "shot_charts")

    job = run(live, tmp_path, green_except_last(live, sha))

    assert_no_crash(job)
    assert job.exit_code == 0, job.stdout
    assert job.result == "merged", job.outputs
    after = file_on_main(live, values_path("dev"))
    assert after == before.replace(live.info.deployed_sha.encode(), sha.encode())
    decoy_issue = live.sandbox.issue(live.sandbox.repo(GITOPS), decoy.number)
    assert decoy_issue.title == "Side work"
    assert not decoy_issue.pull.merged
    bump = [issue for issue in pulls(live) if issue.number != decoy.number]
    assert len(bump) == 1 and bump[0].pull.base_ref == "main" and bump[0].pull.merged


def test_a_commit_off_the_source_branch_is_never_deployed_by_a_tag_named_like_it(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    """Attack: a writer of the app repository commits on a side branch nobody reviewed and
    pushes a tag named ``main`` at that commit. CI's push runs for the tag carry
    ``head_branch: "main"`` and ``event: "push"``, so every field the bot checked said "main";
    the commit is ahead of what dev runs, and the bot deployed it to dev and stage.

    Who controls it: anyone who can push to the app repository (tags are outside the branch
    protection of ``main``), and the run's ``head_branch`` follows the ref they pushed.
    GitHub: for a tag push ``workflow_run.head_branch`` is the tag's name, and ``GET
    .../actions/runs?branch=<tag>&event=push`` lists those runs
    (https://github.com/safedep/vet/pull/586 reads the tag from ``head_branch``;
    https://github.com/NVIDIA/NeMo-Relay/pull/34 lists tag runs with ``--event push --branch
    "$tag"``). The commit's place in the history is what GitHub knows of ``main``, not a name.
    """
    live = live_sandbox
    app = live.as_user("dev-writer").get_repo(APP)
    main_head = app.get_branch("main").commit.sha
    app.create_git_ref("refs/heads/unreviewed", main_head)
    sha = new_app_commit(live, "backdoor", branch="unreviewed")
    app.create_git_ref("refs/tags/main", sha)
    before = {env: file_on_main(live, values_path(env)) for env in ("dev", "stage")}

    job = run(live, tmp_path, green_except_last(live, sha))

    assert_policy(job, "refused", sha[:7], "main")
    assert {env: file_on_main(live, values_path(env)) for env in ("dev", "stage")} == before
    assert pulls(live) == []


def test_a_commit_of_the_source_branch_deeper_than_one_page_of_history_still_deploys(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    """The check above must not refuse a real commit of ``main`` that is older than the
    branch's first page of history (GraphQL connections stop at 100 nodes): one REST compare
    of the candidate with the branch head decides then.

    Who controls it: developers pushing to ``main`` (a late CI success for an older commit).
    GitHub: connections need ``first`` of at most 100 (rows 17a, 19 of docs/sandbox-rules.md);
    compare's ``status`` is ``ahead`` when the head contains the base.
    """
    live = live_sandbox
    sha = new_app_commit(live, "old_but_good")
    for index in range(101):
        new_app_commit(live, f"later{index}")

    job = run(live, tmp_path, green_except_last(live, sha))

    assert_no_crash(job)
    assert job.result == "merged", (job.outputs, job.stdout)
    assert file_on_main(live, values_path("dev")).count(sha.encode()) == 1


def test_a_workflow_file_that_borrows_a_required_name_never_counts(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    """Attack: a writer of the app repository adds `.github/workflows/quick.yml` with
    `name: Database CI`, a job that always passes, and lets it finish first. Matched by
    display name, it stood in for the real `database-ci.yml`, which had not run: the bot
    deployed a commit whose database checks never ran.

    Who controls it: anyone who can push a workflow file (the `name:` is free text, and GitHub
    lets two files share it: camunda/camunda#11543; runs carry the file as `path` and
    `workflow_id`, OpenAPI `workflow-run`; docs/sandbox-rules.md row 20)."""
    live = live_sandbox
    sha = new_app_commit(live, "untested")
    finish(live, sha, CI[0])
    finish(live, sha, CI[1])
    before = {env: file_on_main(live, values_path(env)) for env in ("dev", "stage")}

    impostor = finish(live, sha, CI[2], workflow_path=".github/workflows/quick.yml")
    job = run(live, tmp_path, impostor)

    assert_no_crash(job)
    assert (job.exit_code, job.result) == (0, "skipped"), job.outputs.get("reason")
    assert job.writes == ()
    # The real file's run still has the last word, and then the commit deploys.
    real = run(live, tmp_path, finish(live, sha, CI[2]))
    assert (real.exit_code, real.result) == (0, "merged"), real.outputs.get("reason")
    assert {env: file_on_main(live, values_path(env)) for env in ("dev", "stage")} != before


def test_github_s_own_payload_shape_with_an_empty_run_name_still_deploys(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    """GitHub's own `workflow_run` webhook examples carry `workflow_run.name: ""` while the
    workflow's file is in `path` (octokit/webhooks examples, copied in
    tests/fixtures/github/webhooks/workflow_run.json): a bot that keys on the name waits
    for ever."""
    live = live_sandbox
    sha = new_app_commit(live, "nameless")
    finish(live, sha, CI[0])
    finish(live, sha, CI[1])

    job = run(live, tmp_path, finish(live, sha, CI[2], run_name=""))

    assert_no_crash(job)
    assert (job.exit_code, job.result) == (0, "merged"), job.outputs.get("reason")


def test_a_required_run_on_the_second_page_of_runs_still_counts(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    """GitHub lists at most 100 runs a page, newest first (OpenAPI `actions/list-workflow-runs-
    for-repo`, `per_page` max 100; docs/sandbox-rules.md row 19), and a commit can have more
    (re-runs, many workflows: who controls that is whoever adds workflows or re-runs them).
    The required Backend CI finished first, then a hundred other runs: read from one page, it
    was missing and the commit waited for ever."""
    live = live_sandbox
    sha = new_app_commit(live, "busy")
    finish(live, sha, CI[0])
    for index in range(101):
        finish(live, sha, f"Lint {index}")
    finish(live, sha, CI[1])

    job = run(live, tmp_path, finish(live, sha, CI[2]))

    assert_no_crash(job)
    assert (job.exit_code, job.result) == (0, "merged"), job.outputs.get("reason")
