"""The event parser reads what the bot acts on and refuses malformed payloads cleanly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scoutflow_gitops.errors import UserError
from scoutflow_gitops.events import (
    CommentEvent,
    DispatchEvent,
    WorkflowRunEvent,
    parse_event,
    parse_payload_bytes,
)
from tests.unit.payloads import examples, workflow_run


@pytest.mark.parametrize("index", range(5))
def test_every_real_workflow_run_example_parses(index: int) -> None:
    payload = examples("workflow_run")[index]
    event = parse_event("workflow_run", payload)
    assert isinstance(event, WorkflowRunEvent)
    assert event.head_sha == payload["workflow_run"]["head_sha"]
    assert event.conclusion == payload["workflow_run"]["conclusion"]


@pytest.mark.parametrize("index", range(9))
def test_every_real_issue_comment_example_parses(index: int) -> None:
    payload = examples("issue_comment")[index]
    event = parse_event("issue_comment", payload)
    assert isinstance(event, CommentEvent)
    assert event.action == payload["action"]
    assert event.author == payload["comment"]["user"]["login"]


def test_real_workflow_dispatch_examples_parse() -> None:
    for payload in examples("workflow_dispatch"):
        assert isinstance(parse_event("workflow_dispatch", payload), DispatchEvent)


def _without(path: str) -> dict[str, Any]:
    payload = workflow_run()
    *parents, last = path.split(".")
    node = payload
    for part in parents:
        node = node[part]
    del node[last]
    return payload


def _with(path: str, value: object) -> dict[str, Any]:
    payload = workflow_run()
    *parents, last = path.split(".")
    node = payload
    for part in parents:
        node = node[part]
    node[last] = value
    return payload


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (_without("workflow_run"), "no workflow_run"),
        (_without("workflow_run.head_sha"), "no workflow_run.head_sha"),
        (_with("workflow_run.head_sha", "abc123"), "not a 40-hex"),
        (_with("workflow_run.head_sha", "A" * 40), "not a 40-hex"),
        (_with("workflow_run.head_sha", "g" * 40), "not a 40-hex"),
        (_with("workflow_run.head_sha", 12345), "not a str"),
        (_with("workflow_run.id", "12"), "workflow_run.id is not a int"),
        (_with("workflow_run.id", True), "workflow_run.id is not a int"),
        (_with("workflow_run.repository", []), "workflow_run.repository is not a dict"),
        (_with("workflow_run.head_repository", "fork"), "head_repository is not an object"),
        (_without("workflow_run.repository.full_name"), "no workflow_run.repository.full_name"),
        (_with("action", None), "action is not a str"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_malformed_workflow_run_is_a_user_error(payload: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_event("workflow_run", payload)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "not valid JSON"),
        (b'{"workflow_run": ', "not valid JSON"),
        (b"[]", "not a JSON object"),
        (b"\xff\xfe", "not valid JSON"),
        (b" " * (3 * 1024 * 1024), "larger than"),
    ],
)
def test_unreadable_payloads_are_refused(raw: bytes, message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_payload_bytes(raw)


def test_unknown_event_names_the_supported_ones() -> None:
    with pytest.raises(UserError, match="'push' is not handled") as info:
        parse_event("push", json.loads("{}"))
    assert "workflow_run" in info.value.hint
