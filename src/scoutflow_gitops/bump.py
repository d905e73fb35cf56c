"""Deciding a dev/stage bump from a ``workflow_run`` event. Pure: data in, data out.

The decision is staged so that the imperative shell can stop reading as soon as the answer is
known (a ``waiting`` event costs two requests, a ``skipped`` one none):

1. ``prescreen``   -- the payload alone: not a successful push run of the source repo itself.
2. ``screen``      -- the payload against the pipeline config.
3. ``assess_runs`` -- every required workflow's latest run for the commit.
4. ``plan_bump``   -- values files, ancestry and the open bump PR: the edits, or why none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from scoutflow_gitops import messages, yamledit
from scoutflow_gitops.config import Environment, MergeMode, PipelineConfig, workflow_file
from scoutflow_gitops.errors import UserError
from scoutflow_gitops.events import SHA_RE, WorkflowRunEvent
from scoutflow_gitops.model import (
    Commit,
    Comparison,
    FileChange,
    GitopsState,
    Outcome,
    PullRequest,
    Relation,
    WorkflowRun,
)

# Conclusions that mean "this commit failed a required check", as opposed to "nothing ran".
FAILED_CONCLUSIONS = frozenset(
    {"failure", "timed_out", "cancelled", "startup_failure", "action_required", "stale"}
)
# Stricter merge settings win when environments that share one PR disagree.
MERGE_CAUTION: Mapping[MergeMode, int] = {"direct": 0, "auto": 1, "none": 2}


@dataclass(frozen=True)
class EnvBump:
    name: str
    path: str
    key: str
    old_tag: str
    new_tag: str


@dataclass(frozen=True)
class BumpPlan:
    """Everything the writer needs; nothing in here is decided later."""

    candidate: str
    environments: tuple[EnvBump, ...]
    changes: tuple[FileChange, ...]
    diff: str
    branch: str
    base_oid: str
    branch_oid: str | None
    existing_pr: PullRequest | None
    title: str
    body: str
    commit_headline: str
    commit_body: str
    merge: MergeMode
    labels: tuple[str, ...]
    notes: tuple[str, ...]


def prescreen(event: WorkflowRunEvent) -> Outcome | None:
    """Outcomes decided by the payload alone, before any request."""
    short = event.head_sha[:7]
    name = _event_label(event)
    if event.action != "completed" or event.status != "completed":
        return _skip(event, f"{name} run is {event.status}, not completed")
    if event.event != "push":
        return _skip(event, f"{name} ran for a {event.event} event, not a push")
    if event.head_repository_id != event.repository_id:
        return _skip(
            event,
            f"{name} ran on a commit from {event.head_repository or 'an unknown fork'}, "
            f"not from {event.repository} itself",
        )
    if event.conclusion in FAILED_CONCLUSIONS:
        return Outcome(
            result="blocked",
            reason=f"{name} concluded {event.conclusion} for {short}: "
            "it will not be deployed; fix the build and push again, or re-run the workflow",
            image_tag=event.head_sha,
        )
    if event.conclusion != "success":
        return _skip(event, f"{name} concluded {event.conclusion or 'nothing'}")
    return None


def screen(event: WorkflowRunEvent, config: PipelineConfig) -> Outcome | None:
    """Outcomes decided by the payload and the pipeline config."""
    source = config.source
    if event.repository.lower() != source.repository.lower():
        return _skip(event, f"{event.repository} is not the source repository {source.repository}")
    if event.head_branch != source.branch:
        return _skip(event, f"the run is for branch {event.head_branch}, not {source.branch}")
    if source.required_workflow(event.workflow_path) is None:
        # By file: another workflow may carry a required workflow's display name.
        return _skip(
            event,
            f"{_event_label(event)} ({workflow_file(event.workflow_path)}) is not a required "
            f"workflow ({', '.join(w.file for w in source.required_workflows)})",
        )
    if not config.ci_environments:
        return _skip(event, "no environment follows CI in the pipeline config")
    return None


def assess_runs(
    config: PipelineConfig, head_sha: str, runs: Iterable[WorkflowRun]
) -> tuple[Outcome | None, tuple[WorkflowRun, ...]]:
    """Whether every required workflow's latest push run on the source branch succeeded.

    Returns ``(None, passed_runs)`` when the commit may be deployed, else the outcome.
    Runs are matched to required workflows by file, never by name: a run of another file with
    the same name never counts. Pull-request runs are ignored: they test a merge ref, not the
    commit on the branch.
    """
    source = config.source
    latest: dict[str, WorkflowRun] = {}
    for run in runs:
        if run.event != "push" or run.head_branch != source.branch:
            continue
        workflow = source.required_workflow(run.path)
        if workflow is None:
            continue
        known = latest.get(workflow.file)
        if known is None or (run.created_at, run.run_attempt, run.id) > (
            known.created_at,
            known.run_attempt,
            known.id,
        ):
            latest[workflow.file] = run
    short = head_sha[:7]
    required = source.required_workflows
    failed = [
        (workflow, latest[workflow.file])
        for workflow in required
        if workflow.file in latest
        and latest[workflow.file].status == "completed"
        and latest[workflow.file].conclusion != "success"
    ]
    pending = [
        workflow
        for workflow in required
        if workflow.file not in latest or latest[workflow.file].status != "completed"
    ]
    if failed:
        names = ", ".join(f"{workflow.label} ({run.conclusion})" for workflow, run in failed)
        return (
            Outcome(
                result="blocked",
                reason=f"{short} cannot be deployed: {names}; "
                "fix the build and push again, or re-run the failed workflow",
                image_tag=head_sha,
            ),
            (),
        )
    if pending:
        done = [workflow.label for workflow in required if workflow not in pending]
        return (
            Outcome(
                result="waiting",
                reason=f"{short} is waiting for {', '.join(w.label for w in pending)}"
                + (f" ({', '.join(done)} passed)" if done else "")
                + "; the last workflow to finish deploys it",
                image_tag=head_sha,
            ),
            (),
        )
    return None, tuple(latest[workflow.file] for workflow in required)


def on_source_branch(
    candidate: str, head: str | None, history: Sequence[str], depth: int
) -> bool | None:
    """Whether the source branch holds ``candidate``, from the branch's newest ``depth``
    commits (head first); ``None`` when only a comparison with the head can tell.

    A run's ``head_branch`` does not prove it: the runs of a tag carry the tag's name, and
    whoever may push a tag named like the branch could deploy a commit nobody merged.
    """
    if head is None:
        return False
    if candidate == head or candidate in history:
        return True
    # A shorter page is the whole history.
    return None if len(history) >= depth else False


def off_branch(candidate: str, config: PipelineConfig) -> Outcome:
    source = config.source
    return Outcome(
        result="refused",
        reason=f"{candidate[:7]} is not on {source.repository}'s {source.branch}: only commits "
        f"of {source.branch} are deployed (its runs may come from a tag or another ref with "
        "that name); nothing was changed",
        image_tag=candidate,
    )


def tags_to_relate(
    config: PipelineConfig,
    state: GitopsState,
    files: Mapping[str, bytes | None],
    branch_files: Mapping[str, bytes | None],
) -> tuple[str, ...]:
    """Tags the candidate must be ordered against: what runs now, and what the open PR carries."""
    tags: list[str] = []
    for env in config.ci_environments:
        if env.name in state.holds:
            continue
        for source in (files, branch_files):
            tag = tag_of(env, source.get(env.values_file))
            if tag and tag not in tags:
                tags.append(tag)
    return tuple(tags)


def relate_by_ancestry(candidate: str, tag: str, ancestors: Sequence[Commit]) -> Relation | None:
    """The relation of ``candidate`` to ``tag`` when the candidate's history proves it."""
    if tag == candidate:
        return "identical"
    if any(commit.sha == tag for commit in ancestors):
        return "ahead"
    return None


def plan_bump(
    *,
    config: PipelineConfig,
    candidate: str,
    state: GitopsState,
    files: Mapping[str, bytes | None],
    branch_files: Mapping[str, bytes | None],
    relations: Mapping[str, Relation | None],
    candidate_commit: Commit | None,
    changelog: Comparison | None,
    passed_runs: Sequence[WorkflowRun],
    server_url: str,
) -> BumpPlan | Outcome:
    short = candidate[:7]
    bumps: list[EnvBump] = []
    merges: list[MergeMode] = []
    changes: list[FileChange] = []
    notes: list[str] = []
    refused: list[str] = []
    for env in config.ci_environments:
        if env.name in state.holds:
            notes.append(f"{env.name} is on hold (`/release {env.name}` lifts it): left as it is")
            continue
        data = files.get(env.values_file)
        if data is None:
            refused.append(f"{env.values_file} does not exist on {_branch_name(state)}")
            continue
        try:
            yamledit.check_values_file(data, path=env.values_file)
            deployed = yamledit.get_value_bytes(data, env.image_tag_key, path=env.values_file)
        except UserError as exc:
            refused.append(exc.message)
            continue
        if not deployed or not SHA_RE.match(deployed):
            refused.append(
                f"{env.name} runs {deployed!r}, which is not a commit SHA, so the bot cannot "
                "tell whether the candidate is newer; set a full SHA by hand first"
            )
            continue
        relation = relations.get(deployed)
        if relation in ("identical", "behind"):
            word = "already runs" if relation == "identical" else "runs a newer commit than"
            notes.append(f"{env.name} {word} {short} ({deployed[:7]}): never downgraded")
            continue
        if relation != "ahead":
            refused.append(
                f"{short} and {env.name}'s {deployed[:7]} have diverged"
                if relation == "diverged"
                # No relation: GitHub knows no such commit in the source repository.
                else f"cannot tell how {short} relates to {env.name}'s {deployed[:7]}: "
                f"{config.source.repository} has no such commit"
            )
            continue
        try:
            new_data = yamledit.set_value_bytes(
                data, env.image_tag_key, candidate, path=env.values_file
            )
        except UserError as exc:
            # Readable but not safely writable (anchored, block scalar, ...): a person decides.
            refused.append(exc.message)
            continue
        bumps.append(EnvBump(env.name, env.values_file, env.image_tag_key, deployed, candidate))
        merges.append(env.merge)
        changes.append(FileChange(env.values_file, new_data))

    if not bumps:
        if refused:
            return Outcome(
                result="refused",
                reason="; ".join(refused) + "; nothing was changed",
                image_tag=candidate,
                details=tuple(notes),
            )
        return Outcome(
            result="noop",
            reason="; ".join(notes) or f"nothing follows CI for {short}",
            image_tag=candidate,
        )
    notes.extend(f"left out: {problem}" for problem in refused)
    branch = state.branch(config.bump.branch)
    pr = branch.pull_request if branch is not None else None
    if pr is not None:
        newer = _newer_in_pr(config, branch_files, relations, short)
        if newer is not None:
            return Outcome(
                result="noop",
                reason=f"PR #{pr.number} already deploys {newer}: never downgraded",
                image_tag=candidate,
                pr_number=pr.number,
                pr_url=pr.url,
            )

    merge = max(merges, key=lambda mode: MERGE_CAUTION[mode])
    diff = yamledit.changes_diff(files, [(change.path, change.contents) for change in changes])
    title = messages.bump_title(candidate, tuple(bump.name for bump in bumps))
    if pr is not None and all(
        branch_files.get(change.path) == change.contents for change in changes
    ):
        # The open PR already carries these exact bytes: do not commit again, just make sure
        # it merges (repairs a PR whose auto-merge was never switched on).
        changes = []
    plan_json = json.dumps(
        {
            "candidate": candidate,
            "environments": {
                bump.name: {"from": bump.old_tag, "to": bump.new_tag} for bump in bumps
            },
            "merge": merge,
        },
        sort_keys=True,
    )
    context = messages.BumpContext(
        candidate=candidate,
        candidate_commit=candidate_commit,
        source_repository=config.source.repository,
        server_url=server_url,
        environments=tuple(
            messages.EnvChange(bump.name, bump.path, bump.old_tag, bump.new_tag) for bump in bumps
        ),
        changelog=changelog,
        changelog_limit=config.changelog_limit,
        passed_runs=tuple(passed_runs),
        diff=diff,
        notes=tuple(notes),
        superseded=messages.plan_candidate(pr.body) if pr else None,
        merge=merge,
        plan_json=plan_json,
        merge_method=config.merge_method,
    )
    return BumpPlan(
        candidate=candidate,
        environments=tuple(bumps),
        changes=tuple(changes),
        diff=diff,
        branch=config.bump.branch,
        base_oid=state.head_oid,
        branch_oid=branch.oid if branch is not None else None,
        existing_pr=pr,
        title=title,
        body=messages.bump_body(context),
        commit_headline=title,
        commit_body=messages.bump_commit_body(context),
        merge=merge,
        labels=config.bump.labels,
        notes=tuple(notes),
    )


def tag_of(env: Environment, data: bytes | None) -> str | None:
    """The environment's image tag in ``data`` when it is a full commit SHA, else ``None``."""
    if data is None:
        return None
    try:
        tag = yamledit.get_value_bytes(data, env.image_tag_key, path=env.values_file)
    except UserError:
        return None
    return tag if tag and SHA_RE.match(tag) else None


def _newer_in_pr(
    config: PipelineConfig,
    branch_files: Mapping[str, bytes | None],
    relations: Mapping[str, Relation | None],
    short: str,
) -> str | None:
    """The open PR's tag when it is newer than the candidate."""
    for env in config.ci_environments:
        tag = tag_of(env, branch_files.get(env.values_file))
        if tag and relations.get(tag) == "behind":
            return f"{tag[:7]} for {env.name}, which {short} does not contain"
    return None


def _branch_name(state: GitopsState) -> str:
    return f"{state.default_branch} ({state.head_oid[:7]})"


def _event_label(event: WorkflowRunEvent) -> str:
    """How messages name the run's workflow: its display name, else its file."""
    return event.workflow or workflow_file(event.workflow_path)


def _skip(event: WorkflowRunEvent, why: str) -> Outcome:
    return Outcome(result="skipped", reason=why, image_tag=event.head_sha)


def changelog_for(
    *,
    candidate: Commit,
    source_repository: str,
    server_url: str,
    tags: Sequence[str],
    relations: Mapping[str, Relation | None],
    ancestors: Sequence[Commit],
    comparisons: Mapping[str, Comparison],
) -> Comparison | None:
    """The changes from the oldest deployed tag the candidate is ahead of, oldest first.

    Built from the candidate's history when it reaches that far, so the common case costs no
    extra request; a REST comparison made for ordering is reused as it is.
    """
    best: Comparison | None = None
    for tag in tags:
        if relations.get(tag) != "ahead":
            continue
        comparison = comparisons.get(tag)
        if comparison is None:
            index = next(i for i, commit in enumerate(ancestors) if commit.sha == tag)
            # Like the compare API: oldest first, the candidate itself last.
            comparison = Comparison(
                base=tag,
                head=candidate.sha,
                status="ahead",
                ahead_by=index + 1,
                behind_by=0,
                commits=(*reversed(ancestors[:index]), candidate),
                url=f"{server_url}/{source_repository}/compare/{tag}...{candidate.sha}",
            )
        if best is None or comparison.ahead_by > best.ahead_by:
            best = comparison
    return best
