"""The HTTP front of a ``Sandbox``: REST under ``/``, GraphQL at ``POST /graphql``, control API.

One lock serializes every request, so concurrent clients see GitHub-like atomic operations and
the request log is in the order the sandbox applied them.
"""

from __future__ import annotations

import email.utils
import json
import re
import socket
import sys
import threading
import traceback
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from scoutflow_gitops.sandbox import control, faults, rest
from scoutflow_gitops.sandbox.access import (
    NO_INTEGRATION_ACCESS,
    Grant,
    Need,
    is_app_endpoint,
    rest_need,
)
from scoutflow_gitops.sandbox.graphql_api import run_query
from scoutflow_gitops.sandbox.graphql_views import Context
from scoutflow_gitops.sandbox.model import RequestRecord, SandboxError
from scoutflow_gitops.sandbox.rest import Reply
from scoutflow_gitops.sandbox.shapes import Shapes, error_body
from scoutflow_gitops.sandbox.state import Sandbox

RATE_LIMIT_HEADERS = (
    ("X-RateLimit-Limit", "5000"),
    ("X-RateLimit-Remaining", "4999"),
    ("X-RateLimit-Reset", "4102444800"),
    ("X-RateLimit-Used", "1"),
    ("X-RateLimit-Resource", "core"),
)


class _BadJSON(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Small JSON answers on kept-alive connections: without this, Nagle's algorithm and
        # delayed ACKs add ~40 ms to every request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header carries the simulated clock, as GitHub's carries its own: the bot
        # measures soak time against the server's "now", never the runner's.
        return email.utils.format_datetime(self.server.sandbox.clock.now(), usegmt=True)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet by default: the request log (GET /_sandbox/requests) is the record."""

    def _handle(self) -> None:
        sandbox, shapes = self.server.sandbox, self.server.shapes
        parts = urlsplit(self.path)
        path = parts.path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        body: Any = None
        is_control = path.startswith("/_sandbox/")
        reply: Reply | None
        try:
            body = self._read_json()
            if is_control:
                with sandbox.lock:
                    reply = control.handle(sandbox, shapes, self.command, path, query, body)
            elif not self.headers.get("Authorization", "").strip():
                reply = Reply(401, error_body(401, "Requires authentication"))
            else:
                reply = faults.intercept(
                    sandbox,
                    self.command,
                    path,
                    body,
                    lambda: self._locked_api(path, query, body, self.headers["Authorization"]),
                )
        except _BadJSON:
            reply = Reply(400, error_body(400, "Problems parsing JSON"))
        except SandboxError as exc:
            reply = Reply(exc.status, error_body(exc.status, exc.message, exc.errors))
        except Exception:
            traceback.print_exc(file=sys.stderr)
            reply = Reply(500, error_body(500, "Sandbox internal error (see the server's stderr)"))
        if not is_control:
            # A dropped connection is logged with status 0: the client got no answer at all.
            status, answer = (0, None) if reply is None else (reply.status, reply.body)
            if isinstance(answer, dict) and "token" in answer:
                # A minted installation token is a credential: the log never holds it.
                answer = {**answer, "token": "[redacted]"}
            sandbox.record(RequestRecord(self.command, path, parts.query, status, body, answer))
        if reply is None:
            self.close_connection = True
            return
        self._send(reply)

    def _locked_api(self, path: str, query: dict[str, str], body: Any, authorization: str) -> Reply:
        sandbox = self.server.sandbox
        with sandbox.lock:
            try:
                grant = sandbox.access.authenticate(authorization, sandbox.bot, sandbox.clock.now())
                return self._api(sandbox, self.server.shapes, path, query, body, grant)
            except SandboxError as exc:
                return Reply(exc.status, error_body(exc.status, exc.message, exc.errors))

    def _api(
        self,
        sandbox: Sandbox,
        shapes: Shapes,
        path: str,
        query: dict[str, str],
        body: Any,
        grant: Grant,
    ) -> Reply:
        if path == "/graphql":
            if self.command != "POST":
                raise SandboxError(404, "Not Found")
            if grant.kind == "app":
                raise SandboxError(403, NO_INTEGRATION_ACCESS)
            return Reply(200, run_query(Context(sandbox, shapes, grant), body))
        authorize_rest(sandbox, grant, self.command, path)
        return rest.dispatch(sandbox, shapes, self.command, path, query, body, grant)

    def _read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _BadJSON() from None

    def _send(self, reply: Reply) -> None:
        data = b"" if reply.body is None else json.dumps(reply.body).encode("utf-8")
        defaults = (
            ("X-GitHub-Media-Type", "github.v3; format=json"),
            ("X-GitHub-Request-Id", uuid.uuid4().hex[:20].upper()),
            *RATE_LIMIT_HEADERS,
        )
        # A reply's own headers (a rate limit's remaining count, say) replace the defaults.
        own = {name.lower() for name, _ in reply.headers}
        try:
            self.send_response(reply.status)
            if data:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (*(h for h in defaults if h[0].lower() not in own), *reply.headers):
                self.send_header(name, value)
            self.end_headers()
            if data:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up waiting (an injected delay outlasted its timeout).
            self.close_connection = True


def authorize_rest(sandbox: Sandbox, grant: Grant, method: str, path: str) -> None:
    """Refuse a REST request the token may not make, the way GitHub refuses it."""
    if is_app_endpoint(path):
        if grant.kind != "app":
            raise SandboxError(401, "A JSON web token could not be decoded")
        return
    if grant.kind == "app":
        raise SandboxError(403, NO_INTEGRATION_ACCESS)
    if path.rstrip("/") == "/installation/repositories" and grant.kind != "installation":
        raise SandboxError(403, NO_INTEGRATION_ACCESS)
    found = rest_need(method, path)
    if found is None:
        return
    name, need = found
    repo = sandbox.repos.get(name.lower())
    if repo is None:
        return
    number = re.match(r"\A/repos/[^/]+/[^/]+/issues/(\d+)(?:/|\Z)", path)
    if number and need.alternatives:
        issue = repo.issues.get(int(number.group(1)))
        if issue is not None and issue.pull is None:
            # Pull requests: write may stand in for Issues only on a pull request's thread.
            need = Need(need.permission, need.level)
    sandbox.access.require(grant, repo, need)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        super().__init__(address, _Handler)
        self.sandbox = sandbox
        host, port = self.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        self.shapes = Shapes(sandbox, self.url)


@dataclass(frozen=True)
class RunningServer:
    """A sandbox served on a background thread; ``url`` is the API base URL."""

    url: str
    sandbox: Sandbox
    _server: _Server
    _thread: threading.Thread

    @property
    def shapes(self) -> Shapes:
        return self._server.shapes

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve(sandbox: Sandbox, port: int = 0, host: str = "127.0.0.1") -> RunningServer:
    """Start serving ``sandbox`` (port 0 picks a free one) and return once it accepts requests."""
    server = _Server((host, port), sandbox)
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="sandbox-http", daemon=True
    )
    thread.start()
    return RunningServer(server.url, sandbox, server, thread)
