"""The container entrypoint checks its inputs itself and reports errors where people look."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from scoutflow_gitops.action import read_inputs, run
from scoutflow_gitops.errors import UserError
from tests.unit.payloads import examples, workflow_run

TOKEN = "ghs_recognisableTOKENvalue0123456789"


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    event = tmp_path / "event.json"
    event.write_text(json.dumps(workflow_run()))
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "workflow_run",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": "omerbh7/scoutflow-app",
        "GITHUB_API_URL": "https://api.github.com",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        "INPUT_TOKEN": TOKEN,
        "INPUT_GITOPS_REPOSITORY": "omerbh7/scoutflow-gitops",
        "INPUT_CONFIG_PATH": ".github/scoutflow-gitops.yml",
        "INPUT_DRY_RUN": "false",
    }
    env.update(extra)
    return env


def test_defaults_follow_the_runner(tmp_path: Path) -> None:
    env = base_env(tmp_path, INPUT_GITOPS_REPOSITORY="", INPUT_CONFIG_PATH="")
    inputs = read_inputs(env)
    assert inputs.gitops_repository == "omerbh7/scoutflow-app"
    assert inputs.config_path == ".github/scoutflow-gitops.yml"
    assert inputs.api_url == "https://api.github.com"
    assert inputs.server_url == "https://github.com"
    assert inputs.dry_run is False


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("INPUT_GITOPS_REPOSITORY", "not-a-repo", "not an owner/name repository"),
        ("INPUT_GITOPS_REPOSITORY", "a/b/c", "not an owner/name repository"),
        ("INPUT_CONFIG_PATH", "../../etc/passwd", "relative path inside the repository"),
        ("INPUT_CONFIG_PATH", "/etc/passwd", "relative path inside the repository"),
        ("INPUT_CONFIG_PATH", "a/../b.yml", "relative path inside the repository"),
        ("INPUT_API_URL", "file:///etc/passwd", r"not an http\(s\) URL"),
        ("INPUT_API_URL", "https://exa mple", r"not an http\(s\) URL"),
        ("INPUT_DRY_RUN", "maybe", "dry_run must be true or false"),
        ("INPUT_APP_ID", "12a", "numeric id"),
        ("INPUT_TOKEN", "", "no credentials"),
    ],
)
def test_bad_inputs_are_refused_with_the_input_named(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    with pytest.raises(UserError, match=message):
        read_inputs(base_env(tmp_path, **{name: value}))


def test_token_and_app_credentials_are_exclusive(tmp_path: Path) -> None:
    env = base_env(tmp_path, INPUT_APP_ID="12", INPUT_PRIVATE_KEY="k")
    with pytest.raises(UserError, match="not both"):
        read_inputs(env)
    env = base_env(tmp_path, INPUT_TOKEN="", INPUT_APP_ID="12")
    with pytest.raises(UserError, match="go together"):
        read_inputs(env)


def test_dry_run_flag_or_input_turns_dry_run_on(tmp_path: Path) -> None:
    assert read_inputs(base_env(tmp_path, INPUT_DRY_RUN="true")).dry_run
    assert read_inputs(base_env(tmp_path), dry_run_flag=True).dry_run


def test_an_error_is_masked_annotated_summarised_and_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = io.StringIO()
    env = base_env(tmp_path, INPUT_CONFIG_PATH="../x")
    assert run(env, out=out) == 1
    lines = out.getvalue().splitlines()
    assert lines[0] == f"::add-mask::{TOKEN}"
    assert lines[1].startswith("::error title=scoutflow-gitops::config_path '../x'")
    summary = (tmp_path / "summary").read_text()
    assert "config_path '../x' must be a relative path" in summary
    assert "**What to do:** use the default .github/scoutflow-gitops.yml" in summary
    assert TOKEN not in summary + capsys.readouterr().err


def test_a_private_key_is_masked_line_by_line(tmp_path: Path) -> None:
    key = "-----BEGIN RSA PRIVATE KEY-----\nAAAAline1\nBBBBline2\n-----END RSA PRIVATE KEY-----"
    env = base_env(
        tmp_path, INPUT_TOKEN="", INPUT_APP_ID="1", INPUT_PRIVATE_KEY=key, INPUT_CONFIG_PATH="/abs"
    )
    out = io.StringIO()
    assert run(env, out=out) == 1
    assert out.getvalue().splitlines()[:2] == ["::add-mask::AAAAline1", "::add-mask::BBBBline2"]


def test_an_unhandled_event_is_an_error_that_names_the_trigger(tmp_path: Path) -> None:
    env = base_env(tmp_path, GITHUB_EVENT_NAME="push")
    out = io.StringIO()
    assert run(env, out=out) == 1
    assert "'push' is not handled" in out.getvalue()


def test_an_error_message_cannot_inject_workflow_commands(tmp_path: Path) -> None:
    env = base_env(tmp_path, INPUT_CONFIG_PATH="x\n::set-output name=result::merged")
    out = io.StringIO()
    assert run(env, out=out) == 1
    error_lines = [line for line in out.getvalue().splitlines() if "::set-output" in line]
    assert error_lines and all(line.startswith("::error ") for line in error_lines)


def test_a_minted_token_is_masked_before_use_and_a_repository_out_of_reach_is_one_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With App credentials the writer token is minted for the GitOps repository and masked
    before anything else is printed; a GraphQL `NOT_FOUND` for that repository ("Could not
    resolve to a Repository with the name '...'", cli/cli#436) is one `::error` that names the
    repository, what the bot needs there and the fix."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    api = "http://api.github.test:8080"
    env = base_env(
        tmp_path, INPUT_TOKEN="", INPUT_APP_ID="12", INPUT_PRIVATE_KEY=pem, INPUT_API_URL=api
    )
    gitops = "omerbh7/scoutflow-gitops"
    minted = "ghs_minted0writer0token0value000000000"
    with responses.RequestsMock() as github:
        github.add(responses.GET, f"{api}/repos/{gitops}/installation", json={"id": 5})
        github.add(
            responses.POST,
            f"{api}/app/installations/5/access_tokens",
            json={"token": minted, "expires_at": "2026-11-27T12:00:00Z"},
        )
        github.add(
            responses.POST,
            f"{api}/graphql",
            json={
                "data": {"repository": None},
                "errors": [
                    {
                        "type": "NOT_FOUND",
                        "path": ["repository"],
                        "message": f"Could not resolve to a Repository with the name '{gitops}'.",
                    }
                ],
            },
        )
        out = io.StringIO()
        assert run(env, out=out) == 1
        assert github.calls[2].request.headers["Authorization"] == f"token {minted}"
    lines = out.getvalue().splitlines()
    masks = [line for line in lines if line.startswith("::add-mask::")]
    assert lines[: len(masks)] == masks and masks[-1] == f"::add-mask::{minted}"
    (error,) = lines[len(masks) :]
    assert error.startswith(
        f"::error title=scoutflow-gitops::the GitHub App's token cannot see {gitops}, where the "
        "bot needs Contents: read: GitHub answered NOT_FOUND"
    )
    assert error.endswith(
        f"(install the GitHub App on {gitops} too: it must be installed on both the GitOps and "
        "the source repository)"
    )
    assert minted not in (tmp_path / "summary").read_text() + capsys.readouterr().err


STALE = {"data": None, "errors": [{"type": "STALE_DATA", "message": "The data is stale."}]}


def test_reads_that_keep_losing_races_give_up_with_githubs_last_word(tmp_path: Path) -> None:
    """GraphQL `STALE_DATA` is a race: the bot reads again, and after the last attempt says so,
    keeping GitHub's message."""
    api = "http://api.github.test:8080"
    env = base_env(tmp_path, INPUT_API_URL=api)
    with responses.RequestsMock() as github:
        for _ in range(3):
            github.add(responses.POST, f"{api}/graphql", json=STALE)
        out = io.StringIO()
        assert run(env, out=out) == 1
        assert len(github.calls) == 3
    assert (
        "::error title=scoutflow-gitops::gave up after 3 attempts: a branch kept moving under "
        "concurrent runs (last: The data is stale.)" in out.getvalue()
    )


def test_a_race_outside_the_retry_loops_is_one_clear_error(tmp_path: Path) -> None:
    api = "http://api.github.test:8080"
    event = tmp_path / "dispatch.json"
    event.write_text(json.dumps(examples("workflow_dispatch")[0]))
    env = base_env(
        tmp_path,
        INPUT_API_URL=api,
        GITHUB_EVENT_NAME="workflow_dispatch",
        GITHUB_EVENT_PATH=str(event),
    )
    with responses.RequestsMock() as github:
        github.add(responses.POST, f"{api}/graphql", json=STALE)
        out = io.StringIO()
        assert run(env, out=out) == 1
    assert (
        "::error title=scoutflow-gitops::GitHub's data changed while the bot read it: The data "
        "is stale. (re-run the job" in out.getvalue()
    )


def test_a_merge_poll_longer_than_the_merge_wait_is_refused() -> None:
    """A first wait over the merge loop's budget would give up before the first look."""
    env = {
        "INPUT_TOKEN": "t",
        "INPUT_GITOPS_REPOSITORY": "omerbh7/scoutflow-gitops",
        "GITHUB_EVENT_PATH": "/dev/null",
        "SCOUTFLOW_GITOPS_MERGE_POLL_SECONDS": "90",
    }
    with pytest.raises(UserError, match="at most 15 seconds"):
        read_inputs(env)
    assert read_inputs({**env, "SCOUTFLOW_GITOPS_MERGE_POLL_SECONDS": "2"}).merge_poll == 2.0
