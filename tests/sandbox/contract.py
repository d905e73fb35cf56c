"""Checks that what clients sent and what the sandbox answered match GitHub's own descriptions.

- REST: every logged request matches an operation of the trimmed OpenAPI description
  (tests/fixtures/github/openapi.json), uses only documented query parameters, and its JSON
  body validates against the operation's request schema; every response validates against the
  schema documented for its status code.
- GraphQL: every document validates against GitHub's schema, and the answer has exactly the
  shape the document asked for.
- Webhooks: a payload has every field that all of GitHub's real examples of the event have.

Use ``assert_contract(sandbox)`` after driving a sandbox (end-to-end tests included).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_abstract_type,
    parse,
    validate,
)

from scoutflow_gitops.sandbox.graphql_api import schema as graphql_schema
from scoutflow_gitops.sandbox.model import RequestRecord
from scoutflow_gitops.sandbox.state import Sandbox

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "github"
# Path parameters GitHub lets hold slashes; openapi matchers usually do not (see README).
SLASHED_PARAMETERS = frozenset({"path", "ref", "basehead", "branch"})
# Parameters every list operation accepts through pagination even where not listed.
GENERIC_QUERY = frozenset({"per_page", "page"})
# Undocumented for most operations but GitHub's answer to any request without a token.
GENERIC_STATUSES = {401: "basic-error"}
# Answers GitHub gives to any operation but documents for few: server errors, and rate limits
# (429, or 403 with a rate-limit message). The sandbox sends them only when a test injects a
# fault (scoutflow_gitops.sandbox.faults); where an operation documents the status, its own
# schema applies instead. Status 0 logs a connection dropped without an answer.
TRANSIENT_STATUSES = frozenset({429, *range(500, 600)})
RATE_LIMIT_MESSAGES = ("API rate limit exceeded", "You have exceeded a secondary rate limit")
DROPPED = 0
_BASIC_ERROR = {"$ref": "#/components/schemas/basic-error"}
# What GitHub's GraphQL endpoint sends with a server error: its executor's error list (REST's
# error body is covered by basic-error).
GRAPHQL_FAILURE = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "data": {"type": "null"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["message"],
                "properties": {"message": {"type": "string"}},
            },
        },
    },
}
# Request bodies GitHub's descriptions allow in prose but not in the schema, as the schema form.
PROSE_FORMS = {
    # "You can also pass an `array` of labels directly" (PyGithub's add_to_labels does).
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels"): lambda body: (
        {"labels": body} if isinstance(body, list) else body
    ),
}
# Webhook fields that only exist for organization-owned repositories.
ORGANIZATION_ONLY = (".organization",)


@cache
def openapi() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((FIXTURES / "openapi.json").read_text(encoding="utf-8"))
    return spec


@cache
def _components() -> dict[str, Any]:
    converted: dict[str, Any] = to_json_schema(openapi()["components"])
    return converted


def to_json_schema(schema: Any) -> Any:
    """OpenAPI 3.0 schema objects as JSON Schema: ``nullable: true`` admits null."""
    if isinstance(schema, list):
        return [to_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {k: to_json_schema(v) for k, v in schema.items() if k != "nullable"}
    if schema.get("nullable") is True:
        if isinstance(converted.get("type"), str):
            converted["type"] = [converted["type"], "null"]
            if "enum" in converted:
                converted["enum"] = [*converted["enum"], None]
        else:
            converted = {"anyOf": [{"type": "null"}, converted]}
    return converted


@dataclass(frozen=True)
class Operation:
    template: str
    method: str
    spec: dict[str, Any]
    pattern: re.Pattern[str]

    @property
    def literal_length(self) -> int:
        return len(re.sub(r"\{\w+\}", "", self.template))


@cache
def operations() -> tuple[Operation, ...]:
    found = []
    for template, item in openapi()["paths"].items():
        for method, spec in item.items():
            if method == "parameters":
                continue

            def param(match: re.Match[str]) -> str:
                name = match.group(1)
                body = ".+" if name in SLASHED_PARAMETERS else "[^/]+"
                return f"(?P<{name}>{'.*' if name == 'path' else body})"

            pattern = re.compile("^" + re.sub(r"\{(\w+)\}", param, template) + "/?$")
            found.append(Operation(template, method.upper(), spec, pattern))
    return tuple(found)


def find_operation(method: str, path: str) -> Operation | None:
    """The documented operation for a request; the most literal template wins."""
    matches = [op for op in operations() if op.method == method and op.pattern.match(path)]
    return max(matches, key=lambda op: op.literal_length, default=None)


def _resolve(value: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in value:
        _, _, section, name = value["$ref"].split("/", 3)
        value = openapi()["components"][section][name]
    return value


@cache
def _validator(key: str) -> jsonschema.protocols.Validator:
    schema = json.loads(key)
    document = {"allOf": [to_json_schema(schema)], "components": _components()}
    validator: jsonschema.protocols.Validator = jsonschema.Draft4Validator(document)
    return validator


def schema_errors(schema: dict[str, Any], instance: Any) -> list[str]:
    validator = _validator(json.dumps(schema, sort_keys=True))
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message[:300]}"
        for error in validator.iter_errors(instance)
    ]


def check_rest(record: RequestRecord) -> list[str]:
    where = f"{record.method} {record.path} -> {record.status}"
    operation = find_operation(record.method, record.path)
    if operation is None:
        return [f"{where}: no documented operation"]
    problems = []
    parameters = [_resolve(p) for p in operation.spec.get("parameters", ())]
    documented = {p["name"] for p in parameters if p["in"] == "query"} | GENERIC_QUERY
    for name in _query_names(record.query):
        if name not in documented:
            problems.append(f"{where}: undocumented query parameter {name!r}")
    if record.request_body is not None:
        request = operation.spec.get("requestBody")
        if request is None:
            problems.append(f"{where}: sent a body to an operation that takes none")
        else:
            schema = _resolve(request)["content"]["application/json"]["schema"]
            form = PROSE_FORMS.get((record.method, operation.template), lambda body: body)
            body = form(record.request_body)
            problems += [f"{where}: request {e}" for e in schema_errors(schema, body)]
    responses = operation.spec["responses"]
    if record.status == DROPPED:
        return problems
    if str(record.status) in responses:
        response = _resolve(responses[str(record.status)])
        content = response.get("content", {}).get("application/json")
        if content is None:
            if record.response_body is not None:
                problems.append(f"{where}: documented without a body but one was sent")
            return problems
        schema = content["schema"]
    elif record.status in GENERIC_STATUSES:
        schema = {"$ref": f"#/components/schemas/{GENERIC_STATUSES[record.status]}"}
    elif is_transient(record) or is_access_refusal(record):
        schema = _BASIC_ERROR
    else:
        return [*problems, f"{where}: status not documented for {operation.template}"]
    problems += [f"{where}: response {e}" for e in schema_errors(schema, record.response_body)]
    return problems


# Refusals about access that GitHub gives to any operation, documented or not
# (docs.github.com, "Troubleshooting the REST API"; docs/sandbox-rules.md rows 2a, 3a, 4, 7):
# 401 for bad credentials, 404 for what the token may not see, 403 for a missing permission.
ACCESS_MESSAGES = (
    "Resource not accessible by integration",
    "Resource not accessible by personal access token",
    "Must have push access to view collaborator permission.",
    "A JSON web token could not be decoded",
)


def is_access_refusal(record: RequestRecord) -> bool:
    answer = record.response_body
    message = answer.get("message") if isinstance(answer, dict) else None
    return (
        record.status == 401
        or (record.status == 404 and message == "Not Found")
        or (record.status == 403 and message in ACCESS_MESSAGES)
    )


def is_transient(record: RequestRecord) -> bool:
    """A server error or a rate limit, which GitHub may answer to any request."""
    if record.status in TRANSIENT_STATUSES:
        return True
    answer = record.response_body
    message = answer.get("message") if isinstance(answer, dict) else None
    return record.status == 403 and str(message).startswith(RATE_LIMIT_MESSAGES)


def _query_names(query: str) -> Iterator[str]:
    for part in query.split("&"):
        if part:
            yield part.split("=", 1)[0]


def check_graphql(record: RequestRecord) -> list[str]:
    where = f"POST /graphql -> {record.status}"
    body = record.request_body
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return [f"{where}: no query in the request body"]
    document = parse(body["query"])
    problems = [
        f"{where}: invalid document: {e.message}" for e in validate(graphql_schema(), document)
    ]
    if problems:
        return problems
    answer = record.response_body
    if record.status == DROPPED:
        return []
    if record.status != 200 and (is_transient(record) or is_access_refusal(record)):
        error_form = (
            GRAPHQL_FAILURE if isinstance(answer, dict) and "errors" in answer else _BASIC_ERROR
        )
        return [f"{where}: answer {e}" for e in schema_errors(error_form, answer)]
    if not isinstance(answer, dict) or record.status != 200:
        return [f"{where}: GraphQL answers are HTTP 200 with a JSON object"]
    operations_ = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    name = body.get("operationName")
    chosen = [o for o in operations_ if name is None or (o.name and o.name.value == name)]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    root = (
        graphql_schema().mutation_type
        if chosen[0].operation.value == "mutation"
        else graphql_schema().query_type
    )
    assert root is not None
    errored = {tuple(e.get("path", ())) for e in answer.get("errors", ())}
    shape = _ShapeCheck(fragments, errored)
    shape.object(answer.get("data"), root, chosen[0].selection_set, ())
    return [f"{where}: {p}" for p in shape.problems]


class _ShapeCheck:
    """Compares an answer with the selection set that asked for it, field by field."""

    def __init__(
        self, fragments: dict[str, FragmentDefinitionNode], errored: set[tuple[Any, ...]]
    ) -> None:
        self.fragments = fragments
        self.errored = errored
        self.problems: list[str] = []

    def _fields(
        self, selection_set: SelectionSetNode, parent: Any, typename: str | None
    ) -> Iterator[tuple[FieldNode, bool, Any]]:
        """(field, required, owning type) triples. Fields under a type condition that may not
        apply are optional unless the answer's ``__typename`` says which type it is."""
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection, True, parent
                continue
            if isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = selection.selection_set
            else:
                assert isinstance(selection, FragmentSpreadNode)
                fragment = self.fragments[selection.name.value]
                condition, inner = fragment.type_condition, fragment.selection_set
            owner = graphql_schema().get_type(condition.name.value) if condition else parent
            applies = condition is None or condition.name.value in (parent.name, typename)
            certain = applies and (typename is not None or not is_abstract_type(parent))
            for field, required, field_owner in self._fields(inner, owner, typename):
                yield field, required and certain, field_owner

    def object(
        self, value: Any, parent: Any, selection_set: SelectionSetNode, path: tuple[Any, ...]
    ) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            self.problems.append(f"{_dotted(path)}: expected an object")
            return
        allowed: dict[str, tuple[FieldNode, Any]] = {}
        for field, required, owner in self._fields(selection_set, parent, value.get("__typename")):
            key = field.alias.value if field.alias else field.name.value
            allowed[key] = (field, owner)
            if required and key not in value:
                self.problems.append(f"{_dotted((*path, key))}: missing")
        for key, item in value.items():
            if key not in allowed:
                self.problems.append(f"{_dotted((*path, key))}: not asked for")
                continue
            field, owner = allowed[key]
            if field.name.value == "__typename":
                continue
            self.value(item, owner.fields[field.name.value].type, field, (*path, key))

    def value(self, value: Any, kind: Any, field: FieldNode, path: tuple[Any, ...]) -> None:
        if isinstance(kind, GraphQLNonNull):
            if value is None:
                if path not in self.errored:
                    self.problems.append(f"{_dotted(path)}: null for a non-null field")
                return
            kind = kind.of_type
        if value is None:
            return
        if isinstance(kind, GraphQLList):
            if not isinstance(value, list):
                self.problems.append(f"{_dotted(path)}: expected a list")
                return
            for index, item in enumerate(value):
                self.value(item, kind.of_type, field, (*path, index))
            return
        if isinstance(kind, GraphQLEnumType):
            if value not in kind.values:
                self.problems.append(f"{_dotted(path)}: {value!r} is not a {kind.name}")
            return
        if isinstance(kind, GraphQLScalarType):
            expected = {"Int": int, "Float": (int, float), "Boolean": bool}.get(kind.name, str)
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                self.problems.append(f"{_dotted(path)}: {value!r} is not a {kind.name}")
            return
        assert field.selection_set is not None
        self.object(value, get_named_type(kind), field.selection_set, path)


def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path)


def check_record(record: RequestRecord) -> list[str]:
    if record.path == "/graphql":
        return check_graphql(record)
    return check_rest(record)


def assert_contract(sandbox: Sandbox) -> int:
    """Check every request in the sandbox's log; returns how many were checked."""
    records = sandbox.requests()
    problems = [p for record in records for p in check_record(record)]
    assert not problems, "contract violations:\n" + "\n".join(problems)
    return len(records)


# -- webhooks ---------------------------------------------------------------------------------


@cache
def webhook_examples(event: str) -> tuple[dict[str, Any], ...]:
    path = FIXTURES / "webhooks" / f"{event}.json"
    examples: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return tuple(examples)


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Every key path in a JSON value, ``[]`` standing for any list element."""
    paths: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            paths.add(f"{prefix}.{key}")
            paths |= key_paths(item, f"{prefix}.{key}")
    elif isinstance(value, list):
        for item in value:
            paths |= key_paths(item, f"{prefix}[]")
    return paths


def missing_webhook_fields(event: str, payload: dict[str, Any]) -> list[str]:
    """Fields every real example of ``event`` has and ``payload`` lacks.

    A field inside a list counts only when the payload's list has elements, and fields of
    ``organization`` only exist for organization-owned repositories.
    """
    common = set.intersection(*(key_paths(example) for example in webhook_examples(event)))
    have = key_paths(payload)
    missing = []
    for path in sorted(common - have):
        if path.startswith(ORGANIZATION_ONLY):
            continue
        if "[]" in path and not any(p.startswith(path[: path.rindex("[]") + 2]) for p in have):
            continue
        missing.append(path)
    return missing


def assert_webhook(event: str, payload: dict[str, Any]) -> None:
    missing = missing_webhook_fields(event, payload)
    assert not missing, f"{event} payload lacks fields of GitHub's examples: {missing}"
