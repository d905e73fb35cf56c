"""The imperative shell of a bump: read what the next decision needs, decide, write, repeat
once more on a lost race. Reads stop as soon as a decision is final (see ``bump``)."""

from __future__ import annotations

from dataclasses import dataclass

from scoutflow_gitops import bump
from scoutflow_gitops.apply import apply_bump
from scoutflow_gitops.config import PipelineConfig, load_config
from scoutflow_gitops.errors import UserError
from scoutflow_gitops.events import WorkflowRunEvent
from scoutflow_gitops.model import (
    Comparison,
    GitopsState,
    Outcome,
    Relation,
    Result,
    WorkflowRun,
)
from scoutflow_gitops.port import ConflictError, GitHost

# GitHub caps a GraphQL connection at 100 nodes; deeper gaps fall back to one REST compare.
HISTORY_DEPTH = 100


@dataclass(frozen=True)
class Settings:
    gitops_repository: str
    config_path: str
    server_url: str
    dry_run: bool = False
    max_attempts: int = 3


def handle_workflow_run(event: WorkflowRunEvent, host: GitHost, settings: Settings) -> Outcome:
    early = bump.prescreen(event)
    if early is not None:
        return early
    passed: tuple[WorkflowRun, ...] | None = None
    for _attempt in range(settings.max_attempts):
        state = host.read_gitops_state(settings.gitops_repository, settings.config_path)
        config = _config(state, settings)
        screened = bump.screen(event, config)
        if screened is not None:
            return screened
        if passed is None:
            runs = host.list_workflow_runs(config.source.repository, event.head_sha)
            verdict, passed = bump.assess_runs(config, event.head_sha, runs)
            if verdict is not None:
                return verdict
        decision = _decide(event, config, state, host, settings, passed)
        if isinstance(decision, Outcome):
            return decision
        if settings.dry_run:
            return _dry_run(decision)
        try:
            return apply_bump(decision, state, host, settings.gitops_repository)
        except ConflictError:
            continue  # the branch, its PR or the default branch moved: read again
    raise UserError(
        f"gave up after {settings.max_attempts} attempts: the bump branch kept moving under "
        "concurrent runs",
        "re-run the job; the next run starts from what GitHub has now",
    )


def _config(state: GitopsState, settings: Settings) -> PipelineConfig:
    if state.config_text is None:
        raise UserError(
            f"{settings.config_path} does not exist on {settings.gitops_repository}'s "
            f"{state.default_branch}",
            "commit the pipeline config, or point config_path at it",
        )
    return load_config(state.config_text, settings.config_path)


def _decide(
    event: WorkflowRunEvent,
    config: PipelineConfig,
    state: GitopsState,
    host: GitHost,
    settings: Settings,
    passed: tuple[WorkflowRun, ...],
) -> bump.BumpPlan | Outcome:
    branch = state.branch(config.bump.branch)
    pr_branch_oid = branch.oid if branch is not None and branch.pull_request else None
    inputs = host.read_files_and_history(
        repository=settings.gitops_repository,
        paths=[env.values_file for env in config.ci_environments],
        revision=state.head_oid,
        branch_revision=pr_branch_oid,
        source_repository=config.source.repository,
        commit=event.head_sha,
        history_depth=HISTORY_DEPTH,
    )
    if inputs.candidate is None:
        return Outcome(
            result="refused",
            reason=f"{event.head_sha[:7]} is not a commit of {config.source.repository}",
            image_tag=event.head_sha,
        )
    tags = bump.tags_to_relate(config, state, inputs.files, inputs.branch_files)
    relations: dict[str, Relation | None] = {}
    comparisons: dict[str, Comparison] = {}
    for tag in tags:
        relation = bump.relate_by_ancestry(event.head_sha, tag, inputs.ancestors)
        if relation is None:
            comparison = host.compare(config.source.repository, tag, event.head_sha)
            comparisons[tag] = comparison
            relation = comparison.status
        relations[tag] = relation
    changelog = bump.changelog_for(
        candidate=inputs.candidate,
        source_repository=config.source.repository,
        server_url=settings.server_url,
        tags=tags,
        relations=relations,
        ancestors=inputs.ancestors,
        comparisons=comparisons,
    )
    return bump.plan_bump(
        config=config,
        event=event,
        state=state,
        files=inputs.files,
        branch_files=inputs.branch_files,
        relations=relations,
        candidate_commit=inputs.candidate,
        changelog=changelog,
        passed_runs=passed,
        server_url=settings.server_url,
    )


def _dry_run(plan: bump.BumpPlan) -> Outcome:
    envs = tuple(change.name for change in plan.environments)
    result: Result = "opened" if plan.existing_pr is None else "updated"
    action = (
        f"open a PR on {plan.branch}"
        if plan.existing_pr is None
        else f"update PR #{plan.existing_pr.number}"
    )
    return Outcome(
        result=result,
        reason=f"dry run: would {action} deploying {plan.candidate[:7]} to {', '.join(envs)} "
        f"(merge: {plan.merge}); nothing was written",
        image_tag=plan.candidate,
        environments=envs,
        diff=plan.diff,
        details=plan.notes,
    )
