"""One job of the bot, run the way the Actions runner runs the container action, against a
running simulator.

The runner hands the action an event file, ``INPUT_*`` variables and two files to write to
(``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY``); ``run_job`` builds exactly that, calls the real
entrypoint (``scoutflow_gitops.action.run``) in this process, and returns what the job left
behind together with the requests it sent. The end-to-end tests, ``make demo`` and the request
benchmark all drive the bot through it.

    server = serve(sandbox)
    job = run_job(server.url, "workflow_run", payload, sandbox=sandbox)
    job.result, job.outputs["reason"], len(job.requests), job.writes

Jobs must not overlap: the entrypoint still reads one setting from ``os.environ``, so the
process environment is swapped for the job's while it runs.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import time
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests as http
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse

from scoutflow_gitops import action
from scoutflow_gitops.config import DEFAULT_CONFIG_PATH
from scoutflow_gitops.sandbox.control import issue_token, request_log
from scoutflow_gitops.sandbox.seed import APP_REPO, GITOPS_REPO
from scoutflow_gitops.sandbox.state import Sandbox

Request = Mapping[str, Any]
# Where each event's workflow runs: CI completions reach the app repository's workflow,
# comments and manual runs the GitOps repository's own.
_WORKFLOW_HOME = {"workflow_run": APP_REPO}


@dataclass(frozen=True)
class JobResult:
    """What one job left behind: its exit code, outputs, step summary, logs and requests.

    ``requests`` are the simulator's log entries for this job, in order, each with ``method``,
    ``path``, ``status``, ``query``, ``body`` and ``response``. ``cpu_seconds`` is the process
    CPU time spent inside the entrypoint; it includes the simulator's request handling when the
    simulator serves from this same process.
    """

    exit_code: int
    outputs: Mapping[str, str]
    summary: str
    stdout: str
    stderr: str
    requests: tuple[Request, ...]
    cpu_seconds: float = 0.0

    @property
    def result(self) -> str:
        return self.outputs.get("result", "")

    @property
    def writes(self) -> tuple[Request, ...]:
        """The requests that changed state: REST writes and GraphQL mutations."""
        return tuple(request for request in self.requests if is_write(request))


def is_write(request: Request) -> bool:
    """Whether a logged request asks GitHub to change something.

    GraphQL reads and writes share ``POST /graphql``; the document's operation type tells them
    apart. A document GitHub could not run (unparsable, no operation to pick) changed nothing.
    """
    if request.get("path") != "/graphql":
        return str(request.get("method", "")).upper() not in ("GET", "HEAD")
    body = request.get("body")
    if not isinstance(body, Mapping) or not isinstance(body.get("query"), str):
        return False
    try:
        document = parse(body["query"])
    except GraphQLError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    name = body.get("operationName")
    if name:
        operations = [op for op in operations if op.name is not None and op.name.value == name]
    return len(operations) == 1 and operations[0].operation is OperationType.MUTATION


def parse_outputs(text: str) -> dict[str, str]:
    """The step outputs in a ``GITHUB_OUTPUT`` file, read with the runner's rules.

    Each entry is ``name=value`` or ``name<<DELIMITER``, then value lines, then the delimiter
    alone on a line; whichever of ``=`` and ``<<`` comes first on the line decides the form.
    """
    outputs: dict[str, str] = {}
    lines = iter(text.split("\n"))
    for line in lines:
        if not line:
            continue
        equals, heredoc = line.find("="), line.find("<<")
        if equals >= 0 and (heredoc < 0 or equals < heredoc):
            outputs[line[:equals]] = line[equals + 1 :]
            continue
        if heredoc < 0:
            raise ValueError(f"GITHUB_OUTPUT line {line[:60]!r} is neither name=value nor name<<")
        name, delimiter = line[:heredoc], line[heredoc + 2 :]
        value: list[str] = []
        for value_line in lines:
            if value_line == delimiter:
                break
            value.append(value_line)
        else:
            raise ValueError(f"GITHUB_OUTPUT: output {name!r} never ends with {delimiter!r}")
        outputs[name] = "\n".join(value)
    return outputs


def run_job(
    api_url: str,
    event_name: str,
    payload: Mapping[str, Any] | str,
    *,
    sandbox: Sandbox | None = None,
    dry_run: bool = False,
    extra_env: Mapping[str, str] | None = None,
    gitops_repository: str = GITOPS_REPO,
    token: str | None = None,
    workdir: Path | None = None,
    workflow_repository: str | None = None,
) -> JobResult:
    """Run the bot for one event against the simulator at ``api_url``.

    ``sandbox`` is the simulator behind ``api_url`` when it runs in this process; without it the
    request log is read over the control API, so the simulator can run in another process.
    ``payload`` is the event as JSON (a string is written as is, to send malformed events).
    The event, output and summary files go to ``workdir``, or to a temporary folder that is
    removed afterwards.

    Without ``token`` the job gets what a workflow step such as ``create-github-app-token``
    would hand it: a fresh installation token of the App for the GitOps and the app
    repository (``INPUT_TOKEN``). ``extra_env`` may replace it (App credentials, say).
    ``GITHUB_REPOSITORY`` is the repository whose workflow handles the event, unless
    ``workflow_repository`` names another.
    """
    if token is None:
        token = mint_job_token(api_url, sandbox, (gitops_repository, APP_REPO))
    home = workflow_repository or _WORKFLOW_HOME.get(event_name, gitops_repository)
    with contextlib.ExitStack() as stack:
        folder = workdir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        folder.mkdir(parents=True, exist_ok=True)
        event_file, output_file, summary_file = (
            folder / "event.json",
            folder / "output",
            folder / "summary",
        )
        event_file.write_text(
            payload if isinstance(payload, str) else json.dumps(payload), encoding="utf-8"
        )
        env = {
            "PATH": os.environ.get("PATH", ""),
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": event_name,
            "GITHUB_EVENT_PATH": str(event_file),
            "GITHUB_REPOSITORY": home,
            "GITHUB_API_URL": api_url,
            "GITHUB_SERVER_URL": api_url,
            "GITHUB_OUTPUT": str(output_file),
            "GITHUB_STEP_SUMMARY": str(summary_file),
            "INPUT_TOKEN": token,
            "INPUT_GITOPS_REPOSITORY": gitops_repository,
            "INPUT_CONFIG_PATH": DEFAULT_CONFIG_PATH,
            "INPUT_API_URL": api_url,
            "INPUT_DRY_RUN": "true" if dry_run else "false",
            # PyGithub would otherwise pause a second before each write, as GitHub advises.
            "SCOUTFLOW_GITOPS_WRITE_INTERVAL": "0",
            # The simulator computes mergeability in the background by reads, not seconds:
            # the bot's first look need not wait a second of wall time.
            "SCOUTFLOW_GITOPS_MERGE_POLL_SECONDS": "0",
            **(extra_env or {}),
        }
        _clear_log(api_url, sandbox)
        exit_code, stdout, stderr, cpu_seconds = _run_entrypoint(env)
        output_text = _read(output_file)
        return JobResult(
            exit_code=exit_code,
            outputs=parse_outputs(output_text),
            summary=_read(summary_file),
            stdout=stdout,
            stderr=stderr,
            requests=_read_log(api_url, sandbox),
            cpu_seconds=cpu_seconds,
        )


def mint_job_token(
    api_url: str, sandbox: Sandbox | None, repositories: tuple[str, ...], token: str | None = None
) -> str:
    """An installation token of the App for ``repositories``, valid for an hour of the
    simulator's clock, as a job would get one."""
    request: dict[str, Any] = {"kind": "installation", "repositories": list(repositories)}
    if token is not None:
        request["token"] = token
    if sandbox is not None:
        with sandbox.lock:
            if token is not None:
                sandbox.access.revoke(token)
            return str(issue_token(sandbox, request)["token"])
    response = http.post(f"{api_url}/_sandbox/tokens", json=request, timeout=10)
    response.raise_for_status()
    return str(response.json()["token"])


def _run_entrypoint(env: Mapping[str, str]) -> tuple[int, str, str, float]:
    out, err = io.StringIO(), io.StringIO()
    with (
        _process_environment(env),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        started = time.process_time()
        try:
            code = action.run(env, out=out)
        except Exception:
            # An uncaught exception fails the step with exit status 1 and its traceback in
            # the log, as the Python interpreter in the container would.
            traceback.print_exc(file=err)
            code = 1
        cpu_seconds = time.process_time() - started
    return code, out.getvalue(), err.getvalue(), cpu_seconds


@contextlib.contextmanager
def _process_environment(values: Mapping[str, str]) -> Iterator[None]:
    # ``action.run`` takes the job's environment as an argument, but the GitHub adapter reads
    # SCOUTFLOW_GITOPS_WRITE_INTERVAL from os.environ, and requests reads proxy settings from
    # it: the process sees only the job's environment, as a container would.
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _clear_log(api_url: str, sandbox: Sandbox | None) -> None:
    if sandbox is not None:
        sandbox.clear_requests()
        return
    http.delete(f"{api_url}/_sandbox/requests", timeout=10).raise_for_status()


def _read_log(api_url: str, sandbox: Sandbox | None) -> tuple[Request, ...]:
    if sandbox is not None:
        return tuple(request_log(sandbox, full=True))
    response = http.get(f"{api_url}/_sandbox/requests", params={"full": "1"}, timeout=10)
    response.raise_for_status()
    return tuple(response.json())


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""
