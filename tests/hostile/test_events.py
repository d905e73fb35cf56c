"""Hostile event files, payload fields, event names and action inputs, through the entrypoint.

Bad input is one ``::error`` line, exit 1 and not a single request; a payload that is well
formed but not for the bot is a policy outcome (``skipped``/``refused``) with nothing written.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scoutflow_gitops.sandbox.control import finish_workflow_run
from tests.hostile.harness import (
    APP,
    CI,
    GITOPS,
    assert_input_error,
    assert_policy,
    event_file,
    file_on_main,
    finish,
    green_except_last,
    new_app_commit,
    run,
    values_path,
)
from tests.sandbox.fixtures import LiveSandbox

Mutation = Callable[[dict[str, Any]], None]


@pytest.fixture
def ci_payload(live_sandbox: LiveSandbox) -> dict[str, Any]:
    """A real, successful Database CI payload for a new commit on main (not yet run)."""
    sha = new_app_commit(live_sandbox, "hostile")
    return finish(live_sandbox, sha, "Database CI")


# -- the event file itself ---------------------------------------------------------------------

TRUNCATED = '{"action": "completed", "workflow_run": {"id": 30433642, "name": "Build'
FILE_CASES = {
    "truncated": (TRUNCATED.encode(), "is not valid JSON"),
    "empty": (b"", "is not valid JSON"),
    "whitespace": (b" \n\t ", "is not valid JSON"),
    "list": (b"[]", "is not a JSON object"),
    "string": (b'"workflow_run"', "is not a JSON object"),
    "number": (b"42", "is not a JSON object"),
    "null": (b"null", "is not a JSON object"),
    "not-utf8": (b'{"action": "\xff\xfe"}', "is not valid JSON"),
    "nul-bytes": (b"\x00" * 64, "is not valid JSON"),
    "trailing-garbage": (b'{"action": "completed"} {}', "is not valid JSON"),
    "too-large": (b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}', "larger than 2 MiB"),
}


@pytest.mark.parametrize("case", FILE_CASES, ids=list(FILE_CASES))
def test_a_malformed_event_file_is_one_clear_error_and_no_request(
    live_sandbox: LiveSandbox, tmp_path: Path, case: str
) -> None:
    data, words = FILE_CASES[case]
    path = event_file(tmp_path, data)
    job = run(live_sandbox, tmp_path, "{}", extra_env={"GITHUB_EVENT_PATH": path})
    assert_input_error(job, words)


def test_a_deeply_nested_event_file_is_a_clear_error(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    path = event_file(tmp_path, b"[" * 100_000)
    job = run(live_sandbox, tmp_path, "{}", extra_env={"GITHUB_EVENT_PATH": path})
    assert_input_error(job, "is not valid JSON")


@pytest.mark.parametrize(
    ("where", "words"),
    [
        ("missing", "cannot read the event payload"),
        ("directory", "cannot read the event payload"),
        ("unset", "GITHUB_EVENT_PATH is not set"),
    ],
)
def test_an_event_path_that_is_not_a_file_is_a_clear_error(
    live_sandbox: LiveSandbox, tmp_path: Path, where: str, words: str
) -> None:
    target = {"missing": str(tmp_path / "nope.json"), "directory": str(tmp_path), "unset": ""}
    job = run(live_sandbox, tmp_path, "{}", extra_env={"GITHUB_EVENT_PATH": target[where]})
    assert_input_error(job, words)


# -- fields that are missing or of the wrong type ------------------------------------------------


def _set(path: str, value: Any) -> Mutation:
    def mutate(payload: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = payload
        for part in parents:
            node = node[part]
        node[last] = value

    return mutate


def _drop(path: str) -> Mutation:
    def mutate(payload: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = payload
        for part in parents:
            node = node[part]
        del node[last]

    return mutate


FIELD_CASES: dict[str, tuple[Mutation, str]] = {
    "head_sha-missing": (_drop("workflow_run.head_sha"), "no workflow_run.head_sha"),
    "head_sha-int": (_set("workflow_run.head_sha", 5), "head_sha is not a str"),
    "head_sha-null": (_set("workflow_run.head_sha", None), "head_sha is not a str"),
    "id-string": (_set("workflow_run.id", "30433642"), "workflow_run.id is not a int"),
    "id-bool": (_set("workflow_run.id", True), "workflow_run.id is not a int"),
    "id-float": (_set("workflow_run.id", 1.5), "workflow_run.id is not a int"),
    "repository-null": (_set("workflow_run.repository", None), "repository is not a dict"),
    "repository-id-string": (_set("workflow_run.repository.id", "1"), "repository.id"),
    "workflow_run-list": (_set("workflow_run", []), "workflow_run is not a dict"),
    "workflow_run-missing": (_drop("workflow_run"), "no workflow_run"),
    "head_repository-string": (
        _set("workflow_run.head_repository", "evil/fork"),
        "head_repository is not an object",
    ),
    "name-list": (_set("workflow_run.name", ["Database CI"]), "workflow_run.name is not a str"),
    "action-missing": (_drop("action"), "no action"),
    "conclusion-int": (_set("workflow_run.conclusion", 0), "conclusion is not a str"),
}


@pytest.mark.parametrize("case", FIELD_CASES, ids=list(FIELD_CASES))
def test_a_missing_or_mistyped_field_names_the_field(
    live_sandbox: LiveSandbox, tmp_path: Path, ci_payload: dict[str, Any], case: str
) -> None:
    mutate, words = FIELD_CASES[case]
    mutate(ci_payload)
    assert_input_error(run(live_sandbox, tmp_path, ci_payload), words)


def test_a_null_top_level_repository_is_not_read_for_a_workflow_run(
    live_sandbox: LiveSandbox, tmp_path: Path, ci_payload: dict[str, Any]
) -> None:
    """The bot trusts workflow_run.repository, never the envelope: null there changes nothing."""
    ci_payload["repository"] = None
    job = run(live_sandbox, tmp_path, ci_payload)
    assert_policy(job, "waiting", "waiting for Backend CI, Frontend CI")


# -- SHAs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape",
    ["short", "uppercase", "not-hex", "41-chars", "with-space"],
)
def test_a_sha_that_is_not_40_lowercase_hex_is_refused_before_any_request(
    live_sandbox: LiveSandbox, tmp_path: Path, ci_payload: dict[str, Any], shape: str
) -> None:
    sha = ci_payload["workflow_run"]["head_sha"]
    bad = {
        "short": sha[:7],
        "uppercase": sha.upper(),
        "not-hex": "g" * 40,
        "41-chars": sha + "0",
        "with-space": f" {sha}",
    }[shape]
    ci_payload["workflow_run"]["head_sha"] = bad
    assert_input_error(run(live_sandbox, tmp_path, ci_payload), "is not a 40-hex commit SHA")


def test_a_sha_with_a_trailing_newline_is_refused_before_any_request(
    live_sandbox: LiveSandbox, tmp_path: Path, ci_payload: dict[str, Any]
) -> None:
    ci_payload["workflow_run"]["head_sha"] += "\n"
    assert_input_error(
        run(live_sandbox, tmp_path, ci_payload), "head_sha holds a control character"
    )


# -- well-formed runs that are not for the bot ---------------------------------------------------


def test_a_run_from_a_fork_is_skipped_without_a_request(
    live_sandbox: LiveSandbox, tmp_path: Path, ci_payload: dict[str, Any]
) -> None:
    head = ci_payload["workflow_run"]["head_repository"]
    head.update(id=head["id"] + 1, full_name="mallory/scoutflow-app")
    job = run(live_sandbox, tmp_path, ci_payload)
    assert_policy(job, "skipped", "mallory/scoutflow-app", requests=0)


def test_a_run_without_a_head_repository_is_skipped_as_an_unknown_fork(
    live_sandbox: LiveSandbox, tmp_path: Path, ci_payload: dict[str, Any]
) -> None:
    ci_payload["workflow_run"]["head_repository"] = None
    job = run(live_sandbox, tmp_path, ci_payload)
    assert_policy(job, "skipped", "an unknown fork", requests=0)


@pytest.mark.parametrize("event", ["pull_request", "pull_request_target", "schedule"])
def test_a_run_for_another_trigger_is_skipped_without_a_request(
    live_sandbox: LiveSandbox, tmp_path: Path, ci_payload: dict[str, Any], event: str
) -> None:
    ci_payload["workflow_run"]["event"] = event
    job = run(live_sandbox, tmp_path, ci_payload)
    assert_policy(job, "skipped", f"{event} event, not a push", requests=0)


def test_a_payload_claiming_the_source_repo_for_a_foreign_commit_is_refused(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    """GitHub recorded green push runs for a commit that lives in another repository (here the
    GitOps repository); the payload is edited to claim the app repository itself. The bot
    must see that the SHA is not a commit of the source repository and change nothing."""
    live = live_sandbox
    foreign = live.sandbox.branch_head(live.sandbox.repo(GITOPS), "main")
    before = {env: file_on_main(live, values_path(env)) for env in ("dev", "stage")}
    payload: dict[str, Any] = {}
    for workflow in CI:
        payload = finish_workflow_run(
            live.sandbox,
            live.server.shapes,
            APP,
            head_sha=foreign,
            workflow=workflow,
            conclusion="success",
            head_branch="main",
            head_repository=GITOPS,
        )
    forged = copy.deepcopy(payload)
    forged["workflow_run"]["head_repository"] = copy.deepcopy(forged["workflow_run"]["repository"])
    job = run(live, tmp_path, forged)
    assert_policy(job, "refused", f"{foreign[:7]} is not a commit of {APP}")
    assert {env: file_on_main(live, values_path(env)) for env in before} == before


def test_a_payload_for_a_sha_no_one_has_seen_waits_and_writes_nothing(
    live_sandbox: LiveSandbox, tmp_path: Path, ci_payload: dict[str, Any]
) -> None:
    """A forged SHA that exists nowhere: GitHub lists no runs for it, so it never deploys."""
    ci_payload["workflow_run"]["head_sha"] = "0123456789abcdef0123456789abcdef01234567"
    job = run(live_sandbox, tmp_path, ci_payload)
    assert_policy(job, "waiting", "0123456 is waiting", requests=2)


# -- event names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["push", "pull_request", "", "WORKFLOW_RUN", "workflow_run\n::warning::x"]
)
def test_an_unknown_event_name_is_one_clear_error(
    live_sandbox: LiveSandbox, tmp_path: Path, ci_payload: dict[str, Any], name: str
) -> None:
    job = run(live_sandbox, tmp_path, ci_payload, event_name=name)
    assert_input_error(job, "is not handled", "workflow_run, issue_comment, workflow_dispatch")


# -- action inputs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("INPUT_GITOPS_REPOSITORY", "omerbh7/scoutflow gitops", "not an owner/name repository"),
        ("INPUT_GITOPS_REPOSITORY", "../../etc/passwd", "not an owner/name repository"),
        ("INPUT_API_URL", "file:///etc/passwd", "is not an http(s) URL"),
        ("INPUT_API_URL", "javascript:alert(1)", "is not an http(s) URL"),
        ("INPUT_DRY_RUN", "maybe", "dry_run must be true or false"),
        ("INPUT_CONFIG_PATH", "../secrets.yml", "relative path inside the repository"),
        ("INPUT_CONFIG_PATH", ".github/../../x.yml", "relative path inside the repository"),
        ("INPUT_CONFIG_PATH", "/etc/passwd", "relative path inside the repository"),
        ("INPUT_CONFIG_PATH", ".github/x.yml\n::warning::y", "relative path inside"),
        ("INPUT_APP_ID", "12e3", "numeric id"),
        ("SCOUTFLOW_GITOPS_WRITE_INTERVAL", "soon", "is not a number of seconds"),
    ],
    ids=lambda value: str(value)[:24],
)
def test_an_invalid_input_is_one_clear_error_before_any_request(
    live_sandbox: LiveSandbox,
    tmp_path: Path,
    ci_payload: dict[str, Any],
    name: str,
    value: str,
    words: str,
) -> None:
    job = run(live_sandbox, tmp_path, ci_payload, extra_env={name: value})
    assert_input_error(job, words)


# -- workflow_dispatch -------------------------------------------------------------------------


def _dispatch(live: LiveSandbox, ref: str = "refs/heads/main", **inputs: Any) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(
        (
            Path(__file__).resolve().parents[1] / "fixtures/github/webhooks/workflow_dispatch.json"
        ).read_text()
    )[0]
    payload.update(ref=ref, inputs=inputs)
    payload["sender"] = {**payload["sender"], "login": "release-manager"}
    payload["repository"] = {**payload["repository"], "full_name": GITOPS}
    return payload


@pytest.mark.parametrize(
    ("inputs", "words"),
    [
        ({"command": "promote", "environment": "prod", "sha": "ABCDEF0"}, "not a full commit SHA"),
        ({"command": "bump", "sha": "E" * 40}, "not a full commit SHA"),
        ({"command": "rollback", "environment": "stage", "sha": "z" * 40}, "not a full commit"),
        ({"command": "promote", "environment": "moon"}, "`moon` is not an environment"),
        ({"command": "rollback", "environment": "../prod"}, "unknown environment `../prod`"),
        ({"command": "deploy; rm -rf /"}, "unknown command `deploy? rm -rf /`"),
        ({"command": "promote", "environment": "${{ secrets.TOKEN }}"}, "`??? secrets.TOKEN ??`"),
        ({"command": "bump"}, "bump needs the sha input"),
    ],
    ids=lambda value: str(value)[:40],
)
def test_a_bad_manual_run_is_one_clear_error_and_writes_nothing(
    live_sandbox: LiveSandbox, tmp_path: Path, inputs: dict[str, str], words: str
) -> None:
    job = run(
        live_sandbox, tmp_path, _dispatch(live_sandbox, **inputs), event_name="workflow_dispatch"
    )
    # One read: the manual run checks its inputs against the pipeline config.
    assert_input_error(job, words, requests=1)


@pytest.mark.parametrize(
    ("inputs", "words"),
    [
        (["promote", "prod"], "inputs is not an object"),
        ({"command": {"nested": "promote"}}, "is not a plain value"),
        ({"command": None}, "is not a plain value"),
    ],
    ids=["list", "dict-value", "null-value"],
)
def test_malformed_dispatch_inputs_are_refused_before_any_request(
    live_sandbox: LiveSandbox, tmp_path: Path, inputs: Any, words: str
) -> None:
    payload = _dispatch(live_sandbox)
    payload["inputs"] = inputs
    job = run(live_sandbox, tmp_path, payload, event_name="workflow_dispatch")
    assert_input_error(job, words)


def test_a_manual_run_from_another_branch_is_refused_and_writes_nothing(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    payload = _dispatch(
        live_sandbox, ref="refs/heads/evil", command="bump", sha=green_sha(live_sandbox)
    )
    job = run(live_sandbox, tmp_path, payload, event_name="workflow_dispatch")
    assert_input_error(job, "manual runs act only from main", requests=1)


def green_sha(live: LiveSandbox) -> str:
    sha = new_app_commit(live, "dispatched")
    green_except_last(live, sha)
    return sha
