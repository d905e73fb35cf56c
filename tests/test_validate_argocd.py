"""ARGO001 against real-world Argo CD Applications (tests/fixtures/argocd/, Apache-2.0)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from scoutflow_gitops.validate import (
    RepoFiles,
    argo_validator,
    check_argo_schema,
    structural_to_json_schema,
)

EXAMPLES = Path(__file__).parent / "fixtures" / "argocd" / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


def argo_documents(files: RepoFiles) -> int:
    return sum(
        isinstance(doc, dict) and doc.get("apiVersion") == "argoproj.io/v1alpha1"
        for parsed in files.yaml.values()
        for doc in parsed.plain
    )


def test_all_examples_are_here() -> None:
    assert len(EXAMPLE_FILES) == 9


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_every_example_application_validates(path: Path) -> None:
    files = RepoFiles({path.name: path.read_text()})
    assert [parsed.error for parsed in files.yaml.values()] == [None]
    # The image-updater example also holds a Namespace and an ImageUpdater, which are skipped.
    assert argo_documents(files) == 1
    assert check_argo_schema(files) == []


def example(name: str) -> str:
    return (EXAMPLES / name).read_text()


def rejected(text: str) -> list[tuple[int, str]]:
    return [(f.line, f.message) for f in check_argo_schema(RepoFiles({"app.yaml": text}))]


def test_broken_copy_is_rejected() -> None:
    text = example("cnoe-velero-multisource.yaml")
    assert rejected(text) == []
    broken = text.replace("selfHeal: true", "selfHeal: 'yes'")
    assert broken != text
    line = broken.splitlines().index("      selfHeal: 'yes'") + 1
    assert rejected(broken) == [
        (line, "Application spec.syncPolicy.automated.selfHeal: 'yes' is not of type 'boolean'")
    ]


def test_missing_destination_is_rejected() -> None:
    text = example("gitops-promoter-demo-app.yaml")
    start = text.index("  destination:")
    end = text.index("\n  ", text.index("namespace:", start)) + 1
    broken = text[:start] + text[end:]
    messages = [message for _, message in rejected(broken)]
    assert messages == ["Application spec: 'destination' is required"]


def test_unknown_field_is_rejected_at_its_line() -> None:
    text = example("argo-cd-cmp-plugin-app.yaml").replace("spec:\n", "spec:\n  projcet: x\n", 1)
    assert rejected(text) == [
        (
            text.splitlines().index("  projcet: x") + 1,
            "Application spec.projcet: unknown field 'projcet'",
        )
    ]


@pytest.mark.parametrize("count", ["2", "'2'"])
def test_int_or_string_fields_take_both(count: str) -> None:
    text = (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: a\n"
        "spec:\n  project: default\n  destination:\n    namespace: n\n"
        "  source:\n    repoURL: https://example.com/r\n    kustomize:\n"
        f"      replicas:\n        - name: web\n          count: {count}\n"
    )
    assert rejected(text) == []


def test_int_or_string_refuses_other_types() -> None:
    text = (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: a\n"
        "spec:\n  project: default\n  destination:\n    namespace: n\n"
        "  source:\n    repoURL: https://example.com/r\n    kustomize:\n"
        "      replicas:\n        - name: web\n          count: [2]\n"
    )
    assert [line for line, _ in rejected(text)] == [14]


def test_preserve_unknown_fields_stays_open() -> None:
    # helm.valuesObject is free-form Helm values: anything goes below it.
    text = (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: a\n"
        "spec:\n  project: default\n  destination:\n    namespace: n\n"
        "  source:\n    repoURL: https://example.com/r\n    chart: c\n    helm:\n"
        "      valuesObject:\n        anything: {nested: [1, true]}\n"
    )
    assert rejected(text) == []


def test_structural_conversion() -> None:
    schema = {
        "type": "object",
        "properties": {
            "description": {"type": "string"},
            "open": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "openWithFields": {
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "x-kubernetes-preserve-unknown-fields": True,
            },
            "map": {"type": "object", "additionalProperties": {"type": "string"}},
            "count": {
                "anyOf": [{"type": "integer"}, {"type": "string"}],
                "x-kubernetes-int-or-string": True,
            },
        },
    }
    assert structural_to_json_schema(schema) == {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "description": {"type": "string"},
            "open": {"type": "object"},
            "openWithFields": {"type": "object", "properties": {"a": {"type": "string"}}},
            "map": {"type": "object", "additionalProperties": {"type": "string"}},
            "count": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        },
    }


@pytest.mark.parametrize("name", ["application", "appproject"])
def test_shipped_schemas_are_valid_draft7(name: str) -> None:
    text = resources.files("scoutflow_gitops").joinpath(f"schemas/argocd/{name}.schema.json")
    schema = json.loads(text.read_text())
    assert schema["type"] == "object"
    assert {"apiVersion", "kind", "metadata", "spec"} <= set(schema["properties"])
    argo_validator("Application" if name == "application" else "AppProject").check_schema(schema)
