"""Fuzzing the parsers that read outside input: nothing escapes but the project's UserError.

Derandomized (the same examples every run, no example database written), about 300 examples
each, so the folder stays fast and a failure is reproducible from the test alone.
"""

from __future__ import annotations

import contextlib
import copy
import json
import string
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoutflow_gitops import action, commands, events
from scoutflow_gitops.config import PipelineConfig, load_config
from scoutflow_gitops.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
WEBHOOKS = ROOT / "tests" / "fixtures" / "github" / "webhooks"
FUZZ = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
EVENT_NAMES = (*events.SUPPORTED_EVENTS, "push", "pull_request", "", "workflow_run\n")


@cache
def config() -> PipelineConfig:
    return load_config((ROOT / ".github" / "scoutflow-gitops.yml").read_text())


@cache
def examples() -> tuple[tuple[str, dict[str, Any]], ...]:
    found = []
    for name in ("workflow_run", "issue_comment", "workflow_dispatch"):
        for payload in json.loads((WEBHOOKS / f"{name}.json").read_text()):
            found.append((name, payload))
    return tuple(found)


# -- JSON-ish values: what json.loads can return, plus the odd number --------------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=50)
    | st.sampled_from(["completed", "success", "push", "main", "Database CI", "a" * 40])
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
FIELD_NAMES = st.sampled_from(
    [
        "action", "workflow_run", "head_sha", "id", "name", "html_url", "head_branch", "event",
        "status", "conclusion", "repository", "head_repository", "full_name", "comment", "body",
        "user", "login", "type", "issue", "number", "sender", "inputs", "ref",
    ]
)  # fmt: skip


def shaped(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects keyed by the field names the parser looks for, so it gets past the first check."""
    return st.dictionaries(FIELD_NAMES, children, max_size=8)


PAYLOADS = st.dictionaries(st.text(max_size=12), JSON, max_size=4) | shaped(
    st.recursive(SCALARS, shaped, max_leaves=12)
)


@FUZZ
@given(name=st.sampled_from(EVENT_NAMES), payload=PAYLOADS)
def test_the_event_parser_raises_only_user_errors_on_generated_payloads(
    name: str, payload: dict[str, Any]
) -> None:
    with contextlib.suppress(UserError):
        events.parse_event(name, payload)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@st.composite
def mutated_examples(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A real webhook example with one to three nodes replaced, deleted or retyped."""
    name, original = draw(st.sampled_from(examples()))
    payload = copy.deepcopy(original)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = [path for path in _paths(payload) if path]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = payload
        for part in path[:-1]:
            parent = parent[part]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSON)
    return draw(st.sampled_from([name, *EVENT_NAMES])), payload


@FUZZ
@given(case=mutated_examples())
def test_the_event_parser_raises_only_user_errors_on_mutated_real_payloads(
    case: tuple[str, dict[str, Any]],
) -> None:
    name, payload = case
    try:
        event = events.parse_event(name, payload)
    except UserError:
        return
    # Whatever parses is what the bot can act on: a SHA is exactly 40 lowercase hex.
    sha = getattr(event, "head_sha", None)
    assert sha is None or (len(sha) == 40 and set(sha) <= set("0123456789abcdef"))


@FUZZ
@given(raw=st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()))
def test_the_payload_reader_raises_only_user_errors_on_generated_bytes(raw: bytes) -> None:
    try:
        payload = events.parse_payload_bytes(raw)
    except UserError:
        return
    assert isinstance(payload, dict)


# -- comments and manual runs ---------------------------------------------------------------------

WORDS = st.sampled_from(
    [
        *commands.COMMAND_WORDS, "/PROMOTE", "/promote\u200b", "help", "prod", "stage", "dev",
        "moon", "0123456789abcdef0123456789abcdef01234567", "ABCDEF0", "$(id)", "`id`",
        "${{ secrets.TOKEN }}", ";", "&&", "\u202e", "\u200b", "\ufeff", "\n", "\r\n", "\t",
        "\u2028", "\u00a0", "@everyone", "```", "-" * 64, "a" * 65,
    ]
)  # fmt: skip
UNICODE = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from(string.whitespace),
    max_size=20,
)


@st.composite
def comment_bodies(draw: st.DrawFn) -> str:
    parts = draw(st.lists(WORDS | UNICODE, min_size=1, max_size=8))
    separators = draw(st.lists(st.sampled_from(["", " ", "  ", "\n", "\t"]), min_size=len(parts)))
    return "".join(sep + part for sep, part in zip(separators, parts, strict=False))


@FUZZ
@given(body=comment_bodies() | st.text(max_size=200))
def test_the_command_parser_raises_only_user_errors(body: str) -> None:
    try:
        command = commands.parse_comment(body, config())
    except UserError as exc:
        # The reply quotes outside text defanged: one line, no Markdown power.
        assert "\n" not in exc.message
        return
    if command is None:
        return
    assert command.kind in ("promote", "rollback", "release", "help")
    assert command.environment is None or config().environment(command.environment)
    assert command.sha is None or events.SHA_RE.fullmatch(command.sha)


@FUZZ
@given(
    inputs=st.dictionaries(
        st.sampled_from(["command", "environment", "sha", "other"]),
        WORDS | UNICODE | st.sampled_from(["promote", "rollback", "release", "bump", "Promote"]),
        max_size=4,
    )
)
def test_the_dispatch_parser_raises_only_user_errors(inputs: Mapping[str, str]) -> None:
    try:
        command = commands.parse_dispatch(inputs, config())
    except UserError:
        return
    assert command.sha is None or events.SHA_RE.fullmatch(command.sha)


# -- action inputs --------------------------------------------------------------------------------

INPUT_VALUES = UNICODE | st.sampled_from(
    [
        "omerbh7/scoutflow-gitops", "a/b/c", "omerbh7/scoutflow gitops", "https://api.github.com",
        "http://127.0.0.1:8765/", "file:///etc/passwd", "true", "false", "maybe", "1", "12",
        "12a", "..", "../x.yml", "/abs.yml", ".github/scoutflow-gitops.yml", "ghs_token",
        "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----", "nan", "inf",
        "-1", "1e309", "0", "",
    ]
)  # fmt: skip
ENV_NAMES = st.sampled_from(
    [
        "INPUT_TOKEN", "INPUT_APP_ID", "INPUT_PRIVATE_KEY", "INPUT_GITOPS_REPOSITORY",
        "INPUT_CONFIG_PATH", "INPUT_API_URL", "INPUT_DRY_RUN", "GITHUB_REPOSITORY",
        "GITHUB_API_URL", "GITHUB_SERVER_URL", "GITHUB_EVENT_PATH", "GITHUB_EVENT_NAME",
        "SCOUTFLOW_GITOPS_WRITE_INTERVAL",
    ]
)  # fmt: skip
BASE_ENV = {
    "INPUT_TOKEN": "ghs_token",
    "GITHUB_REPOSITORY": "omerbh7/scoutflow-app",
    "GITHUB_EVENT_PATH": "/tmp/event.json",
    "GITHUB_EVENT_NAME": "workflow_run",
}


@FUZZ
@given(
    changes=st.dictionaries(ENV_NAMES, INPUT_VALUES, max_size=6),
    dry_run_flag=st.booleans(),
)
def test_reading_the_inputs_raises_only_user_errors(
    changes: dict[str, str], dry_run_flag: bool
) -> None:
    env = {**BASE_ENV, **changes}
    try:
        inputs = action.read_inputs(env, dry_run_flag)
    except UserError:
        return
    assert inputs.token or (inputs.app_id and inputs.private_key)
    assert inputs.write_interval is None or inputs.write_interval > 0
    assert ".." not in inputs.config_path.split("/") and not inputs.config_path.startswith("/")
    assert inputs.api_url.startswith(("http://", "https://"))
