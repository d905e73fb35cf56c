"""``scoutflow-gitops four-eyes``: the merge-time check that a second person approved prod.

Run by a workflow on ``pull_request``, ``pull_request_review`` and ``merge_group``, from the
base branch's code, in a checkout of what would merge. One read (the PR's facts, only when it
moves a gated environment), one pure decision (``approval.decide``), one write: a commit
status of context ``scoutflow-gitops/four-eyes`` on the head. A status and not the job's own
result, because GitHub takes the latest status of each context, so the verdict given on an
approval replaces the one given when the PR opened; a failed job from an earlier run would
stay red beside the later green one.

Which environments are gated, and what the PR moves, come from the base branch's config and
the local checkout (``guard.plan``), never from the PR's claims. Who asked and who approved
come from what GitHub recorded. Anything that goes wrong sets the status to ``error`` (best
effort) and fails the job: a verdict is never left standing on a check that did not finish.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scoutflow_gitops import approval, gitlog, guard, messages
from scoutflow_gitops.errors import UserError
from scoutflow_gitops.events import queued_pull_number

if TYPE_CHECKING:
    from scoutflow_gitops.github import GitHubHost

CONTEXT = "scoutflow-gitops/four-eyes"


@dataclass(frozen=True)
class Target:
    """What to judge: a PR, the base to compare with, the revision that would merge, and the
    commit the verdict is reported on (``None``: the PR's head as GitHub reads it)."""

    number: int
    base: str
    head: str
    status_sha: str | None


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "four-eyes",
        help="report whether a PR that moves a gated environment has a second person's approval",
        description=(
            "Set the scoutflow-gitops/four-eyes commit status: success when the PR moves no "
            "gated environment, or when someone other than its requester approved its head."
        ),
    )
    parser.add_argument("--repo", type=Path, default=Path("."), help="repository root (.)")
    parser.add_argument(
        "--event-path",
        default=os.environ.get("GITHUB_EVENT_PATH", ""),
        help="the pull_request, pull_request_review or merge_group payload (GITHUB_EVENT_PATH)",
    )
    parser.add_argument(
        "--bot-login",
        default=os.environ.get(guard.BOT_LOGIN_VARIABLE, ""),
        help=f"the bot App's login, e.g. scoutflow-gitops[bot] ({guard.BOT_LOGIN_VARIABLE})",
    )
    parser.set_defaults(handler=_handle)


def read_target(payload: dict[str, Any]) -> Target:
    """The PR and revisions an event names; a ``UserError`` for any other event."""
    pull = payload.get("pull_request")
    if isinstance(pull, dict):
        try:
            return Target(int(pull["number"]), str(pull["base"]["sha"]), "HEAD", None)
        except (KeyError, TypeError, ValueError):
            raise UserError("the pull_request in the event payload has no number or base") from None
    group = payload.get("merge_group")
    if isinstance(group, dict):
        number = queued_pull_number(str(group.get("head_ref", "")))
        if number is None:
            raise UserError(
                f"cannot tell which PR the merge group {group.get('head_ref')!r} holds",
                "GitHub names merge group branches gh-readonly-queue/<base>/pr-<number>-<sha>",
            )
        head = str(group.get("head_sha", ""))
        return Target(number, str(group.get("base_sha", "")), head, head)
    raise UserError(
        "four-eyes runs on pull_request, pull_request_review or merge_group events",
        "add those triggers to the workflow that runs it",
    )


def gated_moves(repo: Path, target: Target, now: datetime) -> tuple[str, ...]:
    """The gated environments (under the base's config or the PR's) the PR changes: their
    image tag, or any byte of their values file or Application (a registry, a replica count
    and a sync policy reach prod as surely as a tag does)."""
    found = guard.plan(repo, target.base, target.head, None, "", now)
    configs = [
        config
        for config in (
            guard.trusted_config(repo, target.base),
            guard.head_config(repo, target.head),
        )
        if config is not None
    ]
    # Both configs' wiring: a PR that points prod at another file is judged by either.
    gated = [env for config in configs for env in config.environments if env.gate is not None]
    names = {env.name for env in gated}
    changed = [move.env for move in found.moves if move.env in names]
    for env in gated:
        files = [env.values_file, *([env.application] if env.application else [])]
        if any(
            gitlog.read_at(repo, target.base, path) != gitlog.read_at(repo, target.head, path)
            for path in files
        ):
            changed.append(env.name)
    return tuple(dict.fromkeys(changed))


def _handle(args: argparse.Namespace) -> int:
    from scoutflow_gitops.github import GitHubHost, connect

    annotate = os.environ.get("GITHUB_ACTIONS") == "true"
    repository = os.environ.get("GITHUB_REPOSITORY", "").strip()
    token = os.environ.get("GITHUB_TOKEN", "").strip()
    if not repository or not token:
        raise UserError(
            "four-eyes needs GITHUB_REPOSITORY and GITHUB_TOKEN",
            "run it in a workflow job with `statuses: write` and `pull-requests: read`",
        )
    payload = _payload(args.event_path)
    target = read_target(payload)
    off_default = _off_default_branch(payload)
    if off_default is not None:
        # A status belongs to a commit, not to a PR: judged against another base, a PR that
        # shares the head of a prod PR would set that PR's verdict. Nothing is set.
        print(messages.log_line(f"four-eyes: {off_default}; no status set"), file=sys.stderr)
        return 0
    api_url = os.environ.get("GITHUB_API_URL", "https://api.github.com")
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
    run_id = os.environ.get("GITHUB_RUN_ID", "")
    run_url = f"{server}/{repository}/actions/runs/{run_id}" if run_id else ""
    host = GitHubHost(connect(api_url=api_url, token=token, repository=repository), server)
    status_sha = target.status_sha or _event_head(payload)
    try:
        _check_checkout(args.repo, target, status_sha)
        gated = gated_moves(args.repo, target, datetime.now(UTC))
        if not gated:
            verdict = approval.no_gated_move()
        else:
            facts = host.read_pull_facts(repository, target.number)
            if facts is None:
                raise UserError(f"{repository} has no PR #{target.number}")
            if status_sha and not target.status_sha:
                # The head the event names is the one checked out and judged: GitHub's
                # ``headRefOid`` can still lag a push, and approvals must be for this head.
                facts = replace(facts, head_oid=status_sha)
            verdict = approval.decide(facts, args.bot_login)
            status_sha = target.status_sha or facts.head_oid
            verdict = _for(gated, verdict)
        host.set_status(
            repository,
            status_sha,
            "success" if verdict.approved else "failure",
            CONTEXT,
            verdict.summary,
            run_url,
        )
    except Exception as exc:
        # Whatever failed, the verdict that stood on this head is replaced, then the job fails.
        if status_sha:
            message = exc.message if isinstance(exc, UserError) else type(exc).__name__
            _report_error(host, repository, status_sha, message, run_url)
        raise
    _print(verdict, target.number, annotate)
    return 0


def _off_default_branch(payload: dict[str, Any]) -> str | None:
    """Why a PR event is not judged: its base is not the repository's default branch (both
    from the payload GitHub wrote). Merge groups always are: GitHub forms them for the
    protected branch."""
    pull = payload.get("pull_request")
    if not isinstance(pull, dict):
        return None
    base = str((pull.get("base") or {}).get("ref", ""))
    default = str((payload.get("repository") or {}).get("default_branch", ""))
    if base and default and base == default:
        return None
    return f"PR #{pull.get('number')} targets {base or 'an unknown base'}, not {default or '?'}"


def _check_checkout(repo: Path, target: Target, head: str) -> None:
    """What is checked out must be what the status will be set on: the head itself, or the
    merge of it GitHub built (whose second parent is the head); GitHub's merge ref can lag a
    push, and a stale one would be judged in the head's name."""
    if not head:
        raise UserError("the event names no head commit to judge")
    local = gitlog.rev_parse(repo, target.head)
    second = gitlog.rev_parse(repo, f"{target.head}^2")
    if head not in (local, second):
        raise UserError(
            f"the checkout ({(local or '?')[:7]}) is not {head[:7]} nor a merge of it",
            "re-run the job once GitHub has updated the PR's merge commit",
        )


def _for(gated: tuple[str, ...], verdict: approval.Verdict) -> approval.Verdict:
    """The verdict with the gated environments named, as the status shows it."""
    names = ", ".join(gated)
    return approval.Verdict(verdict.approved, f"{names}: {verdict.summary}", verdict.details)


def _payload(event_path: str) -> dict[str, Any]:
    if not event_path:
        raise UserError("no event payload: set GITHUB_EVENT_PATH or pass --event-path")
    try:
        data = json.loads(Path(event_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read the event payload {event_path}: {exc}") from None
    if not isinstance(data, dict):
        raise UserError(f"the event payload {event_path} is not a JSON object")
    return data


def _event_head(payload: dict[str, Any]) -> str:
    head = ((payload.get("pull_request") or {}).get("head") or {}).get("sha")
    return head if isinstance(head, str) else ""


def _report_error(host: GitHubHost, repository: str, sha: str, message: str, url: str) -> None:
    """Best effort: replace whatever verdict stood with ``error``; a failure here is already
    the job's failure, reported by the caller."""
    with contextlib.suppress(UserError):
        host.set_status(repository, sha, "error", CONTEXT, f"check failed: {message}", url)


def _print(verdict: approval.Verdict, number: int, annotate: bool) -> None:
    word = "approved" if verdict.approved else "not approved"
    print(messages.log_line(f"four-eyes: PR #{number} {word}: {verdict.summary}"), file=sys.stderr)
    for line in verdict.details:
        print(messages.log_line(f"four-eyes:   {line}"), file=sys.stderr)
    if annotate and not verdict.approved:
        print(messages.annotation("warning", "scoutflow-gitops four-eyes", verdict.summary))
