"""The contract checks themselves: they must catch what they claim to catch."""

from __future__ import annotations

from typing import Any

from scoutflow_gitops.sandbox.model import RequestRecord
from tests.sandbox import contract
from tests.sandbox.fixtures import LiveSandbox


def _record(
    method: str, path: str, status: int, response: Any, request: Any = None, query: str = ""
) -> RequestRecord:
    return RequestRecord(method, path, query, status, request, response)


def test_nullable_becomes_json_schema_null() -> None:
    schema = {"type": "string", "nullable": True, "enum": ["a"]}
    assert contract.to_json_schema(schema) == {"type": ["string", "null"], "enum": ["a", None]}
    ref = {"allOf": [{"$ref": "#/x"}], "nullable": True}
    assert contract.to_json_schema(ref) == {
        "anyOf": [{"type": "null"}, {"allOf": [{"$ref": "#/x"}]}]
    }


def test_operations_match_paths_with_slashes() -> None:
    found = contract.find_operation("GET", "/repos/o/r/contents/environments/dev/values.yaml")
    assert found is not None and found.template == "/repos/{owner}/{repo}/contents/{path}"
    ref = contract.find_operation("PATCH", "/repos/o/r/git/refs/heads/promote/dev")
    assert ref is not None and ref.template == "/repos/{owner}/{repo}/git/refs/{ref}"
    assert contract.find_operation("GET", "/repos/o/r/unknown") is None


def test_rest_checks_catch_bad_requests_and_responses() -> None:
    ref = {
        "ref": "refs/heads/x",
        "node_id": "n",
        "url": "u",
        "object": {"type": "commit", "sha": "a" * 40, "url": "u"},
    }
    good = _record("GET", "/repos/o/r/git/ref/heads/x", 200, ref)
    assert contract.check_rest(good) == []
    broken = _record("GET", "/repos/o/r/git/ref/heads/x", 200, {**ref, "object": None})
    assert any("object" in p for p in contract.check_rest(broken))
    odd_query = _record("GET", "/repos/o/r/git/ref/heads/x", 200, ref, query="color=red")
    assert any("undocumented query parameter 'color'" in p for p in contract.check_rest(odd_query))
    bad_body = _record("POST", "/repos/o/r/git/refs", 201, ref, request={"ref": 5, "sha": "s"})
    assert any("request" in p for p in contract.check_rest(bad_body))
    undocumented = _record("GET", "/repos/o/r/git/ref/heads/x", 418, {"message": "teapot"})
    assert any("status not documented" in p for p in contract.check_rest(undocumented))


def test_graphql_shape_checks_catch_missing_and_extra_fields() -> None:
    document = '{ repository(owner: "o", name: "r") { id name } }'
    good = _record(
        "POST",
        "/graphql",
        200,
        {"data": {"repository": {"id": "R", "name": "r"}}},
        {"query": document},
    )
    assert contract.check_graphql(good) == []
    missing = _record(
        "POST", "/graphql", 200, {"data": {"repository": {"id": "R"}}}, {"query": document}
    )
    assert contract.check_graphql(missing) == ["POST /graphql -> 200: repository.name: missing"]
    extra = _record(
        "POST",
        "/graphql",
        200,
        {"data": {"repository": {"id": "R", "name": "r", "x": 1}}},
        {"query": document},
    )
    assert contract.check_graphql(extra) == ["POST /graphql -> 200: repository.x: not asked for"]
    wrong_type = _record(
        "POST",
        "/graphql",
        200,
        {"data": {"repository": {"id": "R", "name": 3}}},
        {"query": document},
    )
    assert contract.check_graphql(wrong_type) == [
        "POST /graphql -> 200: repository.name: 3 is not a String"
    ]
    invalid = _record("POST", "/graphql", 200, {"errors": []}, {"query": "{ nope }"})
    assert "invalid document" in contract.check_graphql(invalid)[0]


def test_webhook_check_names_missing_fields() -> None:
    example = contract.webhook_examples("issue_comment")[0]
    assert contract.missing_webhook_fields("issue_comment", example) == []
    trimmed = {**example, "comment": {k: v for k, v in example["comment"].items() if k != "body"}}
    assert contract.missing_webhook_fields("issue_comment", trimmed) == [".comment.body"]


def test_a_live_run_is_checked_request_by_request(live_sandbox: LiveSandbox) -> None:
    live_sandbox.github.get_repo(live_sandbox.info.app_repo).get_branch("main")
    assert contract.assert_contract(live_sandbox.sandbox) == 2
