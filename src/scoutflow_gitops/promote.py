"""Promotions, rollbacks and holds asked for by a person. Pure: data in, a plan or a refusal out.

The shell (``bot.handle_command``) reads in stages and calls these in order:
``target`` (which SHA, from the file histories) -> gates -> ``plan_command`` (the edits and PR).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from scoutflow_gitops import gates, messages, yamledit
from scoutflow_gitops.bump import tag_of
from scoutflow_gitops.commands import Command
from scoutflow_gitops.config import (
    BOT_BRANCH_PREFIX,
    HOLDS_DIR,
    QUARANTINE_DIR,
    Environment,
    MergeMode,
    PipelineConfig,
    Source,
)
from scoutflow_gitops.errors import UserError
from scoutflow_gitops.model import (
    BotBranch,
    Comparison,
    FileChange,
    FileVersion,
    GitopsState,
    PullRequest,
    Relation,
)

# How many changes of a values file the histories reach back; older tags cannot be targeted.
HISTORY_DEPTH = 100


@dataclass(frozen=True)
class Target:
    """What a promotion or rollback would move an environment to, and the evidence for it."""

    env: Environment
    current: str | None
    candidate: str
    source_periods: tuple[gates.TagPeriod, ...]
    # A rollback's choices, newest first: the tags the environment ran before, of which the
    # first older than ``current`` is taken (``choose_rollback``); ``candidate`` is the first.
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class CommandPlan:
    command: Command
    env: str
    candidate: str | None
    branch: str
    branch_oid: str | None
    base_oid: str
    existing_pr: PullRequest | None
    changes: tuple[FileChange, ...]
    diff: str
    title: str
    body: str
    commit_headline: str
    commit_body: str
    merge: MergeMode
    labels: tuple[str, ...]
    reviewers: tuple[str, ...]
    team_reviewers: tuple[str, ...]
    # Open promotion PRs of the same environment for other SHAs: closed once this one is
    # open, so that no approval given for one SHA ever merges another.
    supersedes: tuple[BotBranch, ...] = ()


@dataclass(frozen=True)
class Request:
    """Who asked, and where to answer."""

    user: str
    url: str
    via: str
    # The account id GitHub gave with the login (``sender.id``): a login can be renamed.
    user_id: int | None = None


def history_paths(command: Command, config: PipelineConfig) -> tuple[str, ...]:
    """The files whose histories the command's target, gates and diff need."""
    env = _env(config, command.environment)
    if command.kind == "release":
        return (f"{HOLDS_DIR}/{env.name}.yml",)
    paths = [env.values_file]
    if env.gate is not None:
        source = _env(config, env.gate.promoted_from)
        paths.append(source.values_file)
    return tuple(paths)


def tags_of(env: Environment, versions: Sequence[FileVersion]) -> tuple[gates.TagPeriod, ...]:
    """An environment's tag periods, newest first, from its values file's history."""
    return gates.timeline(
        [(v.commit, v.committed_at, tag_of(env, v.text), v.pr_number, v.pr_url) for v in versions]
    )


def target(
    command: Command,
    config: PipelineConfig,
    files: Mapping[str, bytes | None],
    histories: Mapping[str, Sequence[FileVersion]],
) -> Target | gates.Refusal:
    env = _env(config, command.environment)
    current = tag_of(env, files.get(env.values_file))
    own = tags_of(env, histories.get(env.values_file, ()))
    source_periods: tuple[gates.TagPeriod, ...] = ()
    if env.gate is not None:
        source = _env(config, env.gate.promoted_from)
        source_periods = tags_of(source, histories.get(source.values_file, ()))

    if command.kind == "promote":
        assert env.gate is not None, "the command parser only promotes gated environments"
        candidate = command.sha or (source_periods[0].tag if source_periods else None)
        if candidate is None:
            return gates.Refusal(
                "promoted-from",
                f"{env.gate.promoted_from} has no image tag to promote",
                f"wait until {env.gate.promoted_from} runs a commit",
            )
    else:
        # Newest first, each tag once: a tag the environment returned to counts where it last
        # ran, so one rolled back from (ahead of what runs) is passed over by the order check.
        earlier = tuple(dict.fromkeys(period.tag for period in own if period.tag != current))
        if command.sha is None:
            if not earlier:
                return gates.Refusal(
                    "history",
                    f"{env.name} has run no other image in its last {HISTORY_DEPTH} changes",
                    f"name the SHA: `/rollback {env.name} <sha>`",
                )
            options = earlier
        elif command.sha not in earlier:
            same = gates.differs_gate(command.sha, current, env.name)
            if same is not None:
                return same
            return gates.Refusal(
                "history",
                f"{env.name} has never run {command.sha[:7]} (in its last {HISTORY_DEPTH} changes)",
                f"roll back only to a tag {env.name} ran before; `/rollback {env.name}` picks the "
                "previous one",
            )
        else:
            options = (command.sha,)
        return Target(env, current, options[0], source_periods, options)
    refusal = gates.differs_gate(candidate, current, env.name)
    if refusal is not None:
        return refusal
    return Target(env, current, candidate, source_periods)


def choose_rollback(
    target_: Target, relations: Sequence[Relation | None]
) -> Target | gates.Refusal | None:
    """Pure: the first of ``target_.options`` older than what runs, given the relation of what
    runs to each option read so far, in order (``ahead``: what runs is newer, so the option is
    older). ``None``: read the next option's relation and ask again."""
    for option, relation in zip(target_.options, relations, strict=False):
        if gates.rollback_gate(option, target_.current, relation, target_.env.name) is None:
            return replace(target_, candidate=option)
    if len(relations) < len(target_.options):
        return None
    env = target_.env.name
    if len(target_.options) == 1:
        refusal = gates.rollback_gate(target_.options[0], target_.current, relations[0], env)
        assert refusal is not None
        return refusal
    return gates.Refusal(
        "history",
        f"{env} has run no image older than {(target_.current or '')[:7]} in its last "
        f"{HISTORY_DEPTH} changes",
        f"name the SHA: `/rollback {env} <sha>`",
    )


@dataclass(frozen=True)
class Evidence:
    """What GitHub said about a promotion's candidate, read before the gates judge it."""

    # Why the candidate's required CI is not all green (``None``: it is).
    ci_failing: str | None
    # How the source branch's head relates to the candidate (``ahead``/``identical``: on it).
    on_branch: Relation | None
    # How the candidate relates to what the environment runs (``ahead``: newer).
    ahead: Relation | None


def promotion_refusals(
    target_: Target,
    now: datetime,
    quarantined: frozenset[str],
    source: Source,
    evidence: Evidence,
) -> tuple[gates.Refusal, ...]:
    """Pure: every gate a promotion fails, in the order the reply lists them. All are asked,
    so that no advice in the reply is overtaken by a gate it did not mention."""
    env, candidate = target_.env, target_.candidate
    found = (
        gates.window_gate(now, env.gate.windows if env.gate else None, env.name),
        gates.quarantine_gate(candidate, quarantined),
        evidence_gates(target_, now),
        gates.ci_gate(candidate, evidence.ci_failing),
        gates.on_branch_gate(candidate, evidence.on_branch, source.repository, source.branch),
        gates.ahead_gate(candidate, target_.current, evidence.ahead, env.name),
    )
    return tuple(refusal for refusal in found if refusal is not None)


def evidence_gates(target_: Target, now: datetime) -> gates.Refusal | None:
    """The promoted-from and soak gates, for a promotion of a gated environment. A rollback
    needs none: it returns to an image the environment itself ran, in an incident."""
    gate = target_.env.gate
    if gate is None or target_.options:
        return None
    return gates.stage_gate(
        target_.candidate, gate.promoted_from, target_.source_periods
    ) or gates.soak_gate(
        target_.candidate, gate.promoted_from, target_.source_periods, now, gate.soak_minutes
    )


def plan_command(
    *,
    command: Command,
    config: PipelineConfig,
    state: GitopsState,
    files: Mapping[str, bytes | None],
    target_: Target | None,
    changelog: Comparison | None,
    request: Request,
    server_url: str,
    ci_note: str | None,
) -> CommandPlan:
    """``ci_note``: why a rollback's target is not all green (``None``: it is); shown only."""
    env = _env(config, command.environment)
    branch = f"{BOT_BRANCH_PREFIX}{command.kind}-{env.name}"
    supersedes: tuple[BotBranch, ...] = ()
    if command.kind == "promote" and target_ is not None:
        branch = promotion_branch(env.name, target_.candidate)
        supersedes = tuple(b for b in open_promotions(state, env.name) if b.name != branch)
    hold_path = f"{HOLDS_DIR}/{env.name}.yml"
    changes: list[FileChange] = []
    if target_ is not None:
        data = files.get(env.values_file)
        if data is None:
            raise UserError(f"{env.values_file} does not exist on {state.default_branch}")
        yamledit.check_values_file(data, path=env.values_file)
        new = yamledit.set_value_bytes(
            data, env.image_tag_key, target_.candidate, path=env.values_file
        )
        changes.append(FileChange(env.values_file, new))
    if command.kind == "rollback" and env.follows_ci:
        tag = target_.candidate if target_ else None
        changes.append(
            FileChange(hold_path, messages.hold_file(env.name, request.user, request.url, tag))
        )
    if command.kind == "rollback" and target_ is not None and target_.current is not None:
        # What the environment is rolled back from never comes back by itself: not by CI into
        # another environment, not by `/promote`.
        bad = target_.current
        if bad not in state.quarantined:
            record = messages.quarantine_file(bad, env.name, request.user, request.url)
            changes.append(FileChange(f"{QUARANTINE_DIR}/{bad}.yml", record))
    if command.kind == "release":
        changes.append(FileChange(hold_path, None))
    before = {**files, hold_path: files.get(hold_path)}
    before.update({c.path: files.get(c.path) for c in changes if c.path not in before})
    diff = yamledit.changes_diff(before, [(c.path, c.contents) for c in changes])

    source_repo = config.source.repository
    context = messages.CommandContext(
        kind=command.kind,
        env=env.name,
        command_text=command.text(),
        request_user=request.user,
        request_url=request.url,
        request_via=request.via,
        current=target_.current if target_ else None,
        candidate=target_.candidate if target_ else None,
        source_env=env.gate.promoted_from if env.gate else None,
        source_period=_period(target_),
        now=state.server_time,
        changelog=changelog,
        changelog_limit=config.changelog_limit,
        source_repository=source_repo,
        server_url=server_url,
        diff=diff,
        holds=env.follows_ci and command.kind == "rollback",
        application=env.argocd_app if env.gate else None,
        ci_note=ci_note,
        request_user_id=request.user_id,
    )
    existing = state.branch(branch)
    title = messages.command_title(context)
    # A gated environment is never merged by the bot, whatever its merge setting says.
    merge: MergeMode = "none" if env.gate is not None else env.merge
    labels = env.gate.labels if env.gate else config.bump.labels
    return CommandPlan(
        command=command,
        env=env.name,
        candidate=target_.candidate if target_ else None,
        branch=branch,
        branch_oid=existing.oid if existing else None,
        base_oid=state.head_oid,
        existing_pr=existing.pull_request if existing else None,
        changes=tuple(changes),
        diff=diff,
        title=title,
        body=messages.command_body(context),
        commit_headline=title,
        commit_body=messages.command_commit_body(context),
        merge=merge,
        labels=labels,
        # Never the requester: asking to review one's own promotion invites a self-approval.
        reviewers=tuple(
            r for r in (env.gate.reviewers if env.gate else ()) if r.lower() != request.user.lower()
        ),
        team_reviewers=env.gate.team_reviewers if env.gate else (),
        supersedes=supersedes,
    )


def plan_quarantine(
    command: Command, config: PipelineConfig, state: GitopsState, request: Request
) -> CommandPlan:
    """A PR that adds a SHA's quarantine record (`/quarantine`) or deletes it
    (`/unquarantine`), merged as a CI bump merges: it deploys nothing."""
    assert command.sha is not None
    sha = command.sha
    path = f"{QUARANTINE_DIR}/{sha}.yml"
    adding = command.kind == "quarantine"
    contents = messages.quarantine_file(sha, "(by hand)", request.user, request.url)
    change = FileChange(path, contents if adding else None)
    branch = f"{BOT_BRANCH_PREFIX}{command.kind}-{sha[:12]}"
    existing = state.branch(branch)
    title = f"{'Quarantine' if adding else 'Lift the quarantine of'} {sha[:7]}"
    words = (
        f"Adds `{path}`: the CI bump never deploys {sha[:7]} and `/promote` never proposes it "
        "while the record exists."
        if adding
        else f"Deletes `{path}`: the CI bump and `/promote` may deploy {sha[:7]} again."
    )
    body = f"@{request.user} asked for this with `{command.text()}` ({request.via}).\n\n{words}\n"
    diff = ""
    return CommandPlan(
        command=command,
        env="",
        candidate=sha,
        branch=branch,
        branch_oid=existing.oid if existing else None,
        base_oid=state.head_oid,
        existing_pr=existing.pull_request if existing else None,
        changes=(change,),
        diff=diff,
        title=title,
        body=body,
        commit_headline=title,
        commit_body=f"Requested by @{request.user} with `{command.text()}` ({request.url}).",
        merge="auto",
        labels=config.bump.labels,
        reviewers=(),
        team_reviewers=(),
    )


def promotion_branch(env: str, sha: str) -> str:
    """One branch, so one PR, per promoted SHA: a review given for one never merges another."""
    return f"{BOT_BRANCH_PREFIX}promote-{env}-{sha[:12]}"


def open_promotions(state: GitopsState, env: str) -> tuple[BotBranch, ...]:
    """The bot's open promotion PRs for ``env``: on its per-SHA branches, or the older single
    branch, never another environment's whose name starts the same (prod, prod-eu)."""
    single = f"{BOT_BRANCH_PREFIX}promote-{env}"
    per_sha = re.compile(rf"\A{re.escape(single)}-[0-9a-f]{{12}}\Z")
    return tuple(
        b
        for b in state.branches
        if b.pull_request is not None
        and (b.name == single or per_sha.match(b.name))
        and messages.plan_environment(b.pull_request.body) in (env, None)
    )


def same_promotion(state: GitopsState, env: str, candidate: str) -> PullRequest | None:
    """An open promotion PR that already promotes ``candidate``: asking again writes nothing."""
    for branch in open_promotions(state, env):
        pr = branch.pull_request
        if pr is not None and messages.plan_candidate(pr.body) == candidate:
            return pr
    return None


def _period(target_: Target | None) -> gates.TagPeriod | None:
    if target_ is None:
        return None
    return next((p for p in target_.source_periods if p.tag == target_.candidate), None)


def _env(config: PipelineConfig, name: str | None) -> Environment:
    env = config.environment(name or "")
    if env is None:
        raise UserError(f"unknown environment {name!r}")
    return env
