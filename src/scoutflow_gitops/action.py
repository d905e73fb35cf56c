"""``scoutflow-gitops run``: the container action's entrypoint.

Reads the inputs the runner passes (``INPUT_*``), the event (``GITHUB_EVENT_NAME`` and
``GITHUB_EVENT_PATH``), runs the bot and reports where people look: the outputs, the step
summary, one log line, and an ``::error::`` annotation with a hint when something is wrong.
Secrets are masked before anything could echo them.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from scoutflow_gitops import merging, messages
from scoutflow_gitops.apply import Waiting
from scoutflow_gitops.bot import (
    Settings,
    handle_comment,
    handle_dispatch,
    handle_workflow_run,
    prescreen_comment,
)
from scoutflow_gitops.bump import prescreen
from scoutflow_gitops.config import DEFAULT_CONFIG_PATH
from scoutflow_gitops.errors import UserError
from scoutflow_gitops.events import (
    CommentEvent,
    DispatchEvent,
    WorkflowRunEvent,
    load_payload,
    parse_event,
)
from scoutflow_gitops.model import Outcome
from scoutflow_gitops.port import ConflictError
from scoutflow_gitops.retry import Retrier, RetryPolicy

# \Z, not $: "$" also matches before a trailing newline.
_REPO_RE = re.compile(r"\A[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}\Z")
_PATH_RE = re.compile(r"\A(?!/)(?!.*(?:^|/)\.\.(?:/|\Z))[A-Za-z0-9._/-]{1,400}\Z")
_URL_RE = re.compile(r"\Ahttps?://[^\s/]+(/\S*)?\Z")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no", ""}


@dataclass(frozen=True)
class Inputs:
    token: str | None
    app_id: str | None
    private_key: str | None
    gitops_repository: str
    config_path: str
    api_url: str
    server_url: str
    dry_run: bool
    event_name: str
    event_path: str
    # Seconds between writes (GitHub's advice against secondary rate limits); 0 turns pacing
    # off, e.g. against the local simulator.
    write_interval: float | None
    retry: RetryPolicy
    # Seconds before the first look at a new PR's mergeability (GitHub computes it in the
    # background); later looks back off from there.
    merge_poll: float
    # Who started this attempt of the run (GITHUB_TRIGGERING_ACTOR) and which attempt it is
    # (GITHUB_RUN_ATTEMPT): a re-run replays the original payload, sender included.
    triggering_actor: str = ""
    run_attempt: int = 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the bot for the current GitHub event (the container action's entrypoint)",
        description="Handle the event in GITHUB_EVENT_NAME / GITHUB_EVENT_PATH. Inputs come "
        "from INPUT_* variables as the Actions runner sets them; credentials are read only "
        "from the environment (INPUT_TOKEN, or INPUT_APP_ID and INPUT_PRIVATE_KEY).",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    return run(os.environ, dry_run_flag=bool(args.dry_run))


def run(env: Mapping[str, str], *, dry_run_flag: bool = False, out: TextIO | None = None) -> int:
    stream = out or sys.stdout
    in_actions = env.get("GITHUB_ACTIONS") == "true"
    _mask_secrets(env, stream, in_actions)
    event_name = env.get("GITHUB_EVENT_NAME", "")
    try:
        inputs = read_inputs(env, dry_run_flag)
        outcome = _dispatch(inputs, stream, in_actions)
    except UserError as exc:
        _report_error(exc, env, stream, event_name)
        return 1
    except ConflictError as exc:
        # A race outside the loops that read again (GraphQL STALE_DATA on a first read): GitHub
        # answered, so it is one clear, retryable error, not a traceback.
        lost = UserError(
            f"GitHub's data changed while the bot read it: {exc}",
            "re-run the job; the next run starts from what GitHub has now",
        )
        _report_error(lost, env, stream, event_name)
        return 1
    _report(outcome, inputs, env, stream)
    return 0


def read_inputs(env: Mapping[str, str], dry_run_flag: bool = False) -> Inputs:
    """The action's inputs, checked: the runner passes them through unvalidated."""

    def value(name: str) -> str:
        return env.get(f"INPUT_{name.upper()}", "").strip()

    repository = value("gitops_repository") or env.get("GITHUB_REPOSITORY", "")
    if not _REPO_RE.match(repository):
        raise UserError(
            f"gitops_repository {repository[:100]!r} is not an owner/name repository",
            "set the gitops_repository input, e.g. omerbh7/scoutflow-gitops",
        )
    config_path = value("config_path") or DEFAULT_CONFIG_PATH
    if not _PATH_RE.match(config_path):
        raise UserError(
            f"config_path {config_path[:100]!r} must be a relative path inside the repository",
            f"use the default {DEFAULT_CONFIG_PATH}",
        )
    api_url = (value("api_url") or env.get("GITHUB_API_URL") or "https://api.github.com").rstrip(
        "/"
    )
    if not _URL_RE.match(api_url):
        raise UserError(f"api_url {api_url[:100]!r} is not an http(s) URL")
    dry_run_text = value("dry_run").lower()
    if dry_run_text not in _TRUE | _FALSE:
        raise UserError(f"dry_run must be true or false, not {dry_run_text[:20]!r}")
    app_id = value("app_id") or None
    if app_id is not None and not app_id.isdigit():
        raise UserError("app_id must be the GitHub App's numeric id")
    token = value("token") or None
    if token is not None and re.search(r"[\s\x00-\x1f\x7f]", token):
        raise UserError(
            "the token input holds a space or a line break",
            "pass the token alone, e.g. token: ${{ secrets.NAME }}",
        )
    private_key = value("private_key") or None
    if token and (app_id or private_key):
        raise UserError("give either token or app_id + private_key, not both")
    if not token and bool(app_id) != bool(private_key):
        raise UserError("app_id and private_key go together")
    if not token and not app_id:
        raise UserError(
            "no credentials: the token input is empty",
            "pass a token (GitHub App installation token) or app_id and private_key",
        )
    interval = _seconds(env, "SCOUTFLOW_GITOPS_WRITE_INTERVAL", 1.0)
    retry = RetryPolicy(
        base_seconds=_seconds(env, "SCOUTFLOW_GITOPS_RETRY_BASE_SECONDS", 1.0),
        deadline_seconds=_seconds(env, "SCOUTFLOW_GITOPS_DEADLINE_SECONDS", 300.0),
    )
    event_path = env.get("GITHUB_EVENT_PATH", "")
    if not event_path:
        raise UserError("GITHUB_EVENT_PATH is not set", "run the bot from a GitHub workflow")
    return Inputs(
        token=token,
        app_id=app_id,
        private_key=private_key,
        gitops_repository=repository,
        config_path=config_path,
        api_url=api_url,
        server_url=(env.get("GITHUB_SERVER_URL") or _server_from_api(api_url)).rstrip("/"),
        dry_run=dry_run_flag or dry_run_text in _TRUE,
        event_name=env.get("GITHUB_EVENT_NAME", ""),
        event_path=event_path,
        write_interval=interval if interval > 0 else None,
        retry=retry,
        merge_poll=_merge_poll(env),
        triggering_actor=env.get("GITHUB_TRIGGERING_ACTOR", "").strip(),
        run_attempt=_attempt(env),
    )


def _attempt(env: Mapping[str, str]) -> int:
    text = env.get("GITHUB_RUN_ATTEMPT", "").strip() or "1"
    if not text.isdigit() or int(text) < 1:
        raise UserError(f"GITHUB_RUN_ATTEMPT must be a positive number, not {text[:20]!r}")
    return int(text)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """A tuning knob in seconds: pacing of writes, retry backoff, the overall deadline."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{name} {text[:20]!r} is not a number of seconds") from None
    if not 0 <= value <= 3600:
        raise UserError(f"{name} must be between 0 and 3600 seconds, not {text[:20]}")
    return value


def _merge_poll(env: Mapping[str, str]) -> float:
    """The first wait for mergeability: longer than the whole wait's budget would mean the bot
    gives up before it ever looks again."""
    limit = merging.Policy().max_seconds / 4
    value = _seconds(env, "SCOUTFLOW_GITOPS_MERGE_POLL_SECONDS", 1.0)
    if value > limit:
        raise UserError(
            f"SCOUTFLOW_GITOPS_MERGE_POLL_SECONDS must be at most {limit:g} seconds, not {value:g}",
            "the bot waits at most a minute for GitHub's mergeability; leave the default of 1",
        )
    return value


def replayed_command(
    event: CommentEvent | DispatchEvent, attempt: int, triggering_actor: str
) -> Outcome | None:
    """A re-run of someone else's command: GitHub replays the original payload, so the command
    would act as, and be recorded as asked by, the person who gave it, and with their role
    ("Any workflow re-runs will use the privileges of github.actor", docs.github.com/en/
    actions/reference/workflows-and-actions/contexts#github-context, ``triggering_actor``)."""
    asked_by = event.sender if isinstance(event, CommentEvent) else event.actor
    if attempt == 1 or not triggering_actor or triggering_actor.lower() == asked_by.lower():
        return None
    return Outcome(
        result="skipped",
        reason=(
            f"attempt {attempt} of this run was started by @{triggering_actor}, but the command "
            f"is @{asked_by}'s: a command acts only for whoever gives it; give it again"
        ),
    )


def _server_from_api(api_url: str) -> str:
    if api_url == "https://api.github.com":
        return "https://github.com"
    return api_url.removesuffix("/api/v3")


def _dispatch(inputs: Inputs, out: TextIO, in_actions: bool) -> Outcome:
    event = parse_event(inputs.event_name, load_payload(inputs.event_path))
    early = (
        prescreen(event)
        if isinstance(event, WorkflowRunEvent)
        else prescreen_comment(event, inputs.gitops_repository)
        if isinstance(event, CommentEvent)
        else None
    )
    if early is None and isinstance(event, CommentEvent | DispatchEvent):
        early = replayed_command(event, inputs.run_attempt, inputs.triggering_actor)
    if early is not None:
        return early  # decided from the payload: no credentials used, no request made
    # Imported here so that input errors never pay for PyGithub's import.
    from scoutflow_gitops.github import GitHubHost, connect

    # With App credentials: a writer token for the GitOps repository now, a reader for the
    # config's source repository when a call first needs it; each masked as it is minted.
    connection = connect(
        api_url=inputs.api_url,
        token=inputs.token,
        app_id=inputs.app_id,
        private_key=inputs.private_key,
        repository=inputs.gitops_repository,
        on_token=lambda token: mask_token(token, out, in_actions),
        write_interval=inputs.write_interval,
    )
    host = GitHubHost(connection, inputs.server_url, Retrier(inputs.retry))
    settings = Settings(
        gitops_repository=inputs.gitops_repository,
        config_path=inputs.config_path,
        server_url=inputs.server_url,
        dry_run=inputs.dry_run,
        merge_wait=Waiting(
            policy=merging.Policy(
                first_wait=inputs.merge_poll,
                longest_wait=max(inputs.merge_poll, merging.Policy().longest_wait),
            )
        ),
    )
    if isinstance(event, WorkflowRunEvent):
        return handle_workflow_run(event, host, settings)
    if isinstance(event, CommentEvent):
        return handle_comment(event, host, settings)
    return handle_dispatch(event, host, settings)


def _mask_secrets(env: Mapping[str, str], out: TextIO, in_actions: bool) -> None:
    if not in_actions:
        return
    for name in ("INPUT_TOKEN", "INPUT_PRIVATE_KEY"):
        secret = env.get(name, "").strip()
        # A PEM key is masked line by line: the runner masks per line of log output.
        for line in secret.splitlines():
            if line.strip() and not line.startswith("-----"):
                print(f"::add-mask::{line.strip()}", file=out)


def mask_token(token: str, out: TextIO, in_actions: bool) -> None:
    """Mask a token minted at run time (GitHub App installation token)."""
    if in_actions and token:
        print(f"::add-mask::{token}", file=out)


def _report(outcome: Outcome, inputs: Inputs, env: Mapping[str, str], out: TextIO) -> None:
    print(messages.outcome_line(outcome), file=out)
    if outcome.diff and inputs.dry_run:
        print(outcome.diff, file=out, end="" if outcome.diff.endswith("\n") else "\n")
    for detail in outcome.details:
        print(f"  {messages.log_line(detail)}", file=out)
    if outcome.result == "refused" and env.get("GITHUB_ACTIONS") == "true":
        print(messages.annotation("warning", "scoutflow-gitops refused", outcome.reason), file=out)
    _write_outputs(
        env,
        {
            "result": outcome.result,
            "reason": outcome.reason,
            "pr_number": str(outcome.pr_number or ""),
            "pr_url": outcome.pr_url,
            "image_tag": outcome.image_tag,
            "environments": ",".join(outcome.environments),
        },
    )
    _append(
        env.get("GITHUB_STEP_SUMMARY"),
        messages.summary(outcome, event_name=inputs.event_name, dry_run=inputs.dry_run),
    )


def _report_error(exc: UserError, env: Mapping[str, str], out: TextIO, event_name: str) -> None:
    text = exc.message + (f" ({exc.hint})" if exc.hint else "")
    print(messages.annotation("error", "scoutflow-gitops", text), file=out)
    print(f"scoutflow-gitops: error: {messages.log_line(exc.message)}", file=sys.stderr)
    if exc.hint:
        print(f"hint: {messages.log_line(exc.hint)}", file=sys.stderr)
    _append(
        env.get("GITHUB_STEP_SUMMARY"),
        f"## ScoutFlow GitOps: error\n\n{exc.message}\n\n"
        + (f"**What to do:** {exc.hint}\n" if exc.hint else ""),
    )


def _write_outputs(env: Mapping[str, str], values: Mapping[str, str]) -> None:
    path = env.get("GITHUB_OUTPUT")
    if not path:
        return
    lines = []
    for key, val in values.items():
        # The multi-line form, with a delimiter no value can contain, cannot be injected into.
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
        lines.append(f"{key}<<{delimiter}\n{val}\n{delimiter}\n")
    _append(path, "".join(lines))


def _append(path: str | None, text: str) -> None:
    if not path:
        return
    # Text that cannot be encoded (a lone surrogate) is escaped, never a crash after the fact.
    with open(path, "a", encoding="utf-8", errors="backslashreplace") as handle:
        handle.write(text)
