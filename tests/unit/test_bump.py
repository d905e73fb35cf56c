"""The bump decision, table by table. Pure functions: no fakes, no network."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scoutflow_gitops import bot, bump
from scoutflow_gitops.config import PipelineConfig, load_config
from scoutflow_gitops.errors import UserError
from scoutflow_gitops.events import WorkflowRunEvent, parse_event
from scoutflow_gitops.model import (
    BotBranch,
    Commit,
    GitopsState,
    Outcome,
    PullRequest,
    Relation,
    WorkflowRun,
)
from scoutflow_gitops.port import ConflictError
from tests.unit.payloads import FILES as WORKFLOW_FILES
from tests.unit.payloads import SHA, workflow_run

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_config((ROOT / ".github/scoutflow-gitops.yml").read_text())
DEV = "environments/dev/values.yaml"
STAGE = "environments/stage/values.yaml"
DEPLOYED = "e7c24f013e837f438f66a6e039e673f880e2cb89"
NEWER_PR_TAG = "9" * 40
FILES: Mapping[str, bytes | None] = {
    DEV: (ROOT / DEV).read_bytes(),
    STAGE: (ROOT / STAGE).read_bytes(),
}


def event(**overrides: object) -> WorkflowRunEvent:
    parsed = parse_event("workflow_run", workflow_run(**overrides))  # type: ignore[arg-type]
    assert isinstance(parsed, WorkflowRunEvent)
    return parsed


def state(*, holds: frozenset[str] = frozenset(), pr: PullRequest | None = None) -> GitopsState:
    branches = (
        (BotBranch("scoutflow-gitops/bump-dev-stage", "b" * 40, pr),) if pr is not None else ()
    )
    return GitopsState(
        repository_id="R_gitops",
        default_branch="main",
        head_oid="a" * 40,
        config_text=None,
        branches=branches,
        holds=holds,
        labels={},
        server_time=datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
    )


def run(name: str, conclusion: str | None = "success", **fields: object) -> WorkflowRun:
    """A run of the ScoutFlow workflow called ``name``, from its file (``FILES``)."""
    base = WorkflowRun(
        id=1,
        name=name,
        event="push",
        head_branch="main",
        status="completed" if conclusion else "in_progress",
        conclusion=conclusion,
        run_attempt=1,
        created_at="2026-11-27T10:00:00+00:00",
        url=f"https://github.com/omerbh7/scoutflow-app/actions/runs/{name.split()[0]}",
        path=WORKFLOW_FILES.get(name, ".github/workflows/other.yml"),
        workflow_id=100 + len(name),
    )
    return replace(base, **fields)  # type: ignore[arg-type]


GREEN = (run("Backend CI"), run("Frontend CI"), run("Database CI"))


def plan(
    relations: Mapping[str, Relation | None],
    *,
    config: PipelineConfig = CONFIG,
    files: Mapping[str, bytes | None] = FILES,
    branch_files: Mapping[str, bytes | None] | None = None,
    gitops: GitopsState | None = None,
) -> bump.BumpPlan | Outcome:
    return bump.plan_bump(
        config=config,
        candidate=SHA,
        state=gitops or state(),
        files=files,
        branch_files=branch_files or {},
        relations=relations,
        candidate_commit=Commit(SHA, "Add shot charts", "octocat", "https://example/c"),
        changelog=None,
        passed_runs=GREEN,
        server_url="https://github.com",
    )


# -- prescreen: the payload alone, zero requests ---------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "result", "words"),
    [
        (
            {"status": "in_progress", "conclusion": None, "action": "in_progress"},
            "skipped",
            "not completed",
        ),
        ({"event": "pull_request"}, "skipped", "pull_request event"),
        ({"event": "workflow_dispatch"}, "skipped", "workflow_dispatch event"),
        ({"head_repository_id": 99}, "skipped", "not from omerbh7/scoutflow-app itself"),
        ({"conclusion": "failure"}, "blocked", "concluded failure"),
        ({"conclusion": "timed_out"}, "blocked", "concluded timed_out"),
        ({"conclusion": "neutral"}, "skipped", "concluded neutral"),
        ({"conclusion": "skipped"}, "skipped", "concluded skipped"),
    ],
)
def test_prescreen_decides_from_the_payload(
    overrides: dict[str, object], result: str, words: str
) -> None:
    outcome = bump.prescreen(event(**overrides))
    assert outcome is not None
    assert outcome.result == result
    assert words in outcome.reason


def test_prescreen_lets_a_successful_push_run_through() -> None:
    assert bump.prescreen(event()) is None


# -- screen: payload against the pipeline config ---------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"repository": "someone/else"}, "not the source repository"),
        ({"branch": "feature/x"}, "branch feature/x, not main"),
        (
            {"workflow": "Lint"},
            "Lint (.github/workflows/other.yml) is not a required workflow "
            "(.github/workflows/backend-ci.yml, ",
        ),
        # Another file with a required workflow's display name is not that workflow.
        (
            {"workflow": "Backend CI", "path": ".github/workflows/backend-ci-copy.yml"},
            "Backend CI (.github/workflows/backend-ci-copy.yml) is not a required workflow",
        ),
    ],
)
def test_screen_skips_what_the_pipeline_does_not_follow(
    overrides: dict[str, object], words: str
) -> None:
    outcome = bump.screen(event(**overrides), CONFIG)
    assert outcome is not None and outcome.result == "skipped"
    assert words in outcome.reason


def test_screen_accepts_each_required_workflow_by_its_file() -> None:
    for workflow in CONFIG.source.required_workflows:
        assert bump.screen(event(workflow=workflow.label, path=workflow.file), CONFIG) is None
    # GitHub's own webhook example sends `"name": ""`; the file is enough.
    backend = CONFIG.source.required_workflows[0].file
    assert bump.screen(event(workflow="", path=f"{backend}@main"), CONFIG) is None


def test_a_nameless_run_is_named_by_its_file() -> None:
    outcome = bump.prescreen(
        event(workflow="", path=".github/workflows/database-ci.yml", conclusion="failure")
    )
    assert outcome is not None and outcome.result == "blocked"
    assert outcome.reason.startswith(".github/workflows/database-ci.yml concluded failure")


# -- assess_runs: every required workflow's latest push run ----------------------------------


def test_all_required_green_passes_with_the_runs_in_config_order() -> None:
    verdict, passed = bump.assess_runs(CONFIG, SHA, reversed(GREEN))
    assert verdict is None
    assert [r.name for r in passed] == ["Backend CI", "Frontend CI", "Database CI"]


def test_a_missing_workflow_means_waiting_and_names_it() -> None:
    verdict, _ = bump.assess_runs(CONFIG, SHA, GREEN[:2])
    assert verdict is not None and verdict.result == "waiting"
    assert "waiting for Database CI" in verdict.reason
    assert "Backend CI, Frontend CI passed" in verdict.reason


def test_a_running_workflow_means_waiting() -> None:
    verdict, _ = bump.assess_runs(CONFIG, SHA, (*GREEN[:2], run("Database CI", None)))
    assert verdict is not None and verdict.result == "waiting"


def test_a_failed_workflow_blocks_even_while_others_run() -> None:
    runs = (run("Backend CI", "failure"), run("Frontend CI", None), GREEN[2])
    verdict, _ = bump.assess_runs(CONFIG, SHA, runs)
    assert verdict is not None and verdict.result == "blocked"
    assert "Backend CI (failure)" in verdict.reason


def test_the_latest_attempt_counts_a_successful_rerun_unblocks() -> None:
    failed = run("Backend CI", "failure", id=5, run_attempt=1)
    rerun = run("Backend CI", "success", id=5, run_attempt=2)
    verdict, _ = bump.assess_runs(CONFIG, SHA, (failed, rerun, *GREEN[1:]))
    assert verdict is None


def test_a_newer_failed_run_blocks_an_older_success() -> None:
    newer = run("Backend CI", "failure", id=9, created_at="2026-11-27T11:00:00+00:00")
    verdict, _ = bump.assess_runs(CONFIG, SHA, (*GREEN, newer))
    assert verdict is not None and verdict.result == "blocked"


def test_a_run_of_another_file_with_the_same_name_never_counts() -> None:
    """GitHub lets two workflow files share one `name:`; only the file identifies the
    required workflow, so a green run of a copy cannot stand in for it."""
    impostor = run("Backend CI", path=".github/workflows/backend-ci-copy.yml", id=7)
    verdict, _ = bump.assess_runs(CONFIG, SHA, (impostor, *GREEN[1:]))
    assert verdict is not None and verdict.result == "waiting"
    assert "waiting for Backend CI (Frontend CI, Database CI passed)" in verdict.reason
    # ... and a failing copy does not block the real one either.
    failing_copy = replace(impostor, conclusion="failure")
    verdict, passed = bump.assess_runs(CONFIG, SHA, (failing_copy, *GREEN))
    assert verdict is None and impostor.id not in {r.id for r in passed}


def test_runs_are_matched_by_file_whatever_their_name_and_ref() -> None:
    """The REST example of a run has `"path": ".github/workflows/build.yml@main"` (OpenAPI
    `workflow-run` examples): the ref does not change which file it is."""
    renamed = (
        replace(run("Backend CI", path=".github/workflows/backend-ci.yml@main"), name=""),
        replace(run("Frontend CI"), name="frontend"),
        GREEN[2],
    )
    verdict, passed = bump.assess_runs(CONFIG, SHA, renamed)
    assert verdict is None
    assert [r.path for r in passed] == [
        ".github/workflows/backend-ci.yml@main",
        ".github/workflows/frontend-ci.yml",
        ".github/workflows/database-ci.yml",
    ]


def test_a_failure_is_reported_under_the_configured_name() -> None:
    failed = replace(run("Backend CI", "failure"), name="")
    verdict, _ = bump.assess_runs(CONFIG, SHA, (failed, *GREEN[1:]))
    assert verdict is not None and verdict.result == "blocked"
    assert "cannot be deployed: Backend CI (failure)" in verdict.reason


def test_pull_request_and_other_branch_runs_do_not_count() -> None:
    runs = (
        run("Backend CI", event="pull_request"),
        run("Frontend CI", head_branch="feature"),
        GREEN[2],
    )
    verdict, _ = bump.assess_runs(CONFIG, SHA, runs)
    assert verdict is not None and verdict.result == "waiting"
    assert "Backend CI, Frontend CI" in verdict.reason


# -- plan_bump: the edits, or why none --------------------------------------------------------


def test_a_newer_commit_bumps_dev_and_stage_in_one_plan_changing_one_line_each() -> None:
    result = plan({DEPLOYED: "ahead"})
    assert isinstance(result, bump.BumpPlan)
    assert [b.name for b in result.environments] == ["dev", "stage"]
    assert result.title == f"Deploy {SHA[:7]} to dev, stage"
    assert result.merge == "auto"
    assert result.branch == "scoutflow-gitops/bump-dev-stage"
    assert result.base_oid == "a" * 40
    for change in result.changes:
        old = FILES[change.path]
        assert old is not None
        assert change.contents == old.replace(DEPLOYED.encode(), SHA.encode())
    assert result.diff.count(f"+  imageTag: {SHA}") == 2
    assert f'"candidate": "{SHA}"' in result.body


@pytest.mark.parametrize(
    ("relation", "result", "words"),
    [
        ("identical", "noop", "already runs"),
        ("behind", "noop", "runs a newer commit than"),
        ("diverged", "refused", "have diverged"),
        (None, "refused", "omerbh7/scoutflow-app has no such commit"),
    ],
)
def test_never_downgrade_and_never_guess(
    relation: Relation | None, result: str, words: str
) -> None:
    outcome = plan({DEPLOYED: relation})
    assert isinstance(outcome, Outcome)
    assert outcome.result == result
    assert words in outcome.reason or any(words in d for d in outcome.details)


def test_a_nameless_passed_run_is_listed_by_its_file() -> None:
    """GitHub may send a run with an empty `name` (its own webhook example does): the PR body
    and the commit message name it by its file instead of leaving a blank."""
    nameless = (replace(GREEN[0], name=""), *GREEN[1:])
    result = bump.plan_bump(
        config=CONFIG,
        candidate=SHA,
        state=state(),
        files=FILES,
        branch_files={},
        relations={DEPLOYED: "ahead"},
        candidate_commit=Commit(SHA, "Add shot charts", "octocat", "https://example/c"),
        changelog=None,
        passed_runs=nameless,
        server_url="https://github.com",
    )
    assert isinstance(result, bump.BumpPlan)
    assert "- [.github/workflows/backend-ci.yml](" in result.body
    assert "Passed: .github/workflows/backend-ci.yml (" in result.commit_body


def test_an_environment_on_hold_is_left_out() -> None:
    result = plan({DEPLOYED: "ahead"}, gitops=state(holds=frozenset({"stage"})))
    assert isinstance(result, bump.BumpPlan)
    assert [b.name for b in result.environments] == ["dev"]
    assert any("stage is on hold" in note for note in result.notes)
    assert result.title == f"Deploy {SHA[:7]} to dev"


def test_everything_on_hold_is_a_noop_that_says_so() -> None:
    outcome = plan({DEPLOYED: "ahead"}, gitops=state(holds=frozenset({"dev", "stage"})))
    assert isinstance(outcome, Outcome) and outcome.result == "noop"
    assert "on hold" in outcome.reason


def test_a_missing_values_file_is_refused() -> None:
    outcome = plan({DEPLOYED: "ahead"}, files={DEV: None, STAGE: None})
    assert isinstance(outcome, Outcome) and outcome.result == "refused"
    assert "environments/dev/values.yaml does not exist" in outcome.reason


def test_a_tag_that_is_not_a_sha_is_refused_not_overwritten() -> None:
    latest = {p: (v or b"").replace(DEPLOYED.encode(), b"latest") for p, v in FILES.items()}
    outcome = plan({DEPLOYED: "ahead"}, files=latest)
    assert isinstance(outcome, Outcome) and outcome.result == "refused"
    assert "'latest', which is not a commit SHA" in outcome.reason


def test_one_environment_refused_does_not_stop_the_other() -> None:
    files = {DEV: FILES[DEV], STAGE: None}
    result = plan({DEPLOYED: "ahead"}, files=files)
    assert isinstance(result, bump.BumpPlan)
    assert [b.name for b in result.environments] == ["dev"]
    assert any("left out" in note for note in result.notes)


def _open_pr() -> PullRequest:
    return PullRequest("PR_1", 7, "https://example/pull/7", "b" * 40, "Deploy", "")


def test_an_open_pr_with_the_same_bytes_needs_no_new_commit() -> None:
    first = plan({DEPLOYED: "ahead"})
    assert isinstance(first, bump.BumpPlan)
    carried = {change.path: change.contents for change in first.changes}
    again = plan({DEPLOYED: "ahead"}, branch_files=carried, gitops=state(pr=_open_pr()))
    assert isinstance(again, bump.BumpPlan)
    assert not again.changes, "only merging is left"
    assert again.existing_pr == _open_pr()


def test_an_open_pr_carrying_a_newer_commit_is_never_rolled_back() -> None:
    newer = {
        p: (v or b"").replace(DEPLOYED.encode(), NEWER_PR_TAG.encode()) for p, v in FILES.items()
    }
    outcome = plan(
        {DEPLOYED: "ahead", NEWER_PR_TAG: "behind"}, branch_files=newer, gitops=state(pr=_open_pr())
    )
    assert isinstance(outcome, Outcome) and outcome.result == "noop"
    assert "PR #7 already deploys 9999999" in outcome.reason


def test_an_older_open_pr_is_updated_and_marked_superseded() -> None:
    older = {
        p: (v or b"").replace(DEPLOYED.encode(), NEWER_PR_TAG.encode()) for p, v in FILES.items()
    }
    pr = replace(
        _open_pr(), body=f'<!-- scoutflow-gitops:plan {{"candidate": "{NEWER_PR_TAG}"}} -->'
    )
    result = plan(
        {DEPLOYED: "ahead", NEWER_PR_TAG: "ahead"}, branch_files=older, gitops=state(pr=pr)
    )
    assert isinstance(result, bump.BumpPlan)
    assert result.changes and result.existing_pr == pr
    assert f"Supersedes `{NEWER_PR_TAG[:7]}`" in result.body


@pytest.mark.parametrize(
    ("modes", "expected"),
    [
        (("auto", "auto"), "auto"),
        (("direct", "auto"), "auto"),
        (("direct", "none"), "none"),
        (("direct", "direct"), "direct"),
    ],
)
def test_the_most_cautious_merge_setting_wins(modes: tuple[str, str], expected: str) -> None:
    envs = tuple(
        replace(env, merge=mode)  # type: ignore[arg-type]
        for env, mode in zip(CONFIG.ci_environments, modes, strict=True)
    )
    config = replace(CONFIG, environments=(*envs, CONFIG.environments[2]))
    result = plan({DEPLOYED: "ahead"}, config=config)
    assert isinstance(result, bump.BumpPlan) and result.merge == expected


# -- ordering and changelog -------------------------------------------------------------------


def test_ancestry_proves_ahead_and_identical_and_nothing_else() -> None:
    ancestors = [Commit("c" * 40, "x", "a", "u"), Commit(DEPLOYED, "y", "a", "u")]
    assert bump.relate_by_ancestry(SHA, DEPLOYED, ancestors) == "ahead"
    assert bump.relate_by_ancestry(SHA, SHA, ancestors) == "identical"
    assert bump.relate_by_ancestry(SHA, "d" * 40, ancestors) is None


def test_changelog_from_history_lists_the_commits_after_the_deployed_one_oldest_first() -> None:
    ancestors = [Commit("c" * 40, "newer", "a", "u"), Commit(DEPLOYED, "deployed", "a", "u")]
    candidate = Commit(SHA, "candidate", "a", "u")
    changelog = bump.changelog_for(
        candidate=candidate,
        source_repository="omerbh7/scoutflow-app",
        server_url="https://github.com",
        tags=(DEPLOYED,),
        relations={DEPLOYED: "ahead"},
        ancestors=ancestors,
        comparisons={},
    )
    assert changelog is not None
    assert changelog.ahead_by == 2
    assert [c.sha for c in changelog.commits] == ["c" * 40, SHA]
    assert changelog.url.endswith(f"/compare/{DEPLOYED}...{SHA}")


def test_tags_to_relate_collects_deployed_and_pr_tags_once() -> None:
    newer = {STAGE: (FILES[STAGE] or b"").replace(DEPLOYED.encode(), NEWER_PR_TAG.encode())}
    tags = bump.tags_to_relate(CONFIG, state(), FILES, newer)
    assert tags == (DEPLOYED, NEWER_PR_TAG)


def test_a_tag_the_editor_cannot_change_safely_is_refused_with_its_line() -> None:
    anchored = {
        p: (v or b"").replace(
            f"imageTag: {DEPLOYED}".encode(), f"imageTag: &tag {DEPLOYED}\n  other: *tag".encode()
        )
        for p, v in FILES.items()
    }
    outcome = plan({DEPLOYED: "ahead"}, files=anchored)
    assert isinstance(outcome, Outcome) and outcome.result == "refused"
    assert "environments/dev/values.yaml:10:" in outcome.reason


# -- the shell: a lost race is read again, and giving up keeps GitHub's last word -------------


class _Racing:
    """A host on which every read of the state loses a race (GraphQL `STALE_DATA`)."""

    def __init__(self) -> None:
        self.reads = 0

    def read_gitops_state(self, repository: str, config_path: str) -> GitopsState:
        self.reads += 1
        raise ConflictError(f"The data is stale (read {self.reads})")


def test_giving_up_after_lost_races_keeps_the_last_error() -> None:
    host = _Racing()
    settings = bot.Settings("omerbh7/scoutflow-gitops", ".github/scoutflow-gitops.yml", "x")
    with pytest.raises(UserError) as caught:
        bot.bump_to(SHA, host, settings)  # type: ignore[arg-type]
    assert host.reads == settings.max_attempts == 3
    assert caught.value.message == (
        "gave up after 3 attempts: a branch kept moving under concurrent runs "
        "(last: The data is stale (read 3))"
    )
