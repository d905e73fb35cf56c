"""GitHub event payloads, parsed into the few typed fields the bot acts on.

The parser is strict about what it reads and ignores everything else: a payload with a missing
or mistyped field it needs is a ``UserError``, never a ``KeyError`` deep inside a decision.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from scoutflow_gitops.errors import UserError

# \Z, not $: "$" also matches before a trailing newline, which would let "sha\n" through.
SHA_RE = re.compile(r"\A[0-9a-f]{40}\Z")
LOGIN_RE = re.compile(r"\A[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?\Z")
URL_RE = re.compile(r"\Ahttps?://[^\s\"'<>\\`]{1,500}\Z")
# Control characters never belong in a name, branch, status or login; a newline in one could
# forge a workflow command in the log or a line in a commit message.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# GitHub names a merge queue group's branch after the PR it tests (the `merge_group` event's
# `head_ref`): gh-readonly-queue/<base branch>/pr-<number>-<head sha>.
_QUEUE_REF_RE = re.compile(r"\A(?:refs/heads/)?gh-readonly-queue/.+/pr-(\d+)-[0-9a-f]{40}\Z")
# Larger payloads than this are not something GitHub sends for these events.
MAX_PAYLOAD_BYTES = 2 * 1024 * 1024

T = TypeVar("T")


@dataclass(frozen=True)
class WorkflowRunEvent:
    action: str
    # The display name (may be empty: GitHub's own example has `"name": ""`); the file in
    # `workflow_path` is what says which workflow ran.
    workflow: str
    workflow_path: str
    workflow_id: int | None
    run_id: int
    run_url: str
    head_sha: str
    head_branch: str | None
    event: str
    status: str
    conclusion: str | None
    repository: str
    repository_id: int
    head_repository: str | None
    head_repository_id: int | None


@dataclass(frozen=True)
class CommentEvent:
    action: str
    body: str
    comment_id: int
    comment_url: str
    issue_number: int
    author: str
    author_is_bot: bool
    sender: str
    repository: str
    sender_id: int | None = None


@dataclass(frozen=True)
class DispatchEvent:
    inputs: Mapping[str, str]
    ref: str
    actor: str
    repository: str
    actor_id: int | None = None


Event = WorkflowRunEvent | CommentEvent | DispatchEvent
SUPPORTED_EVENTS = ("workflow_run", "issue_comment", "workflow_dispatch")


def load_payload(path: str) -> Mapping[str, Any]:
    """Read the event payload file the runner wrote (``GITHUB_EVENT_PATH``)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_PAYLOAD_BYTES + 1)
    except OSError as exc:
        raise UserError(
            f"cannot read the event payload {path}: {exc.strerror}",
            "GITHUB_EVENT_PATH must name the JSON file the runner wrote",
        ) from None
    return parse_payload_bytes(raw, path)


def parse_payload_bytes(raw: bytes, path: str = "event payload") -> Mapping[str, Any]:
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise UserError(f"{path} is larger than {MAX_PAYLOAD_BYTES // (1024 * 1024)} MiB")
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"{path} is not valid JSON: {exc}") from None
    except RecursionError:
        raise UserError(f"{path} is not valid JSON for an event: nested too deeply") from None
    if not isinstance(payload, dict):
        raise UserError(f"{path} is not a JSON object")
    return payload


def parse_event(name: str, payload: Mapping[str, Any]) -> Event:
    """Turn ``GITHUB_EVENT_NAME`` and its payload into a typed event."""
    if name == "workflow_run":
        return _workflow_run(payload)
    if name == "issue_comment":
        return _comment(payload)
    if name == "workflow_dispatch":
        return _dispatch(payload)
    raise UserError(
        f"event {name!r} is not handled",
        f"run the action on one of: {', '.join(SUPPORTED_EVENTS)}",
    )


def _workflow_run(payload: Mapping[str, Any]) -> WorkflowRunEvent:
    run = _field(payload, "workflow_run", dict)
    repo = _field(run, "repository", dict, "workflow_run.")
    head_repo = run.get("head_repository")
    if head_repo is not None and not isinstance(head_repo, dict):
        raise UserError("workflow_run.head_repository is not an object")
    head_sha = _field(run, "head_sha", str, "workflow_run.")
    if not SHA_RE.match(head_sha):
        raise UserError(f"workflow_run.head_sha {head_sha[:80]!r} is not a 40-hex commit SHA")
    workflow = payload.get("workflow")
    if workflow is not None and not isinstance(workflow, dict):
        raise UserError("workflow is not an object")
    workflow = workflow or {}
    # The run's own fields first; GitHub's examples also carry them in the `workflow` object
    # (one of them has no `workflow_run.path` at all).
    path = _optional(run, "path", str, "workflow_run.") or _optional(
        workflow, "path", str, "workflow."
    )
    if not path:
        raise UserError("event payload has no workflow_run.path (the workflow's file)")
    workflow_id = _optional(run, "workflow_id", int, "workflow_run.")
    return WorkflowRunEvent(
        action=_field(payload, "action", str),
        workflow=_optional(run, "name", str, "workflow_run.")
        or _optional(workflow, "name", str, "workflow.")
        or "",
        workflow_path=path,
        workflow_id=workflow_id
        if workflow_id is not None
        else _optional(workflow, "id", int, "workflow."),
        run_id=_field(run, "id", int, "workflow_run."),
        run_url=_field(run, "html_url", str, "workflow_run."),
        head_sha=head_sha,
        head_branch=_optional(run, "head_branch", str, "workflow_run."),
        event=_field(run, "event", str, "workflow_run."),
        status=_field(run, "status", str, "workflow_run."),
        conclusion=_optional(run, "conclusion", str, "workflow_run."),
        repository=_field(repo, "full_name", str, "workflow_run.repository."),
        repository_id=_field(repo, "id", int, "workflow_run.repository."),
        head_repository=None
        if head_repo is None
        else _field(head_repo, "full_name", str, "workflow_run.head_repository."),
        head_repository_id=None
        if head_repo is None
        else _field(head_repo, "id", int, "workflow_run.head_repository."),
    )


def _comment(payload: Mapping[str, Any]) -> CommentEvent:
    comment = _field(payload, "comment", dict)
    user = _field(comment, "user", dict, "comment.")
    issue = _field(payload, "issue", dict)
    return CommentEvent(
        action=_field(payload, "action", str),
        body=_field(comment, "body", str, "comment."),
        comment_id=_field(comment, "id", int, "comment."),
        comment_url=_url(_field(comment, "html_url", str, "comment."), "comment.html_url"),
        issue_number=_field(issue, "number", int, "issue."),
        author=_login(_field(user, "login", str, "comment.user."), "comment.user.login"),
        author_is_bot=_field(user, "type", str, "comment.user.") == "Bot",
        sender=_login(
            _field(_field(payload, "sender", dict), "login", str, "sender."), "sender.login"
        ),
        repository=_field(_field(payload, "repository", dict), "full_name", str, "repository."),
        sender_id=_optional(_field(payload, "sender", dict), "id", int, "sender."),
    )


def _dispatch(payload: Mapping[str, Any]) -> DispatchEvent:
    raw_inputs = payload.get("inputs") or {}
    if not isinstance(raw_inputs, dict):
        raise UserError("workflow_dispatch inputs is not an object")
    inputs: dict[str, str] = {}
    for key, value in raw_inputs.items():
        if not isinstance(value, str | bool | int):
            raise UserError(f"workflow_dispatch input {str(key)[:40]!r} is not a plain value")
        inputs[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
    return DispatchEvent(
        inputs=inputs,
        ref=_field(payload, "ref", str),
        actor=_login(
            _field(_field(payload, "sender", dict), "login", str, "sender."), "sender.login"
        ),
        repository=_field(_field(payload, "repository", dict), "full_name", str, "repository."),
        actor_id=_optional(_field(payload, "sender", dict), "id", int, "sender."),
    )


def _field(data: Mapping[str, Any], key: str, kind: type[T], prefix: str = "") -> T:
    if key not in data:
        raise UserError(f"event payload has no {prefix}{key}")
    return _typed(data[key], kind, prefix + key)


def _optional(data: Mapping[str, Any], key: str, kind: type[T], prefix: str = "") -> T | None:
    value = data.get(key)
    return None if value is None else _typed(value, kind, prefix + key)


def _typed(value: Any, kind: type[T], name: str) -> T:
    # bool is an int in Python; an id of `true` is still a malformed payload.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise UserError(f"event payload field {name} is not a {kind.__name__}")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise UserError(f"event payload field {name} is not valid Unicode text") from None
        # Only free text (a comment's body) may span lines.
        if not name.endswith("body") and _CONTROL_RE.search(value):
            raise UserError(f"event payload field {name} holds a control character")
    return value


def _login(value: str, name: str) -> str:
    if not LOGIN_RE.match(value):
        raise UserError(f"event payload field {name} is not a GitHub login")
    return value


def _url(value: str, name: str) -> str:
    if not URL_RE.match(value):
        raise UserError(f"event payload field {name} is not a plain http(s) URL")
    return value


def queued_pull_number(head_ref: str) -> int | None:
    """The PR a merge queue group tests, from its branch name; ``None`` for any other name."""
    match = _QUEUE_REF_RE.match(head_ref)
    return int(match.group(1)) if match else None


def bot_key(login: str) -> str:
    """An App's bot login as one key: REST and webhooks spell it ``name[bot]``, GraphQL ``name``
    (its ``Bot`` type says what it is). Compare only logins already known to be of bots."""
    return login.strip().lower().removesuffix("[bot]")
