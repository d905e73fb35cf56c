"""The imperative shell: read what the next decision needs, decide, write, and on a lost race
read again. Reads stop as soon as a decision is final (see ``bump`` and ``promote``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from scoutflow_gitops import bump, commands, gates, messages, promote
from scoutflow_gitops.apply import PullRequestPlan, Waiting, apply_plan, check_merge_method
from scoutflow_gitops.commands import Command
from scoutflow_gitops.config import (
    PERMISSION_RANK,
    QUARANTINE_DIR,
    Gate,
    MergeMethod,
    Permission,
    PipelineConfig,
    load_config,
)
from scoutflow_gitops.errors import UserError
from scoutflow_gitops.events import CommentEvent, DispatchEvent, WorkflowRunEvent
from scoutflow_gitops.model import (
    BotBranch,
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
    # How long to wait for GitHub to compute a PR's mergeability before merging it.
    merge_wait: Waiting = field(default_factory=Waiting)


# -- CI: workflow_run --------------------------------------------------------------------------


def handle_workflow_run(event: WorkflowRunEvent, host: GitHost, settings: Settings) -> Outcome:
    early = bump.prescreen(event)
    if early is not None:
        return early
    return bump_to(event.head_sha, host, settings, lambda config: bump.screen(event, config))


def bump_to(
    candidate: str,
    host: GitHost,
    settings: Settings,
    screen: Callable[[PipelineConfig], Outcome | None] = lambda _config: None,
    state: GitopsState | None = None,
) -> Outcome:
    """Move the environments that follow CI to ``candidate`` when every rule allows it.

    ``state``, when the caller has just read it, saves the first read.
    """
    passed: tuple[WorkflowRun, ...] | None = None
    lost: ConflictError | None = None
    for _attempt in range(settings.max_attempts):
        try:
            if state is None:
                state = host.read_gitops_state(settings.gitops_repository, settings.config_path)
            config = _config(state, settings)
            screened = screen(config)
            if screened is not None:
                return screened
            if candidate in state.quarantined:
                return Outcome(
                    result="refused",
                    reason=f"{candidate[:7]} is quarantined ({QUARANTINE_DIR}/{candidate}.yml): "
                    f"an environment was rolled back from it; `/unquarantine {candidate}` "
                    "lifts it; nothing was changed",
                    image_tag=candidate,
                )
            if passed is None:
                runs = host.list_workflow_runs(
                    config.source.repository, candidate, branch=config.source.branch
                )
                verdict, passed = bump.assess_runs(config, candidate, runs)
                if verdict is not None:
                    return verdict
            decision = _decide_bump(candidate, config, state, host, settings, passed)
            if isinstance(decision, Outcome):
                return decision
            envs = tuple(change.name for change in decision.environments)
            outcome = _carry_out(
                decision,
                state,
                host,
                settings,
                what=f"deploy {candidate[:7]} to {', '.join(envs)}",
                image_tag=candidate,
                environments=envs,
                notes=decision.notes,
                merge_method=config.merge_method,
            )
        except ConflictError as exc:
            lost, outcome = exc, None
        if outcome is not None:
            return outcome
        state = None  # the branch, its PR or the default branch moved: read again
    raise _gave_up(settings, lost)


def _decide_bump(
    candidate: str,
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
        commit=candidate,
        history_depth=HISTORY_DEPTH,
        source_branch=config.source.branch,
    )
    if inputs.candidate is None:
        return Outcome(
            result="refused",
            reason=f"{candidate[:7]} is not a commit of {config.source.repository}",
            image_tag=candidate,
        )
    on_branch = bump.on_source_branch(
        candidate, inputs.source_head, inputs.source_history, HISTORY_DEPTH
    )
    if on_branch is None and inputs.source_head is not None:
        # Older than the branch's first page: the head contains it when the head is ahead.
        held = host.compare(config.source.repository, candidate, inputs.source_head)
        on_branch = held is not None and held.status in ("ahead", "identical")
    if not on_branch:
        return bump.off_branch(candidate, config)
    tags = bump.tags_to_relate(config, state, inputs.files, inputs.branch_files)
    relations: dict[str, Relation | None] = {}
    comparisons: dict[str, Comparison] = {}
    for tag in tags:
        relation = bump.relate_by_ancestry(candidate, tag, inputs.ancestors)
        if relation is None:
            comparison = host.compare(config.source.repository, tag, candidate)
            if comparison is not None:  # None: the source repository has no such commit
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
        candidate=candidate,
        state=state,
        files=inputs.files,
        branch_files=inputs.branch_files,
        relations=relations,
        candidate_commit=inputs.candidate,
        changelog=changelog,
        passed_runs=passed,
        server_url=settings.server_url,
    )


# -- people: issue_comment and workflow_dispatch -------------------------------------------------


def handle_comment(event: CommentEvent, host: GitHost, settings: Settings) -> Outcome:
    """A comment in the GitOps repository: act on a command in its first line, if any."""
    early = prescreen_comment(event, settings.gitops_repository)
    if early is not None:
        return early
    state = host.read_gitops_state(settings.gitops_repository, settings.config_path)
    config = _config(state, settings)
    talk = _Conversation(host, settings, event)
    talk.react("eyes")
    try:
        command = commands.parse_comment(event.body, config)
    except UserError as exc:
        return talk.refuse(messages.error_reply(exc.message, exc.hint), f"{exc}")
    if command is None:
        return _skipped("the comment holds no command")
    request = promote.Request(event.sender, event.comment_url, "comment", event.sender_id)
    try:
        outcome = run_command(command, request, host, settings, state, config)
    except UserError as exc:
        # The job fails with its error annotation; the person who asked, who sees only the
        # comment, gets one reply and a 😕 instead of a 👀 that never changes.
        talk.fail(messages.error_reply(exc.message, exc.hint))
        raise
    if outcome.result == "refused":
        return talk.refuse(
            outcome.details[0] if outcome.details else outcome.reason, outcome.reason
        )
    if command.kind == "help":
        talk.reply(outcome.details[0])
        return outcome
    if not settings.dry_run:
        talk.react("rocket")
        env = config.environment(command.environment or "")
        app = env.argocd_app if env and env.gate else None
        talk.reply(messages.done_reply(outcome, command.text(), app))
    return outcome


def prescreen_comment(event: CommentEvent, gitops_repository: str) -> Outcome | None:
    """Comments that are not for the bot, decided from the payload alone (no request)."""
    if event.action != "created":
        return _skipped(f"the comment was {event.action}; only new comments act")
    if event.author_is_bot:
        return _skipped(f"@{event.author} is a bot; bots never give commands")
    if len(event.body) > commands.MAX_COMMENT_CHARS:
        return _skipped("the comment is too long to be a command")
    if not commands.addresses_bot(event.body):
        return _skipped("the comment holds no command")
    if event.repository.lower() != gitops_repository.lower():
        return _skipped(f"the comment is in {event.repository}, not the GitOps repository")
    return None


def handle_dispatch(event: DispatchEvent, host: GitHost, settings: Settings) -> Outcome:
    """A manual run: the same commands and gates, answered in the job's summary."""
    state = host.read_gitops_state(settings.gitops_repository, settings.config_path)
    config = _config(state, settings)
    if event.ref != f"refs/heads/{state.default_branch}":
        raise UserError(
            f"manual runs act only from {state.default_branch}, not {event.ref}",
            f"start the workflow from the {state.default_branch} branch",
        )
    command = commands.parse_dispatch(event.inputs, config)
    request = promote.Request(
        event.actor,
        f"{settings.server_url}/{settings.gitops_repository}/actions",
        "manual workflow run",
        event.actor_id,
    )
    return run_command(command, request, host, settings, state, config)


def run_command(
    command: Command,
    request: promote.Request,
    host: GitHost,
    settings: Settings,
    state: GitopsState,
    config: PipelineConfig,
) -> Outcome:
    if command.kind == "help":
        gated = [
            (env.name, env.gate.promoted_from, env.gate.soak_minutes)
            for env in config.environments
            if env.gate
        ]
        quarantine = Command("quarantine", sha="0" * 40)
        text = messages.help_reply(
            _required_permission(config).permission,
            gated,
            [env.name for env in config.environments],
            _permission_for(quarantine, config)[0],
        )
        return Outcome(result="noop", reason="replied with the list of commands", details=(text,))

    role = host.read_permission(settings.gitops_repository, request.user)
    needed, doing = _permission_for(command, config)
    refusal = gates.permission_gate(request.user, role, needed, doing)
    if refusal is not None:
        return _refused(command, refusal)
    if command.kind == "bump":
        assert command.sha is not None, "the dispatch parser always gives bump a SHA"
        return bump_to(command.sha, host, settings, state=state)

    lost: ConflictError | None = None
    for _attempt in range(settings.max_attempts):
        try:
            outcome = _command_once(command, request, host, settings, state, config)
        except ConflictError as exc:
            lost, outcome = exc, None
        if outcome is not None:
            return outcome
        state = host.read_gitops_state(settings.gitops_repository, settings.config_path)
        config = _config(state, settings)
    raise _gave_up(settings, lost)


def _command_once(
    command: Command,
    request: promote.Request,
    host: GitHost,
    settings: Settings,
    state: GitopsState,
    config: PipelineConfig,
) -> Outcome | None:
    """One read-decide-write pass; ``None`` when a write lost a race and it must start over."""
    if command.kind in ("quarantine", "unquarantine"):
        return _quarantine_once(command, request, host, settings, state, config)
    env = config.environment(command.environment or "")
    assert env is not None, "the command parser only names configured environments"
    target: promote.Target | None = None
    changelog: Comparison | None = None
    ci_note: str | None = None
    if command.kind == "release" and env.name not in state.holds:
        return _refused(
            command, gates.Refusal("hold", f"{env.name} is not on hold", "nothing to release")
        )
    histories = host.read_histories(
        settings.gitops_repository,
        state.head_oid,
        promote.history_paths(command, config),
        promote.HISTORY_DEPTH,
    )
    # A file's newest version on the default branch is the one at its head.
    files = {path: (versions[0].text if versions else None) for path, versions in histories.items()}
    if command.kind != "release":
        found = promote.target(command, config, files, histories)
        if isinstance(found, gates.Refusal):
            return _refused(command, found)
        target = found
        if command.kind == "promote":
            same = promote.same_promotion(state, env.name, target.candidate)
            if same is not None:
                noop = Outcome(
                    result="noop",
                    reason=f"PR #{same.number} already promotes {target.candidate[:7]} to "
                    f"{env.name}; nothing was changed",
                    image_tag=target.candidate,
                    environments=(env.name,),
                    pr_number=same.number,
                    pr_url=same.url,
                )
                # A close that failed when this PR was opened is finished now.
                others = tuple(
                    b
                    for b in promote.open_promotions(state, env.name)
                    if b.pull_request is not None and b.pull_request.number != same.number
                )
                return _close_superseded(others, noop, target.candidate, host, settings, state)
        if command.kind == "rollback":
            chosen = _older_option(target, host, config.source.repository)
            if isinstance(chosen, gates.Refusal):
                return _refused(command, chosen)
            target, changelog = chosen
        runs = host.list_workflow_runs(
            config.source.repository, target.candidate, branch=config.source.branch
        )
        verdict, _passed = bump.assess_runs(config, target.candidate, runs)
        failing = verdict.reason if verdict else None
        if command.kind == "rollback":
            # Shown, never required: the image ran in this environment before.
            ci_note = failing
        else:
            source = config.source
            # Stage's tag was on the branch when CI deployed it; a force-push may have taken it
            # off since. One compare with the branch head tells.
            held = host.compare(source.repository, target.candidate, source.branch)
            if target.current is not None:
                # A promotion lists what it brings; a rollback (above) what it takes back.
                changelog = host.compare(source.repository, target.current, target.candidate)
            evidence = promote.Evidence(
                ci_failing=failing,
                on_branch=held.status if held else None,
                ahead=changelog.status if changelog else None,
            )
            standing = promote.promotion_refusals(
                target, state.server_time, state.quarantined, source, evidence
            )
            if standing:
                return _refused_all(command, standing)

    plan = promote.plan_command(
        command=command,
        config=config,
        state=state,
        files=files,
        target_=target,
        changelog=changelog,
        request=request,
        server_url=settings.server_url,
        ci_note=ci_note,
    )
    outcome = _carry_out(
        plan,
        state,
        host,
        settings,
        what=plan.title[0].lower() + plan.title[1:],
        image_tag=plan.candidate or "",
        environments=(env.name,),
        reviewers=plan.reviewers,
        team_reviewers=plan.team_reviewers,
        merge_method=config.merge_method,
    )
    if outcome is None or settings.dry_run or outcome.pr_number is None:
        return outcome
    outcome = _close_superseded(
        plan.supersedes, outcome, plan.candidate or "", host, settings, state
    )
    if command.kind == "rollback" and outcome.result == "merged" and target and target.current:
        outcome = _close_quarantined(target.current, outcome, host, settings, state, config)
    return outcome


QUARANTINE_LABEL = "quarantined"


def _close_superseded(
    branches: Sequence[BotBranch],
    outcome: Outcome,
    candidate: str,
    host: GitHost,
    settings: Settings,
    state: GitopsState,
) -> Outcome:
    """Close the promotion PRs of other SHAs, each with a link to the one that stands."""
    if settings.dry_run or outcome.pr_number is None:
        return outcome
    closed = []
    for old in branches:
        assert old.pull_request is not None, "open_promotions holds open PRs only"
        host.close_pull_request(
            settings.gitops_repository,
            state.repository_id,
            old.pull_request,
            (old.name, old.oid),
            messages.superseded_comment(outcome.pr_number, outcome.pr_url, candidate),
        )
        closed.append(f"#{old.pull_request.number}")
    if not closed:
        return outcome
    return replace(
        outcome,
        reason=f"{outcome.reason}; closed {', '.join(closed)}, which promoted another SHA",
    )


def _close_quarantined(
    bad: str,
    outcome: Outcome,
    host: GitHost,
    settings: Settings,
    state: GitopsState,
    config: PipelineConfig,
) -> Outcome:
    """The rollback that quarantined ``bad`` is merged: an open promotion PR carrying it is
    labelled, told why and closed, so nobody merges what was just rolled back from."""
    closed = []
    for env in config.environments:
        if env.gate is None:
            continue
        for branch in promote.open_promotions(state, env.name):
            pr = branch.pull_request
            if pr is None or messages.plan_candidate(pr.body) != bad:
                continue
            host.add_labels(settings.gitops_repository, pr.number, (QUARANTINE_LABEL,))
            host.close_pull_request(
                settings.gitops_repository,
                state.repository_id,
                pr,
                (branch.name, branch.oid),
                messages.quarantined_comment(bad, outcome.pr_number, outcome.pr_url),
            )
            closed.append(f"#{pr.number}")
    if not closed:
        return outcome
    return replace(
        outcome, reason=f"{outcome.reason}; closed {', '.join(closed)}, which promoted {bad[:7]}"
    )


def _carry_out(
    plan: PullRequestPlan,
    state: GitopsState,
    host: GitHost,
    settings: Settings,
    *,
    what: str,
    image_tag: str,
    environments: tuple[str, ...],
    notes: tuple[str, ...] = (),
    reviewers: tuple[str, ...] = (),
    team_reviewers: tuple[str, ...] = (),
    merge_method: MergeMethod = "squash",
) -> Outcome | None:
    """Write the plan (or, in a dry run, say what would be written). A write that lost a race,
    or a PR whose base moved, raises ``ConflictError``: the caller's loop reads again and
    keeps GitHub's message for when it gives up."""
    if settings.dry_run:
        # A repository that allows no usable merge method fails the dry run as apply_plan
        # fails a real one.
        check_merge_method(plan, state, merge_method)
        new = plan.existing_pr is None
        action = f"open a PR on {plan.branch}" if new else f"update the PR on {plan.branch}"
        result: Result = "opened" if new else "updated"
        return Outcome(
            result=result,
            reason=f"dry run: would {action} to {what} (merge: {plan.merge}); nothing was written",
            image_tag=image_tag,
            environments=environments,
            diff=plan.diff,
            details=notes,
        )
    # A lost race (ConflictError) goes up to the caller's loop, which keeps its message.
    return apply_plan(
        plan,
        state,
        host,
        settings.gitops_repository,
        what=what,
        image_tag=image_tag,
        environments=environments,
        notes=notes,
        reviewers=reviewers,
        team_reviewers=team_reviewers,
        merge_method=merge_method,
        waiting=settings.merge_wait,
    )


class _Conversation:
    """Reactions and replies on the comment that asked; each said once."""

    def __init__(self, host: GitHost, settings: Settings, event: CommentEvent) -> None:
        self._host = host
        self._settings = settings
        self._event = event

    def react(self, content: str) -> None:
        if not self._settings.dry_run:
            self._host.react(self._settings.gitops_repository, self._event.comment_id, content)

    def reply(self, body: str) -> None:
        if not self._settings.dry_run:
            self._host.reply(self._settings.gitops_repository, self._event.issue_number, body)

    def refuse(self, body: str, reason: str) -> Outcome:
        self.reply(body)
        self.react("confused")
        return Outcome(result="refused", reason=reason)

    def fail(self, body: str) -> None:
        """Best effort while an error is on its way out: GitHub may be what failed, and the
        error the job reports is the one that matters."""
        with contextlib.suppress(UserError):
            self.reply(body)
            self.react("confused")


# Options compared at most for one rollback: each costs a request, and the first older tag is
# almost always the one before what runs.
ROLLBACK_COMPARES = 10


def _older_option(
    target: promote.Target, host: GitHost, source: str
) -> tuple[promote.Target, Comparison | None] | gates.Refusal:
    """The first tag the environment ran before that is older than what runs, comparing one
    option at a time (the comparison is also the rollback's list of what it takes back)."""
    if target.current is None:
        return target, None
    relations: list[Relation | None] = []
    comparisons: list[Comparison | None] = []
    for option in target.options[:ROLLBACK_COMPARES]:
        comparison = host.compare(source, option, target.current)
        comparisons.append(comparison)
        relations.append(comparison.status if comparison else None)
        chosen = promote.choose_rollback(target, relations)
        if isinstance(chosen, promote.Target):
            return chosen, comparisons[-1]
        if chosen is not None:
            return chosen
    limited = promote.choose_rollback(
        replace(target, options=target.options[: len(relations)]), relations
    )
    assert limited is not None and not isinstance(limited, promote.Target)
    return limited


def _quarantine_once(
    command: Command,
    request: promote.Request,
    host: GitHost,
    settings: Settings,
    state: GitopsState,
    config: PipelineConfig,
) -> Outcome | None:
    """Put a SHA into quarantine, or lift it: a PR adding or deleting its record."""
    assert command.sha is not None, "the parser always gives a quarantine command its SHA"
    held = command.sha in state.quarantined
    if command.kind == "quarantine" and held:
        refusal = gates.Refusal(
            "quarantine", f"{command.sha[:7]} is quarantined already", "nothing to do"
        )
        return _refused(command, refusal)
    if command.kind == "unquarantine" and not held:
        refusal = gates.Refusal(
            "quarantine", f"{command.sha[:7]} is not quarantined", "nothing to lift"
        )
        return _refused(command, refusal)
    plan = promote.plan_quarantine(command, config, state, request)
    return _carry_out(
        plan,
        state,
        host,
        settings,
        what=plan.title[0].lower() + plan.title[1:],
        image_tag=command.sha,
        environments=(),
        merge_method=config.merge_method,
    )


def _permission_for(command: Command, config: PipelineConfig) -> tuple[Permission, str]:
    """What role a command needs, and the words for it: a gated environment's own setting
    for promoting and for rolling back; the strictest gate's for everything else."""
    env = config.environment(command.environment or "")
    if env is not None and env.gate is not None and command.kind == "promote":
        return env.gate.permission, f"promoting to {env.name}"
    if env is not None and env.gate is not None and command.kind == "rollback":
        return env.gate.rollback_permission, f"rolling {env.name} back"
    if command.kind in ("quarantine", "unquarantine"):
        # What a rollback records, only who may roll back may add or lift by hand.
        gated = [e.gate for e in config.environments if e.gate is not None]
        needed = max(
            (gate.rollback_permission for gate in gated),
            key=lambda role: PERMISSION_RANK[role],
            default=_required_permission(config).permission,
        )
        verb = "quarantining" if command.kind == "quarantine" else "lifting the quarantine of"
        return needed, f"{verb} {(command.sha or '')[:7]}"
    doing = {"rollback": "rolling back", "release": "releasing a hold", "bump": "a manual bump"}
    words = doing.get(command.kind, command.kind)
    if env is not None:
        words += f" {env.name}" if command.kind != "release" else f" on {env.name}"
    return _required_permission(config).permission, words


def _required_permission(config: PipelineConfig) -> Gate:
    """Who may give commands: the strictest permission any gate asks for."""
    gated = [env.gate for env in config.environments if env.gate is not None]
    if not gated:
        raise UserError("the pipeline config has no gated environment, so nobody may give commands")
    return max(gated, key=lambda gate: PERMISSION_RANK[gate.permission])


def _refused_all(command: Command, refusals: Sequence[gates.Refusal]) -> Outcome:
    """One refusal as ever; several in one reply, each gate with its own way forward."""
    if len(refusals) == 1:
        return _refused(command, refusals[0])
    text = command.text()
    names = ", ".join(refusal.gate for refusal in refusals)
    return Outcome(
        result="refused",
        reason=f"{text} refused by the {names} gates: "
        + "; ".join(refusal.reason for refusal in refusals),
        environments=(command.environment,) if command.environment else (),
        details=(messages.refusals_reply(text, [(r.gate, r.reason, r.fix) for r in refusals]),),
    )


def _refused(command: Command, refusal: gates.Refusal) -> Outcome:
    text = command.text()
    return Outcome(
        result="refused",
        reason=f"{text} refused by the {refusal.gate} gate: {refusal.reason}",
        environments=(command.environment,) if command.environment else (),
        details=(messages.refusal_reply(text, refusal.gate, refusal.reason, refusal.fix),),
    )


def _skipped(reason: str) -> Outcome:
    return Outcome(result="skipped", reason=reason)


def _config(state: GitopsState, settings: Settings) -> PipelineConfig:
    if state.config_text is None:
        raise UserError(
            f"{settings.config_path} does not exist on {settings.gitops_repository}'s "
            f"{state.default_branch}",
            "commit the pipeline config, or point config_path at it",
        )
    return load_config(state.config_text, settings.config_path)


def _gave_up(settings: Settings, last: Exception | None = None) -> UserError:
    """The error after the last attempt, with what GitHub said to it."""
    said = f" (last: {messages.log_line(str(last))})" if last is not None and str(last) else ""
    return UserError(
        f"gave up after {settings.max_attempts} attempts: a branch kept moving under "
        f"concurrent runs{said}",
        "re-run the job; the next run starts from what GitHub has now",
    )
