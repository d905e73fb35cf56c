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


def test_a_workflow_run_carries_the_workflows_file_and_id_as_github_sends_them() -> None:
    """GitHub's `workflow_run` webhook examples (tests/fixtures/github/webhooks) carry the file
    in `workflow_run.path` and `workflow.path`, and one of them has `"name": ""`: the file and
    `workflow_run.workflow_id` are read, the name is display only."""
    payload = examples("workflow_run")[1]
    assert payload["workflow_run"]["name"] == ""
    event = parse_event("workflow_run", payload)
    assert isinstance(event, WorkflowRunEvent)
    assert event.workflow == "test"  # the `workflow` object names it when the run does not
    assert event.workflow_path == ".github/workflows/test.yml"
    assert event.workflow_id == payload["workflow_run"]["workflow_id"] == 2823525


def test_a_run_without_its_own_path_takes_the_workflow_objects() -> None:
    """GitHub's first `workflow_run` example has no `workflow_run.path`, only `workflow.path`."""
    payload = examples("workflow_run")[0]
    assert "path" not in payload["workflow_run"]
    event = parse_event("workflow_run", payload)
    assert isinstance(event, WorkflowRunEvent)
    assert event.workflow_path == payload["workflow"]["path"] == ".github/workflows/syntax.yml"
    assert event.workflow_id == payload["workflow"]["id"]


def test_a_run_without_any_path_is_refused() -> None:
    payload = workflow_run()
    del payload["workflow_run"]["path"]
    del payload["workflow"]["path"]
    with pytest.raises(UserError, match=r"no workflow_run\.path"):
        parse_event("workflow_run", payload)


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
        (_with("workflow_run.path", ".github/workflows/a.yml\n::stop"), "control character"),
        (_with("workflow_run.path", 5), "workflow_run.path is not a str"),
        (_with("workflow", "ci"), "workflow is not an object"),
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
