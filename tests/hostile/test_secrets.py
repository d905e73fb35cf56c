"""The token and the App private key never show up in anything a job produces.

Searched: stdout, stderr, the step summary, GITHUB_OUTPUT, the simulator's full request log
(bodies and answers), any exception text, and every PR, comment and commit message left in the
simulator. The only place a secret may appear is its ``::add-mask::`` line, and that line comes
before any other output (stdout and stderr together, as the runner's log shows them).
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from scoutflow_gitops import action
from scoutflow_gitops.sandbox.control import post_comment
from tests.hostile.harness import (
    GITOPS,
    TOKEN,
    TRACEBACK,
    all_output,
    assert_input_error,
    everything_in_the_simulator,
    finish,
    green_except_last,
    new_app_commit,
    run,
)
from tests.sandbox.fixtures import LiveSandbox


@pytest.fixture(scope="module")
def private_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return pem.decode()


def secret_lines(pem: str) -> list[str]:
    """The parts of a PEM key that are secret: every line but BEGIN/END."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def assert_never_shown(secret: str, texts: Any) -> None:
    for text in texts:
        shown = "\n".join(
            line for line in str(text).split("\n") if not line.startswith("::add-mask::")
        )
        assert secret not in shown, f"secret leaked: {shown[:300]}"


@contextlib.contextmanager
def job_environment(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Iterator[None]:
    """The process sees only the job's environment (proxies included), as in a container."""
    with monkeypatch.context() as patch:
        for name in list(__import__("os").environ):
            patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        yield


def interleaved_run(
    live: LiveSandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    payload: dict[str, Any],
    **inputs: str,
) -> tuple[int, str]:
    """The entrypoint with stdout and stderr in one stream, in the order they were written."""
    event = tmp_path / "interleaved-event.json"
    event.write_text(json.dumps(payload))
    env = {
        "PATH": __import__("os").environ.get("PATH", ""),
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "workflow_run",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_API_URL": live.url,
        "GITHUB_SERVER_URL": live.url,
        "GITHUB_OUTPUT": str(tmp_path / "interleaved-output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "interleaved-summary"),
        "INPUT_GITOPS_REPOSITORY": GITOPS,
        "INPUT_API_URL": live.url,
        "SCOUTFLOW_GITOPS_WRITE_INTERVAL": "0",
        **{f"INPUT_{name.upper()}": value for name, value in inputs.items()},
    }
    log = io.StringIO()
    live.sandbox.clear_requests()
    with (
        job_environment(monkeypatch, env),
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        try:
            code = action.run(env, out=log)
        except Exception as exc:  # the runner would show it; the test wants it in the log
            code = 1
            log.write(f"{TRACEBACK}\n{type(exc).__name__}: {exc}\n")
    return code, log.getvalue()


def assert_masks_first(log: str, *secrets: str) -> None:
    masks = [f"::add-mask::{secret}" for secret in secrets]
    assert log.split("\n")[: len(masks)] == masks, log[:500]


# -- the token ---------------------------------------------------------------------------------


def test_the_token_never_appears_in_a_deploy_a_promotion_or_the_simulator(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    sha = new_app_commit(live, "secret-free")
    jobs = [run(live, tmp_path, finish(live, sha, workflow)) for workflow in ("Backend CI",)]
    jobs.append(run(live, tmp_path, green_except_last(live, sha)))
    assert jobs[-1].result == "merged"
    assert live.control("POST", "/clock", {"advance_minutes": 45}).ok
    for body in ("/promote prod", "/promote prod; echo $TOKEN", "/rollback stage"):
        payload = post_comment(
            live.sandbox, live.server.shapes, GITOPS, user="release-manager", body=body
        )
        jobs.append(run(live, tmp_path, payload, event_name="issue_comment"))
    assert [job.result for job in jobs[2:]] == ["opened", "refused", "merged"]
    for job in jobs:
        assert job.stdout.split("\n")[0] == f"::add-mask::{TOKEN}"
        assert TRACEBACK not in job.stderr
        assert_never_shown(TOKEN, all_output(job, tmp_path))
    assert TOKEN not in everything_in_the_simulator(live)


def test_a_401_names_the_problem_without_the_token(
    live_sandbox: LiveSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    faults = pytest.importorskip("scoutflow_gitops.sandbox.faults")
    live = live_sandbox
    payload = green_except_last(live, new_app_commit(live, "revoked"))
    revoked = faults.Fault(path_regex=".*", status=401, body="Bad credentials")
    faults.add_fault(live.sandbox, revoked)

    job = run(live, tmp_path, payload)
    error = assert_input_error(job, "GitHub answered 401", "Bad credentials", requests=1)
    assert "expired or revoked" in error
    assert_never_shown(TOKEN, all_output(job, tmp_path))

    code, log = interleaved_run(live, tmp_path, monkeypatch, payload, token=TOKEN)
    assert code == 1 and TRACEBACK not in log
    assert_masks_first(log, TOKEN)
    assert_never_shown(TOKEN, [log])
    faults.clear_faults(live.sandbox)
    # A GraphQL 401 is outside the API description the fixture checks the log against.
    live.sandbox.clear_requests()


def test_a_multi_line_token_is_masked_line_by_line_before_anything_else(
    live_sandbox: LiveSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pasted secret with a stray line break: each line is masked, none is ever printed, and
    the job stops with an input error before any request."""
    live = live_sandbox
    first, second = "ghs_firstHALFofAtoken0000", "secondHALFofAtoken1111"
    payload = finish(live, new_app_commit(live, "two-lines"), "Backend CI", conclusion="failure")
    code, log = interleaved_run(
        live, tmp_path, monkeypatch, payload, token=f"  {first}\n{second}  \n"
    )
    assert code == 1 and TRACEBACK not in log
    assert "the token input holds a space or a line break" in log
    assert_masks_first(log, first, second)
    for part in (first, second):
        assert_never_shown(part, [log, json.dumps(live.sandbox.requests(), default=str)])


def test_a_token_with_a_line_break_is_an_input_error_naming_the_token(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    # A failed build is decided without a request, so the check must come from read_inputs
    # (with a green build the job retries for seconds and blames GitHub).
    payload = finish(live, new_app_commit(live, "two-lines"), "Backend CI", conclusion="failure")
    job = run(live, tmp_path, payload, token="ghs_firstHALFofAtoken0000\nsecondHALF")
    error = assert_input_error(job, "token")
    assert "re-run" not in error


# -- the GitHub App private key ------------------------------------------------------------------


NOT_INSTALLED = "omerbh7/not-installed"


def test_an_app_key_is_masked_first_and_never_shown_when_minting_fails(
    live_sandbox: LiveSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, private_key: str
) -> None:
    live = live_sandbox
    payload = green_except_last(live, new_app_commit(live, "app-key"))
    job = run(
        live,
        tmp_path,
        payload,
        token="",
        extra_env={
            "INPUT_APP_ID": "424242",
            "INPUT_PRIVATE_KEY": private_key,
            "INPUT_GITOPS_REPOSITORY": NOT_INSTALLED,
        },
    )
    # The App is not installed on that repository: GitHub's 404 for the installation lookup.
    assert_input_error(job, "could not mint an installation token", requests=None)
    assert job.writes == ()
    lines = secret_lines(private_key)
    assert job.stdout.split("\n")[: len(lines)] == [f"::add-mask::{line}" for line in lines]
    for line in lines:
        assert_never_shown(line, all_output(job, tmp_path))
    # A signed App JWT is a credential too: it is never printed (the masked key lines are
    # base64 and may hold "eyJ" by chance, so they are left out of the search).
    shown = [
        line
        for line in (job.stdout + job.stderr + job.summary).splitlines()
        if not line.startswith("::add-mask::")
    ]
    assert not [line for line in shown if "eyJ" in line]

    code, log = interleaved_run(
        live,
        tmp_path,
        monkeypatch,
        payload,
        app_id="424242",
        private_key=private_key,
        gitops_repository=NOT_INSTALLED,
    )
    assert code == 1 and TRACEBACK not in log
    assert_masks_first(log, *lines)
    for line in lines:
        assert_never_shown(line, [log])


def test_a_broken_app_key_is_a_clear_error_that_shows_no_key_material(
    live_sandbox: LiveSandbox, tmp_path: Path, private_key: str
) -> None:
    live = live_sandbox
    lines = secret_lines(private_key)
    # Truncated: the paste lost its second half.
    broken = "\n".join(private_key.splitlines()[: len(lines) // 2])
    payload = green_except_last(live, new_app_commit(live, "broken-key"))
    job = run(
        live,
        tmp_path,
        payload,
        token="",
        extra_env={"INPUT_APP_ID": "424242", "INPUT_PRIVATE_KEY": broken},
    )
    assert_input_error(job, "private_key", requests=None)
    assert job.writes == ()
    for line in secret_lines(broken):
        assert_never_shown(line, all_output(job, tmp_path))
    live.sandbox.clear_requests()
