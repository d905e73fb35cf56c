"""Every text the bot writes for people: PR titles and bodies, commit messages, step summaries.

Kept in one module and checked against golden files, so a wording change is a reviewed diff.
Text that comes from outside (commit headlines, author names) is neutralised before it lands in
Markdown: it cannot close a code block, open a link, mention someone or fake the plan marker.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from scoutflow_gitops.gates import TagPeriod
from scoutflow_gitops.model import Commit, Comparison, Outcome, WorkflowRun

PLAN_MARKER = "scoutflow-gitops:plan"
_PLAN_RE = re.compile(r"<!-- scoutflow-gitops:plan (\{.*?\}) -->")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~@])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class EnvChange:
    name: str
    path: str
    old_tag: str
    new_tag: str


@dataclass(frozen=True)
class BumpContext:
    candidate: str
    candidate_commit: Commit | None
    source_repository: str
    server_url: str
    environments: tuple[EnvChange, ...]
    changelog: Comparison | None
    changelog_limit: int
    passed_runs: tuple[WorkflowRun, ...]
    diff: str
    notes: tuple[str, ...]
    superseded: str | None
    merge: str
    plan_json: str
    merge_method: str = "squash"


def inline(text: str, limit: int = 120) -> str:
    """Outside text made safe for one line of Markdown."""
    flat = _CONTROL.sub(" ", text).strip()
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


def bump_title(candidate: str, environments: Sequence[str]) -> str:
    return f"Deploy {candidate[:7]} to {', '.join(environments)}"


def bump_commit_body(context: BumpContext) -> str:
    lines = [
        f"{change.name}: {change.old_tag} -> {change.new_tag} ({change.path})"
        for change in context.environments
    ]
    lines.append("")
    lines.append(f"Source: {context.source_repository}@{context.candidate}")
    lines.extend(f"Passed: {_run_name(run)} ({run.url})" for run in context.passed_runs)
    return "\n".join(lines)


def bump_body(context: BumpContext) -> str:
    repo_url = f"{context.server_url}/{context.source_repository}"
    short = context.candidate[:7]
    commit = context.candidate_commit
    headline = f" {inline(commit.headline)}" if commit and commit.headline else ""
    parts = [
        f"Deploys [`{short}`]({repo_url}/commit/{context.candidate}){headline} "
        f"from `{context.source_repository}` to "
        + ", ".join(f"**{change.name}**" for change in context.environments)
        + ".",
        "",
        "| environment | file | from | to |",
        "| --- | --- | --- | --- |",
    ]
    parts.extend(
        f"| {change.name} | `{change.path}` | "
        f"[`{change.old_tag[:7]}`]({repo_url}/commit/{change.old_tag}) | "
        f"[`{change.new_tag[:7]}`]({repo_url}/commit/{change.new_tag}) |"
        for change in context.environments
    )
    if context.superseded and context.superseded != context.candidate:
        parts += ["", f"Supersedes `{context.superseded[:7]}`, which this PR deployed before."]
    parts += ["", "### Changes", ""]
    parts += _changelog(context.changelog, context.changelog_limit)
    parts += ["", "### CI", ""]
    parts += [
        f"- [{inline(_run_name(run))}]({run.url}): {run.conclusion}" for run in context.passed_runs
    ] or ["- (no runs recorded)"]
    parts += ["", "### Diff", "", "```diff", context.diff.rstrip("\n"), "```"]
    if context.notes:
        parts += ["", "### Notes", ""]
        parts += [f"- {note}" for note in context.notes]
    parts += [
        "",
        f"Merge: {_merge_words(context.merge, context.merge_method)}. Argo CD syncs "
        + ", ".join(change.name for change in context.environments)
        + " automatically once this is on the default branch.",
        "",
        f"<!-- {PLAN_MARKER} {context.plan_json} -->",
    ]
    return "\n".join(parts) + "\n"


def _run_name(run: WorkflowRun) -> str:
    """A run's workflow as people know it: its name, else its file (GitHub may send an
    empty name)."""
    return run.name or run.path or "workflow"


def plan_candidate(body: str) -> str | None:
    """The candidate SHA recorded in a PR body's plan marker, if any."""
    return _plan_field(body, "candidate")


def plan_requester(body: str) -> str | None:
    """The login of whoever asked for a promotion or rollback, from its PR's plan marker."""
    return _plan_field(body, "requested_by")


def plan_environment(body: str) -> str | None:
    """The environment a command PR's plan marker names."""
    return _plan_field(body, "environment")


def plan_requester_id(body: str) -> int | None:
    """Their GitHub account id, which survives a rename of the login."""
    value = _plan_value(body, "requested_by_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _plan_field(body: str, name: str) -> str | None:
    value = _plan_value(body, name)
    return value if isinstance(value, str) else None


def _plan_value(body: str, name: str) -> object:
    # The bot writes one marker, last; a copy quoted earlier in the body does not count.
    matches = _PLAN_RE.findall(body)
    if not matches:
        return None
    try:
        data = json.loads(matches[-1])
    except ValueError:
        return None
    return data.get(name) if isinstance(data, dict) else None


def _changelog(comparison: Comparison | None, limit: int) -> list[str]:
    if comparison is None:
        return ["- (changelog unavailable)"]
    commits = comparison.commits
    # The compare API lists oldest first; reviewers read newest first.
    newest_first = list(reversed(commits))
    lines = [
        f"- [`{c.sha[:7]}`]({c.url}) {inline(c.headline)} ({inline(c.author, 40)})"
        for c in newest_first[:limit]
    ]
    hidden = comparison.ahead_by - len(lines)
    if hidden > 0:
        lines.append(f"- … and {hidden} more: [full comparison]({comparison.url})")
    else:
        lines.append(f"- [full comparison]({comparison.url})")
    return lines


def _merge_words(mode: str, method: str = "squash") -> str:
    return {
        "auto": f"GitHub auto-merge ({method}) once the required reviews and checks pass",
        "direct": f"merged ({method}) by the bot right away",
        "none": "left open for a person to review and merge",
    }.get(mode, mode)


def summary(outcome: Outcome, *, event_name: str, dry_run: bool) -> str:
    """The job's step summary: what happened, why, links and the diff."""
    title = {
        "merged": "Deployed",
        "auto-merge-enabled": "Auto-merge enabled",
        "opened": "Pull request opened",
        "updated": "Pull request updated",
        "noop": "Nothing to do",
        "waiting": "Waiting for CI",
        "blocked": "Blocked",
        "skipped": "Skipped",
        "refused": "Refused",
    }[outcome.result]
    prefix = "[dry run] " if dry_run else ""
    lines = [
        f"## ScoutFlow GitOps: {prefix}{title}",
        "",
        f"**Why:** {log_line(outcome.reason)}",
        "",
    ]
    rows = [("result", f"`{outcome.result}`"), ("event", f"`{event_name}`")]
    if outcome.image_tag:
        rows.append(("image tag", f"`{outcome.image_tag}`"))
    if outcome.environments:
        rows.append(("environments", ", ".join(outcome.environments)))
    if outcome.pr_url:
        rows.append(("pull request", f"[#{outcome.pr_number}]({outcome.pr_url})"))
    lines += ["| | |", "| --- | --- |"] + [f"| {key} | {value} |" for key, value in rows]
    if outcome.details:
        lines += ["", *[f"- {log_line(detail)}" for detail in outcome.details]]
    if outcome.diff:
        lines += ["", "```diff", outcome.diff.rstrip("\n"), "```"]
    return "\n".join(lines) + "\n"


def outcome_line(outcome: Outcome) -> str:
    """One line for the log: the result and its reason."""
    where = f" ({outcome.pr_url})" if outcome.pr_url else ""
    return log_line(f"{outcome.result}: {outcome.reason}{where}")


def escape_command_data(text: str) -> str:
    """A workflow command's message as the runner reads it: ``%``, CR and LF escaped, so
    outside text cannot end the command or start another one."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def annotation(level: str, title: str, text: str) -> str:
    """A workflow command (``::error``, ``::warning``, ``::notice``) with a title."""
    return f"::{level} title={title}::{escape_command_data(text)}"


def log_line(text: str) -> str:
    """Text for the job log on one line: a line break in outside text could otherwise start
    a line with `::` and be read by the runner as a workflow command."""
    return _CONTROL.sub(" ", text)


# -- commands: promotions, rollbacks, holds ------------------------------------------------------


@dataclass(frozen=True)
class CommandContext:
    kind: str
    env: str
    command_text: str
    request_user: str
    request_url: str
    request_via: str
    current: str | None
    candidate: str | None
    source_env: str | None
    source_period: TagPeriod | None
    now: datetime
    changelog: Comparison | None
    changelog_limit: int
    source_repository: str
    server_url: str
    diff: str
    holds: bool
    application: str | None
    # A rollback's CI, shown and never required: why the target is not all green, if it is not.
    ci_note: str | None = None
    # The requester's account id (``sender.id``), when the event gave one.
    request_user_id: int | None = None


def command_title(context: CommandContext) -> str:
    short = (context.candidate or "")[:7]
    if context.kind == "promote":
        return f"Promote {short} to {context.env}"
    if context.kind == "rollback":
        return f"Roll back {context.env} to {short}"
    return f"Release the hold on {context.env}"


def command_commit_body(context: CommandContext) -> str:
    lines = [
        f"Requested by @{context.request_user} with `{context.command_text}` "
        f"({context.request_url})."
    ]
    if context.candidate:
        lines.append(f"{context.env}: {context.current or '(none)'} -> {context.candidate}")
    if context.holds:
        lines.append(
            f"Puts {context.env} on hold: CI bumps leave it alone until `/release {context.env}`."
        )
    if context.kind == "release":
        lines.append(
            f"Lifts the hold on {context.env}: it follows CI again from the next green commit."
        )
    return "\n".join(lines)


def command_body(context: CommandContext) -> str:
    repo_url = f"{context.server_url}/{context.source_repository}"
    parts = [
        f"@{context.request_user} asked for this with "
        f"[`{context.command_text}`]({context.request_url}) ({context.request_via}).",
        "",
    ]
    if context.candidate:
        current = context.current or "(none)"
        parts += [
            "| environment | from | to |",
            "| --- | --- | --- |",
            f"| {context.env} | [`{current[:7]}`]({repo_url}/commit/{current}) | "
            f"[`{context.candidate[:7]}`]({repo_url}/commit/{context.candidate}) |",
            "",
        ]
    if context.source_env and context.candidate:
        parts += ["### Evidence from " + context.source_env, ""]
        period = context.source_period
        if period is None:
            parts.append(
                f"- {context.candidate[:7]} was not found in {context.source_env}'s history."
            )
        else:
            via = f" by [#{period.pr_number}]({period.pr_url})" if period.pr_number else ""
            end = period.until or context.now
            parts.append(f"- reached {context.source_env} {period.since:%Y-%m-%d %H:%M} UTC{via}")
            parts.append(
                f"- ran there for {_duration(end - period.since)}"
                + ("" if period.until else " (still running)")
            )
        parts.append("")
    if context.candidate:
        title = "Changes" if context.kind == "promote" else "Changes this takes back"
        parts += [f"### {title}", ""]
        parts += _changelog(context.changelog, context.changelog_limit)
        parts.append("")
    if context.kind == "rollback" and context.candidate:
        ci = inline(context.ci_note) if context.ci_note else "every required workflow passed"
        parts += [
            f"CI of `{context.candidate[:7]}`: {ci} (shown only: a rollback returns to an image "
            f"{context.env} ran before).",
            "",
        ]
    parts += ["### Diff", "", "```diff", context.diff.rstrip("\n"), "```", ""]
    if context.holds:
        parts += [
            f"**Hold:** this also puts {context.env} on hold (`.github/holds/{context.env}.yml`):",
            f"CI bumps leave it alone until someone comments `/release {context.env}`.",
            "",
        ]
    if context.kind == "release":
        parts += [f"{context.env} follows CI again once this is merged.", ""]
    if context.kind == "promote" and context.current:
        parts += [
            f"**Rollback:** comment `/rollback {context.env} {context.current}` to return to "
            f"`{context.current[:7]}`.",
            "",
        ]
    if context.application:
        parts += [
            f"**{context.env} syncs by hand:** after merging, review the diff in Argo CD and run",
            f"`argocd app sync {context.application}`.",
            "",
            "The bot never merges this PR: a reviewer other than "
            f"@{context.request_user} must approve and merge it.",
            "",
        ]
    # Who asked, for the merge-time four-eyes check: it trusts this only while the bot is the
    # last to have written the body (GitHub records the editor).
    plan = {
        "kind": context.kind,
        "environment": context.env,
        "candidate": context.candidate,
        "requested_by": context.request_user,
        "requested_by_id": context.request_user_id,
    }
    parts.append(f"<!-- {PLAN_MARKER} {json.dumps(plan, sort_keys=True)} -->")
    return "\n".join(parts) + "\n"


def hold_file(env: str, user: str, url: str, tag: str | None) -> bytes:
    """The marker that keeps the CI bump away from an environment; data only, no code."""
    lines = [
        f"# {env} is on hold: the CI bump leaves it alone while this file exists.",
        f"# Comment `/release {env}` to lift the hold (a PR that deletes this file).",
        f"environment: {env}",
        # JSON strings are YAML double-quoted scalars: no value can break out of its line.
        f"held_by: {json.dumps(user)}",
        f"requested: {json.dumps(url)}",
    ]
    if tag is not None:
        lines.append(f"image_tag: {json.dumps(tag)}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def quarantine_file(sha: str, env: str, user: str, url: str) -> bytes:
    """The record that keeps a SHA an environment was rolled back from out of every
    environment; data only, no code."""
    lines = [
        f"# {sha[:7]} is quarantined: the CI bump never deploys it and `/promote` never",
        f"# proposes it while this file exists. `/unquarantine {sha}` lifts it.",
        f"sha: {json.dumps(sha)}",
        f"rolled_back_from_in: {json.dumps(env)}",
        f"by: {json.dumps(user)}",
        f"requested: {json.dumps(url)}",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def refusal_reply(command_text: str, gate: str, reason: str, fix: str) -> str:
    return (
        f"`{command_text}` was refused by the **{gate}** gate: {reason}.\n\n"
        f"To go ahead: {fix}.\n\nNothing was changed."
    )


def refusals_reply(command_text: str, refusals: Sequence[tuple[str, str, str]]) -> str:
    """Several gates refused (gate, reason, fix): each is listed, and all must be met."""
    lines = [f"`{command_text}` was refused by {len(refusals)} gates; all must pass:", ""]
    lines += [f"- **{gate}**: {reason}. To go ahead: {fix}." for gate, reason, fix in refusals]
    return "\n".join([*lines, "", "Nothing was changed."])


def quarantined_comment(sha: str, number: int | None, url: str | None) -> str:
    """Why the bot closed a promotion PR: what it promotes was just rolled back from."""
    where = f" by #{number}" + (f" ({url})" if url else "") if number else ""
    return (
        f"Closed: `{sha[:7]}` was rolled back from{where} and is quarantined, so it is not "
        f"promoted. If it turns out fine, `/unquarantine {sha}` and ask again."
    )


def superseded_comment(number: int, url: str | None, candidate: str) -> str:
    """Why the bot closed a promotion PR: another SHA's promotion replaced it."""
    return (
        f"Superseded by #{number}, which promotes `{candidate[:7]}` instead. Closed so that no "
        "review given here merges another SHA; review the new PR" + (f": {url}" if url else ".")
    )


def withdrawn_comment(base_branch: str, read_oid: str, why: str) -> str:
    """Why the bot closed a PR it had just opened: it was planned on a state that changed."""
    return (
        f"Closed by the run that opened it: {why} while it was opening this PR, planned on "
        f"`{base_branch}` at `{read_oid[:7]}`. The run reads `{base_branch}` again and decides "
        "afresh; nothing here was deployed."
    )


def error_reply(message: str, hint: str) -> str:
    text = f"I could not act on that command: {message}."
    return text + (f"\n\n{hint[:1].upper()}{hint[1:]}." if hint else "")


def done_reply(outcome: Outcome, command_text: str, application: str | None) -> str:
    lines = [f"`{command_text}`: {outcome.reason}.", "", f"Pull request: {outcome.pr_url}"]
    if application:
        lines += ["", f"Once it is merged, sync it by hand: `argocd app sync {application}`."]
    return "\n".join(lines)


def help_reply(
    permission: str,
    gated: Sequence[tuple[str, str, int]],
    envs: Sequence[str],
    rollback_permission: str | None = None,
) -> str:
    lines = [
        "ScoutFlow GitOps commands (first line of a comment, one command per comment):",
        "",
    ]
    for env, source, minutes in gated:
        lines.append(
            f"- `/promote {env} [sha]`: open a PR that moves {env} to what {source} runs now "
            f"(or to a SHA {source} ran), after at least {minutes} minutes in {source}, "
            "with CI green."
        )
    lines += [
        "- `/rollback <env> [sha]`: back to the previous image (or a SHA it ran before); "
        "an environment that follows CI is also put on hold.",
        "- `/release <env>`: lift the hold, so the environment follows CI again.",
        "- `/quarantine <sha>`: keep a SHA out of every environment (a rollback does this for "
        "what it rolls back from); `/unquarantine <sha>` lets it be deployed again.",
        "- `/promote help`: this message.",
        "",
        f"Environments: {', '.join(envs)}. Who may use them: anyone with the **{permission}** "
        "role or higher on this repository"
        + (
            f"; rolling a gated environment back and quarantines need **{rollback_permission}**."
            if rollback_permission and rollback_permission != permission
            else "."
        ),
    ]
    return "\n".join(lines)


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"
