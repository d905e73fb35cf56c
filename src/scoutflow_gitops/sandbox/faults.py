"""Fault injection: the failures GitHub really gives clients, on demand and reproducibly.

A fault matches API requests (method, path regex, GraphQL operation) and answers some of them
(the first ``times``, or each with probability ``rate`` drawn from a seeded RNG) with an error
status, a delay, or a dropped connection. By default it acts before the request reaches the
sandbox, so nothing is written; ``after`` applies the request first and then fails it, the case
where GitHub did the write but the client saw a 502.

Faults live beside a ``Sandbox`` (not in it), are consulted in the order they were added, and
the first that fires answers the request. ``intercept`` is what the HTTP server calls; the
control API and ``add_fault`` arm them.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from http import HTTPStatus
from random import Random
from typing import Literal
from weakref import WeakKeyDictionary

from graphql import GraphQLError, OperationDefinitionNode, parse

from scoutflow_gitops.sandbox.model import SandboxError
from scoutflow_gitops.sandbox.rest import Reply
from scoutflow_gitops.sandbox.shapes import JSON, error_body
from scoutflow_gitops.sandbox.state import Sandbox
from scoutflow_gitops.sandbox.webhooks import INSTALLATION_ID

RateLimit = Literal["primary", "secondary"]
METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
RATE_LIMIT_DOCS = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"
# GitHub's answer when its GraphQL executor gives up (timeouts included); REST 5xx answers
# carry the usual error body.
GRAPHQL_FAILURE = (
    "Something went wrong while executing your query. This may be the result of a timeout, or "
    "it could be a GitHub bug. Please include `{request_id}` when reporting this issue."
)
SERVER_MESSAGES = {500: "Server Error", 502: "Server Error", 503: "Service Unavailable"}
_IDENTIFIER = re.compile(r"[_A-Za-z]\w*")


@dataclass(frozen=True)
class Fault:
    """What to match and how to fail it; see ``docs/faults.md`` for every field."""

    path_regex: str
    method: str | None = None
    graphql_operation: str | None = None
    status: int | None = None
    times: int | None = None
    rate: float | None = None
    seed: int = 0
    retry_after: int | None = None
    rate_limit: RateLimit | None = None
    reset_after: int = 60
    delay_ms: int = 0
    drop: bool = False
    after: bool = False
    body: JSON | str | None = None

    def __post_init__(self) -> None:
        _check_regex("path_regex", self.path_regex)
        if self.graphql_operation is not None:
            _check_regex("graphql_operation", self.graphql_operation)
        if self.method is not None and self.method not in METHODS:
            raise _invalid(f"method must be one of {', '.join(METHODS)}")
        if self.status is None and not self.drop and not self.delay_ms:
            raise _invalid("a fault needs a status, a delay_ms or drop")
        if self.status is not None and not 200 <= self.status <= 599:
            raise _invalid("status must be an HTTP status from 200 to 599")
        if self.status is not None and self.drop:
            raise _invalid("a dropped connection has no status: give one of status and drop")
        if self.times is not None and self.rate is not None:
            raise _invalid("give times or rate, not both")
        if self.times is not None and self.times < 1:
            raise _invalid("times must be at least 1")
        if self.rate is not None and not 0 < self.rate <= 1:
            raise _invalid("rate must be a probability above 0 and at most 1")
        if self.rate_limit is not None and self.status not in (403, 429):
            raise _invalid("rate_limit needs status 403 or 429")
        if self.rate_limit not in (None, "primary", "secondary"):
            raise _invalid("rate_limit must be primary or secondary")
        for name in ("retry_after", "reset_after", "delay_ms"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise _invalid(f"{name} must not be negative")

    @property
    def limit(self) -> RateLimit | None:
        """The rate limit this fault stands for: 403 and 429 are secondary unless told."""
        if self.rate_limit is not None:
            return self.rate_limit
        if self.status in (403, 429) and self.body is None:
            return "secondary"
        return None

    def reply(self, sandbox: Sandbox, path: str) -> Reply:
        """The answer GitHub would give; only called for faults with a status."""
        assert self.status is not None
        status = self.status
        request_id = f"{secrets.token_hex(2).upper()}:{secrets.token_hex(4).upper()}"
        headers: list[tuple[str, str]] = [("X-GitHub-Request-Id", request_id)]
        if self.retry_after is not None:
            headers.append(("Retry-After", str(self.retry_after)))
        body: object
        if isinstance(self.body, dict):
            body = self.body
        elif isinstance(self.body, str):
            body = error_body(status, self.body)
        elif self.limit == "primary" and path == "/graphql":
            # GraphQL's primary limit is an answer, not an HTTP error: 200 with an error of
            # type RATE_LIMITED (renovatebot/renovate#21861, github/docs#22607).
            reset = int(sandbox.clock.now().timestamp()) + self.reset_after
            headers += [
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Used", "5000"),
                ("X-RateLimit-Reset", str(reset)),
                ("X-RateLimit-Resource", "graphql"),
            ]
            status = 200
            body = {
                "errors": [
                    {
                        "type": "RATE_LIMITED",
                        "message": "API rate limit exceeded for installation ID "
                        f"{INSTALLATION_ID}.",
                    }
                ]
            }
        elif self.limit == "primary":
            reset = int(sandbox.clock.now().timestamp()) + self.reset_after
            headers += [
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Used", "5000"),
                ("X-RateLimit-Reset", str(reset)),
            ]
            body = {
                "message": f"API rate limit exceeded for installation ID {INSTALLATION_ID}. "
                "If you reach out to GitHub Support for help, please include the request ID "
                f"{request_id}.",
                "documentation_url": RATE_LIMIT_DOCS,
                "status": str(status),
            }
        elif self.limit == "secondary":
            body = {
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes "
                "before you try again. If you reach out to GitHub Support for help, please "
                f"include the request ID {request_id}.",
                "documentation_url": RATE_LIMIT_DOCS,
                "status": str(status),
            }
        elif path == "/graphql" and status >= 500:
            body = {
                "data": None,
                "errors": [{"message": GRAPHQL_FAILURE.format(request_id=request_id)}],
            }
        else:
            body = error_body(status, SERVER_MESSAGES.get(status) or _phrase(status))
        return Reply(status, body, tuple(headers))


class _Armed:
    """A fault with its counters and RNG; changed only under the table's lock."""

    def __init__(self, fault_id: int, fault: Fault) -> None:
        self.id = fault_id
        self.fault = fault
        self.remaining = fault.times
        self.matched = 0
        self.injected = 0
        self._path = re.compile(fault.path_regex)
        self._random = Random(fault.seed)

    def matches(self, method: str, path: str, body: object) -> bool:
        fault = self.fault
        if fault.method is not None and fault.method != method:
            return False
        if not self._path.search(path):
            return False
        if fault.graphql_operation is None:
            return True
        query = body.get("query") if isinstance(body, dict) else None
        if path != "/graphql" or not isinstance(query, str):
            return False
        if _IDENTIFIER.fullmatch(fault.graphql_operation):
            return operation_name(query) == fault.graphql_operation
        return re.search(fault.graphql_operation, query) is not None

    def fires(self) -> bool:
        """Counts one matching request and says whether this fault answers it."""
        self.matched += 1
        if self.remaining is not None:
            if self.remaining == 0:
                return False
            self.remaining -= 1
        elif self.fault.rate is not None and self._random.random() >= self.fault.rate:
            return False
        self.injected += 1
        return True

    def as_json(self) -> JSON:
        return {
            "id": self.id,
            **asdict(self.fault),
            "remaining": self.remaining,
            "matched": self.matched,
            "injected": self.injected,
        }


class _Table:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.faults: list[_Armed] = []
        self.next_id = 1


# Beside the sandbox rather than in it: a sandbox knows nothing of its faults, and one that is
# garbage-collected takes its faults with it.
_TABLES: WeakKeyDictionary[Sandbox, _Table] = WeakKeyDictionary()
_TABLES_LOCK = threading.Lock()


def _table(sandbox: Sandbox) -> _Table:
    with _TABLES_LOCK:
        table = _TABLES.get(sandbox)
        if table is None:
            table = _TABLES[sandbox] = _Table()
        return table


def add_fault(sandbox: Sandbox, fault: Fault) -> int:
    """Arm ``fault`` on ``sandbox``; returns its id."""
    table = _table(sandbox)
    with table.lock:
        armed = _Armed(table.next_id, fault)
        table.next_id += 1
        table.faults.append(armed)
        return armed.id


def list_faults(sandbox: Sandbox) -> list[JSON]:
    """Every armed fault, in the order they are consulted, with its counters."""
    table = _table(sandbox)
    with table.lock:
        return [armed.as_json() for armed in table.faults]


def clear_faults(sandbox: Sandbox) -> None:
    table = _table(sandbox)
    with table.lock:
        table.faults.clear()


def fault_from_json(body: object) -> Fault:
    """A ``Fault`` from the control API's JSON, with GitHub-style 422s for bad fields."""
    if not isinstance(body, dict):
        raise _invalid("a fault is a JSON object")
    unknown = sorted(set(body) - {f.name for f in fields(Fault)})
    if unknown:
        raise _invalid(f"unknown fault fields: {', '.join(unknown)}")
    if not isinstance(body.get("path_regex"), str):
        raise _invalid("path_regex is required: a regular expression for the request path")
    for name, value in body.items():
        if value is not None and not _has_type(value, _JSON_TYPES[name]):
            raise _invalid(f"{name} has the wrong type")
    values = {name: value for name, value in body.items() if value is not None}
    if "rate" in values:
        values["rate"] = float(values["rate"])
    return Fault(**values)


_JSON_TYPES: Mapping[str, type | tuple[type, ...]] = {
    "path_regex": str,
    "method": str,
    "graphql_operation": str,
    "status": int,
    "times": int,
    "rate": (int, float),
    "seed": int,
    "retry_after": int,
    "rate_limit": str,
    "reset_after": int,
    "delay_ms": int,
    "drop": bool,
    "after": bool,
    "body": (dict, str),
}


def _has_type(value: object, kind: type | tuple[type, ...]) -> bool:
    # JSON true is a Python int too; a boolean is never a count or a status.
    if isinstance(value, bool) and kind is not bool:
        return False
    return isinstance(value, kind)


def intercept(
    sandbox: Sandbox, method: str, path: str, body: object, answer: Callable[[], Reply]
) -> Reply | None:
    """The reply to one API request with the first firing fault applied; None drops it.

    ``answer`` runs the request against the sandbox (it takes the sandbox's lock). Delays are
    slept outside every lock, so a slow request never holds up the others.
    """
    fault = _firing(sandbox, method, path, body)
    if fault is None:
        return answer()
    applied = answer() if fault.after else None
    if fault.delay_ms:
        time.sleep(fault.delay_ms / 1000)
    if fault.status is not None:
        return fault.reply(sandbox, path)
    if fault.drop:
        return None
    return applied if applied is not None else answer()


def _firing(sandbox: Sandbox, method: str, path: str, body: object) -> Fault | None:
    table = _table(sandbox)
    with table.lock:
        for armed in table.faults:
            if armed.matches(method, path, body) and armed.fires():
                return armed.fault
    return None


@lru_cache(maxsize=256)
def operation_name(query: str) -> str | None:
    """The name of a GraphQL document's first operation (None when unnamed or unparsable)."""
    try:
        document = parse(query)
    except GraphQLError:
        return None
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            return definition.name.value if definition.name else None
    return None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # a status HTTP names no phrase for, such as 520
        return "Error"


def _check_regex(name: str, pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise _invalid(f"{name} is not a regular expression: {exc}") from None


def _invalid(message: str) -> SandboxError:
    return SandboxError(422, message)
