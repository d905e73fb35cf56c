"""``scoutflow-gitops guard``: the merge-time check that no PR moves an environment backwards.

Run on a pull request (base and head checked out locally). Every environment whose image tag
the PR changes must move to a full commit SHA newer than what it runs, and a gated environment
(prod) only to a SHA its ``promoted_from`` environment ran on the base branch for the gate's
``soak_minutes``. The one exception is a rollback: a move to an older commit the environment
ran before on the base branch, licensed for any environment by a PR the bot's App opened (its
author in the event payload, never the branch name, which anyone can choose) and, for an
environment that follows CI, also by the hold marker that keeps CI away.

The rules are the base revision's config: a PR never supplies the rules that judge it. A PR
that changes the config's wiring (which files and keys hold the tags, the gates) is judged
under the base's config and under its own, every environment of either, so that it cannot
move a tag by pointing the config somewhere else; the output says the config changed.

Ordering needs the source repository's history, read through the API, with a read token for it
minted from GitHub App credentials (``SCOUTFLOW_GITOPS_APP_ID``, ``SCOUTFLOW_GITOPS_PRIVATE_KEY``)
or with ``GITHUB_TOKEN``. A workflow's own ``GITHUB_TOKEN`` cannot read another private
repository: when the token cannot read the source, the check says so (one line and a warning
annotation) and passes neutrally, never with a false finding and never silently. What needs no
API (a tag that is not a SHA, prod's lineage) fails all the same.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scoutflow_gitops import gates, gitlog, messages, overrides, yamledit
from scoutflow_gitops.config import (
    DEFAULT_CONFIG_PATH,
    HOLDS_DIR,
    QUARANTINE_DIR,
    Environment,
    PipelineConfig,
    load_config,
)
from scoutflow_gitops.errors import UserError
from scoutflow_gitops.events import SHA_RE, bot_key, queued_pull_number
from scoutflow_gitops.validate import Finding

# GitHub App credentials the guard mints its read token from (the App ID is not secret).
APP_ID_VARIABLE = "SCOUTFLOW_GITOPS_APP_ID"
PRIVATE_KEY_VARIABLE = "SCOUTFLOW_GITOPS_PRIVATE_KEY"
# The bot App's login (e.g. ``scoutflow-gitops[bot]``), set by the workflow from a repository
# variable: only a PR this identity opened may roll a gated environment back.
BOT_LOGIN_VARIABLE = "SCOUTFLOW_GITOPS_BOT_LOGIN"


@dataclass(frozen=True)
class Author:
    """Who opened the PR, from the ``pull_request`` event GitHub wrote (not from the PR's files)."""

    login: str
    type: str


@dataclass(frozen=True)
class TagMove:
    env: str
    path: str
    line: int
    # ``None``: no tag (a removed file or key, a null); ``old`` is also ``None`` for an
    # environment the base never had.
    old: str | None
    new: str | None
    # Licensed as a rollback: opened by the bot's App, or (following CI) carrying the hold marker.
    rollback_allowed: bool
    # ``new`` was this environment's tag on the base branch's first-parent history.
    ran_before: bool = False
    # Why a gated environment may not take ``new`` yet (stage never ran it, or not for long).
    lineage: gates.Refusal | None = None


@dataclass(frozen=True)
class Plan:
    moves: tuple[TagMove, ...]
    # What the PR changes in the config's wiring, for the output; empty when nothing.
    config_changes: tuple[str, ...]
    source: str


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "guard",
        help="fail a PR that moves an environment to an older commit (unless it is a rollback)",
        description="Compare every environment's image tag between two revisions.",
    )
    parser.add_argument("--repo", type=Path, default=Path("."), help="repository root (.)")
    parser.add_argument("--base", required=True, help="the PR's base revision, e.g. origin/main")
    parser.add_argument("--head", default="HEAD", help="the PR's head revision (HEAD)")
    parser.add_argument(
        "--event-path",
        default=os.environ.get("GITHUB_EVENT_PATH", ""),
        help="the pull_request event payload, for the PR's author (GITHUB_EVENT_PATH)",
    )
    parser.add_argument(
        "--bot-login",
        default=os.environ.get(BOT_LOGIN_VARIABLE, ""),
        help=f"the bot App's login, e.g. scoutflow-gitops[bot] ({BOT_LOGIN_VARIABLE})",
    )
    # Accepted and ignored, so that older invocations still parse: anyone can name a branch
    # like the bot's, so the branch name never licenses a rollback.
    parser.add_argument("--head-branch", default="", help=argparse.SUPPRESS)
    parser.set_defaults(handler=_handle)


def trusted_config(repo: Path, base: str) -> PipelineConfig:
    """The pipeline config of the base revision: the rules, which the PR cannot change."""
    config_text = gitlog.read_at(repo, base, DEFAULT_CONFIG_PATH)
    if config_text is None:
        raise UserError(f"{DEFAULT_CONFIG_PATH} does not exist at {base}")
    return load_config(config_text.decode("utf-8"), DEFAULT_CONFIG_PATH)


def head_config(repo: Path, head: str) -> PipelineConfig | None:
    """The PR's own config, judged with but never instead of the base's; ``None`` if unusable
    (the validate job fails a broken config; the guard then has only the base's to go by)."""
    text = gitlog.read_at(repo, head, DEFAULT_CONFIG_PATH)
    if text is None:
        return None
    try:
        return load_config(text.decode("utf-8", "replace"), DEFAULT_CONFIG_PATH)
    except UserError:
        return None


def wiring_changes(base: PipelineConfig, head: PipelineConfig | None) -> tuple[str, ...]:
    """Pure: the fields of the wiring (source, environments and their files, keys, gates) that
    differ between the base's config and the PR's."""
    if head is None:
        return ("the config (missing or invalid at the head)",)
    changes = [
        f"source.{field}"
        for field in ("repository", "branch")
        if getattr(base.source, field) != getattr(head.source, field)
    ]
    names = dict.fromkeys(
        [*(e.name for e in base.environments), *(e.name for e in head.environments)]
    )
    for name in names:
        old, new = base.environment(name), head.environment(name)
        if old is None or new is None:
            changes.append(f"environment {name} {'added' if old is None else 'removed'}")
            continue
        changes.extend(
            f"{name}.{field}"
            for field in ("values_file", "image_tag_key", "follows_ci", "gate")
            if getattr(old, field) != getattr(new, field)
        )
    return tuple(changes)


def is_bot(author: Author | None, bot_login: str) -> bool:
    """Pure: whether the PR was opened by the bot's App (a ``Bot`` account with its login)."""
    if author is None or not bot_login.strip():
        return False
    return author.type == "Bot" and bot_key(author.login) == bot_key(bot_login)


def read_author(event_path: str) -> Author | None:
    """The PR's author from the event payload; ``None`` when there is none to read, which only
    ever withholds the bot's rollback licence. A merge queue's event names no author: the PR
    it tests is read from the API (``queued_author``)."""
    payload = _event(event_path)
    try:
        user = payload["pull_request"]["user"]
        login, kind = user["login"], user["type"]
    except (KeyError, TypeError):
        return queued_author(payload)
    if not (isinstance(login, str) and isinstance(kind, str)):
        return None
    return Author(login, kind)


def queued_author(payload: dict[str, Any]) -> Author | None:
    """For a ``merge_group`` event, the author of the PR its branch names, as GitHub records it
    (read with this repository's ``GITHUB_TOKEN``, Pull requests: read); ``None`` when there is
    no such PR or it cannot be read, which withholds the rollback licence and says so."""
    from scoutflow_gitops.github import GitHubHost, connect

    group = payload.get("merge_group")
    number = queued_pull_number(str(group.get("head_ref", ""))) if isinstance(group, dict) else None
    repository = os.environ.get("GITHUB_REPOSITORY", "").strip()
    token = os.environ.get("GITHUB_TOKEN", "").strip()
    if number is None or not repository or not token:
        return None
    api_url = os.environ.get("GITHUB_API_URL", "https://api.github.com")
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
    try:
        host = GitHubHost(connect(api_url=api_url, token=token, repository=repository), server)
        facts = host.read_pull_facts(repository, number)
    except UserError as exc:
        print(
            messages.log_line(f"guard: cannot read PR #{number}'s author: {exc.message}"),
            file=sys.stderr,
        )
        return None
    if facts is None:
        return None
    return Author(facts.author_login, "Bot" if facts.author_is_bot else "User")


def _event(event_path: str) -> dict[str, Any]:
    if not event_path:
        return {}
    try:
        payload = json.loads(Path(event_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return payload if isinstance(payload, dict) else {}


def plan(
    repo: Path, base: str, head: str, author: Author | None, bot_login: str, now: datetime
) -> Plan:
    """Every environment whose tag differs between ``base`` and ``head``, under the base's
    config and, when the PR rewires it, under the PR's config too."""
    trusted = trusted_config(repo, base)
    proposed = head_config(repo, head)
    changes = wiring_changes(trusted, proposed)
    configs = [trusted] if not changes or proposed is None else [trusted, proposed]
    found: dict[TagMove, None] = {}
    for config in configs:
        for env in config.environments:
            move = _move(repo, base, head, env, config, trusted, is_bot(author, bot_login), now)
            if move is not None:
                found[move] = None
    return Plan(tuple(found), changes, trusted.source.repository)


def _move(
    repo: Path,
    base: str,
    head: str,
    env: Environment,
    config: PipelineConfig,
    trusted: PipelineConfig,
    by_bot: bool,
    now: datetime,
) -> TagMove | None:
    old_data, old = _tag_at(repo, base, env)
    # Wired by the PR to a file or key the base does not have: what the environment ran is
    # what the base's wiring says, so a renamed file cannot start from a clean slate.
    runs = trusted.environment(env.name)
    if old is None and runs is not None and runs != env:
        old_data, old = _tag_at(repo, base, runs)
    new_data, new = _tag_at(repo, head, env)
    if (old_data is None and new_data is None) or old == new:
        return None
    line = _line(new_data, env)
    held = gitlog.read_at(repo, head, f"{HOLDS_DIR}/{env.name}.yml") is not None
    # What the environment ran, and what its source ran, is the base's history read with the
    # base's wiring: the PR's commits and the PR's config are not evidence.
    ran = _periods(repo, base, runs)
    lineage = None
    if env.gate is not None and new is not None:
        source_env = trusted.environment(env.gate.promoted_from) or config.environment(
            env.gate.promoted_from
        )
        periods = _periods(repo, base, source_env)
        source = env.gate.promoted_from
        lineage = gates.stage_gate(new, source, periods) or gates.soak_gate(
            new, source, periods, now, env.gate.soak_minutes
        )
    return TagMove(
        env.name,
        env.values_file,
        line,
        old,
        new,
        rollback_allowed=by_bot or (env.follows_ci and held),
        ran_before=new is not None and any(period.tag == new for period in ran),
        lineage=lineage,
    )


def _tag_at(repo: Path, revision: str, env: Environment) -> tuple[bytes | None, str | None]:
    """The values file's bytes and its tag (``None``: no such key, a null, unreadable)."""
    data = gitlog.read_at(repo, revision, env.values_file)
    if data is None:
        return None, None
    try:
        return data, yamledit.get_value_bytes(data, env.image_tag_key, path=env.values_file)
    except UserError:
        return data, None


def _line(data: bytes | None, env: Environment) -> int:
    if data is None:
        return 1
    try:
        return yamledit.locate(data.decode("utf-8-sig"), env.image_tag_key).line
    except (UserError, UnicodeDecodeError):
        return 1


def _periods(repo: Path, base: str, env: Environment | None) -> tuple[gates.TagPeriod, ...]:
    """An environment's tags on the base branch's first-parent history, newest first.

    Dated by the committer dates of those commits: on the default branch they are the times
    GitHub merged (squash, rebase) or received each change. Reading GitHub's own merge times
    (the PRs' ``merged_at``) is a later improvement; the PR's own commits never count.
    """
    if env is None:
        return ()
    versions = []
    for version in gitlog.file_history(repo, env.values_file, revision=base):
        try:
            tag = yamledit.get_value(version.text, env.image_tag_key, path=env.values_file)
        except UserError:
            tag = None
        versions.append((version.commit, version.committed_at, tag, None, None))
    return gates.timeline(versions)


def form_finding(move: TagMove) -> Finding | None:
    """Pure: GUARD002 when a tag is not a full commit SHA (removed, emptied, ``latest``)."""
    if move.new is None or not SHA_RE.match(move.new):
        what = "removed" if move.new is None else f"set to {move.new!r}"
        return Finding(
            move.path, move.line, "GUARD002", f"{move.env}'s tag is {what}, not a full commit SHA"
        )
    if move.old is not None and not SHA_RE.match(move.old):
        return Finding(
            move.path, move.line, "GUARD002", f"{move.env}'s tag at the base is not a full SHA"
        )
    return None


def offline_finding(move: TagMove) -> Finding | None:
    """Pure: what fails whatever the source's history says (so even when it cannot be read):
    a tag that is not a SHA, and a gated environment's lineage unless a rollback excuses it."""
    form = form_finding(move)
    if form is not None:
        return form
    if move.lineage is not None and not (move.rollback_allowed and move.ran_before):
        return _lineage_finding(move, move.lineage)
    return None


def needs_order(move: TagMove) -> bool:
    """Whether judging ``move`` needs the source's history: two SHAs to compare."""
    return form_finding(move) is None and move.old is not None


def judge(move: TagMove, relation: str | None) -> Finding | None:
    """Pure: a finding unless the move is forward (and, gated, soaked in its source), or a
    licensed rollback to an older commit the environment ran before."""
    form = form_finding(move)
    if form is not None:
        return form
    assert move.new is not None  # form_finding refused a missing tag
    if move.old is None or relation == "ahead":
        return None if move.lineage is None else _lineage_finding(move, move.lineage)
    if relation == "behind" and move.rollback_allowed and move.ran_before:
        return None
    what = {"behind": "an older", "diverged": "an unrelated", "identical": "the same"}.get(
        relation or "", "an unknown"
    )
    if move.rollback_allowed and relation == "behind":
        why = f"a rollback moves only to a tag {move.env} ran before on the base branch"
    elif move.rollback_allowed:
        why = "a rollback moves only to an older commit"
    else:
        why = (
            f"only a rollback may do that (`/rollback {move.env}`, opened by the bot, which also "
            "holds an environment that follows CI)"
        )
    return Finding(
        move.path,
        move.line,
        "GUARD001",
        f"moves {move.env} from {move.old[:7]} to {what} commit {move.new[:7]}; {why}",
    )


def _lineage_finding(move: TagMove, refusal: gates.Refusal) -> Finding:
    return Finding(
        move.path,
        move.line,
        "GUARD003",
        f"{refusal.reason} on the base branch before this PR; {refusal.fix}",
    )


def quarantine_findings(
    repo: Path, base: str, head: str, moves: Sequence[TagMove], by_bot: bool
) -> tuple[Finding, ...]:
    """GUARD004: a move to a SHA quarantined on the base branch (an environment was rolled
    back from it), and a quarantine record removed by a PR that is not the bot's
    (`/unquarantine`, which the rollback role asks for)."""
    records = {name.removesuffix(".yml") for name in gitlog.list_dir(repo, base, QUARANTINE_DIR)}
    found = [
        Finding(
            move.path,
            move.line,
            "GUARD004",
            f"moves {move.env} to {move.new[:7]}, which is quarantined "
            f"({QUARANTINE_DIR}/{move.new}.yml): an environment was rolled back from it",
        )
        for move in moves
        if move.new is not None and move.new in records
    ]
    if not by_bot:
        kept = {name.removesuffix(".yml") for name in gitlog.list_dir(repo, head, QUARANTINE_DIR)}
        found += [
            Finding(
                f"{QUARANTINE_DIR}/{sha}.yml",
                1,
                "GUARD004",
                f"removes the quarantine of {sha[:7]}; only `/unquarantine {sha}` may lift it",
            )
            for sha in sorted(records - kept)
        ]
    return tuple(found)


def application_findings(repo: Path, base: str, head: str) -> tuple[Finding, ...]:
    """Argo CD overrides in the PR's Applications, judged with the base's config: an
    Application that loads another values file or sets the image tag itself would move an
    environment without touching the file the other checks watch."""
    found = []
    for env in trusted_config(repo, base).environments:
        if env.application is None:
            continue
        text = gitlog.read_at(repo, head, env.application)
        if text is None:
            continue
        for item in overrides.findings(text.decode("utf-8", "replace"), env, env.application):
            found.append(Finding(item.path, item.line, item.rule, item.message))
    return tuple(found)


def _handle(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    author = read_author(args.event_path)
    found = plan(args.repo, args.base, args.head, author, args.bot_login, now)
    annotate = os.environ.get("GITHUB_ACTIONS") == "true"
    if found.config_changes:
        _notice(
            "guard: the PR changes the pipeline config's wiring "
            f"({', '.join(found.config_changes)}); judged under the base's config and the PR's",
            annotate,
        )
    argo = application_findings(args.repo, args.base, args.head)
    held = quarantine_findings(
        args.repo, args.base, args.head, found.moves, is_bot(author, args.bot_login)
    )
    if argo or held:
        # Offline and final: no history is needed to refuse an override or a quarantine.
        return _report([*argo, *held], len(found.moves), annotate)
    if not found.moves:
        print("guard: no environment changes its image tag", file=sys.stderr)
        return 0
    ordered = [move for move in found.moves if needs_order(move)]
    relations: dict[tuple[str, str], str | None] = {}
    if ordered:
        outcome = _relations(found.source, ordered, annotate)
        if isinstance(outcome, str):
            offline = [f for move in found.moves if (f := offline_finding(move)) is not None]
            if not offline:
                return _unchecked(outcome, len(ordered), annotate)
            print(f"guard: {outcome}; failing on what needs no history", file=sys.stderr)
            return _report(offline, len(found.moves), annotate)
        relations = outcome
    findings = [
        finding
        for move in found.moves
        if (finding := judge(move, relations.get((move.old or "", move.new or "")))) is not None
    ]
    return _report(findings, len(found.moves), annotate)


def _relations(
    source: str, ordered: Sequence[TagMove], annotate: bool
) -> dict[tuple[str, str], str | None] | str:
    """Each move's relation in the base's source repository (the PR's config may name another:
    that is its claim, not evidence), or why the source cannot be read."""
    from scoutflow_gitops.github import GUARD_PERMISSIONS, AccessError, GitHubHost, connect

    app_id = os.environ.get(APP_ID_VARIABLE, "").strip()
    private_key = os.environ.get(PRIVATE_KEY_VARIABLE, "").strip()
    token = os.environ.get("GITHUB_TOKEN", "").strip()
    if not (app_id and private_key) and not token:
        return (
            f"no GITHUB_TOKEN and no {APP_ID_VARIABLE}/{PRIVATE_KEY_VARIABLE} to compare commits "
            f"of {source}"
        )
    api_url = os.environ.get("GITHUB_API_URL", "https://api.github.com")
    pairs = list(dict.fromkeys((move.old or "", move.new or "") for move in ordered))
    try:
        if app_id and private_key:
            if not app_id.isdigit():
                raise UserError(f"{APP_ID_VARIABLE} must be the GitHub App's numeric id")
            connection = connect(
                api_url=api_url,
                app_id=app_id,
                private_key=private_key,
                repository=source,
                permissions=GUARD_PERMISSIONS,
                on_token=lambda minted: _mask(minted, annotate),
            )
        else:
            connection = connect(api_url=api_url, token=token, repository=source)
        host = GitHubHost(connection, os.environ.get("GITHUB_SERVER_URL", "https://github.com"))
        relations: dict[tuple[str, str], str | None] = {}
        for old, new in pairs:
            comparison = host.compare(source, old, new)
            relations[(old, new)] = comparison.status if comparison else None
    except AccessError as exc:
        # Only "cannot read the source repository" passes neutrally; anything else (a broken
        # key, GitHub failing) is an error, so that the guard can never be made to pass by
        # breaking what it reads with.
        if exc.need.repository.lower() != source.lower():
            raise
        return f"{exc.message} ({exc.hint})"
    return relations


def _print(findings: Sequence[Finding], annotate: bool) -> None:
    for finding in findings:
        print(finding.text())
        if annotate:
            print(finding.annotation())


def _report(findings: Sequence[Finding], count: int, annotate: bool) -> int:
    unique = list(dict.fromkeys(findings))
    _print(unique, annotate)
    print(f"guard: {count} tag change(s), {len(unique)} refused", file=sys.stderr)
    return 1 if unique else 0


def _notice(line: str, annotate: bool) -> None:
    print(messages.log_line(line), file=sys.stderr)
    if annotate:
        print(messages.annotation("notice", "scoutflow-gitops guard", line))


def _unchecked(why: str, count: int, annotate: bool) -> int:
    """Pass neutrally, saying so: the order of the commits could not be read."""
    line = messages.log_line(
        f"guard: skipped: {why}; {count} tag change(s) not checked; give the guard GitHub App "
        f"credentials ({APP_ID_VARIABLE}, {PRIVATE_KEY_VARIABLE}) or a token that can read "
        "the source repository"
    )
    print(line, file=sys.stderr)
    if annotate:
        print(messages.annotation("warning", "scoutflow-gitops guard", line))
    return 0


def _mask(token: str, annotate: bool) -> None:
    """Mask a minted token before anything could print it (only the runner reads this)."""
    if annotate and token:
        print(f"::add-mask::{token}")
