"""The pipeline config loader: the real config loads, and every bad variant is located.

Each variant changes the real ``.github/scoutflow-gitops.yml`` in one place and expects a
``LocatedError`` that names the file, the line of the change and the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from scoutflow_gitops.config import (
    DEFAULT_CONFIG_PATH,
    MAX_CONFIG_BYTES,
    RequiredWorkflow,
    load_config,
)
from scoutflow_gitops.errors import LocatedError

REAL = (Path(__file__).parent.parent / DEFAULT_CONFIG_PATH).read_text()


def test_real_config_loads() -> None:
    config = load_config(REAL)
    assert config.path == DEFAULT_CONFIG_PATH
    assert config.source.repository == "omerbh7/scoutflow-app"
    assert [env.name for env in config.environments] == ["dev", "stage", "prod"]
    assert [env.name for env in config.ci_environments] == ["dev", "stage"]
    prod = config.environment("prod")
    assert prod is not None and prod.gate is not None
    assert prod.gate.promoted_from == "stage"
    assert not prod.follows_ci
    assert config.merge_method == "squash"
    assert config.source.required_workflows == (
        RequiredWorkflow(".github/workflows/backend-ci.yml", "Backend CI"),
        RequiredWorkflow(".github/workflows/frontend-ci.yml", "Frontend CI"),
        RequiredWorkflow(".github/workflows/database-ci.yml", "Database CI"),
    )


def _workflows(lines: str) -> str:
    """The real config with its required workflows replaced by ``lines``."""
    return re.sub(
        r"  required_workflows:\n(    .*\n|      .*\n)+", f"  required_workflows:\n{lines}", REAL
    )


def test_a_bare_string_is_a_workflow_file_and_the_name_is_optional() -> None:
    config = load_config(
        _workflows(
            "    - .github/workflows/backend-ci.yml\n    - file: .github/workflows/lint.yaml\n"
        )
    )
    workflows = config.source.required_workflows
    assert workflows == (
        RequiredWorkflow(".github/workflows/backend-ci.yml"),
        RequiredWorkflow(".github/workflows/lint.yaml"),
    )
    # Messages fall back to the file name when no display name is given.
    assert [workflow.label for workflow in workflows] == ["backend-ci.yml", "lint.yaml"]


def test_a_display_name_alone_is_refused_with_the_new_form_as_hint() -> None:
    """The old form (`- Backend CI`) named a workflow by display name, which two workflow files
    may share (GitHub does not require unique `name:`s; e.g. camunda/camunda#11543 fixed two
    workflows "having the same name"): it is an error whose hint shows the form by file."""
    text = _workflows("    - Backend CI\n")
    with pytest.raises(LocatedError) as caught:
        load_config(text)
    error = caught.value
    assert error.line == line_of_text(text, "    - Backend CI")
    assert error.reason == (
        "source.required_workflows[0]: 'Backend CI' is not a workflow file "
        "(.github/workflows/<file>.yml)"
    )
    assert "`- file: .github/workflows/backend-ci.yml` and `name: Backend CI`" in error.hint


def test_a_run_path_with_a_ref_matches_its_workflow_file() -> None:
    """GitHub's REST example of a workflow run (OpenAPI `workflow-run` examples) has
    `"path": ".github/workflows/build.yml@main"`; its webhook examples have the bare file."""
    source = load_config(REAL).source
    backend = source.required_workflow(".github/workflows/backend-ci.yml@main")
    assert backend is not None and backend.name == "Backend CI"
    assert source.required_workflow(".github/workflows/backend-ci.yml") == backend
    assert source.required_workflow(".github/workflows/backend-ci.yaml") is None
    assert source.required_workflow("dynamic/github-code-scanning/codeql") is None
    # The OpenAPI example names the repository too: this one's own prefix is the same file,
    # another repository's workflow of the same path never counts.
    own = f"{source.repository}/.github/workflows/backend-ci.yml@main"
    assert source.required_workflow(own) == backend
    assert source.required_workflow("someone/else/.github/workflows/backend-ci.yml@main") is None


@pytest.mark.parametrize("method", ["squash", "merge", "rebase"])
def test_merge_method_is_read(method: str) -> None:
    text = REAL.replace("merge_method: squash", f"merge_method: {method}")
    assert load_config(text).merge_method == method


def test_merge_method_defaults_to_squash() -> None:
    text = REAL.replace("merge_method: squash\n", "")
    assert "merge_method:" not in text
    assert load_config(text).merge_method == "squash"


def replace(old: str, new: str) -> Callable[[str], str]:
    def change(text: str) -> str:
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
        return text.replace(old, new)

    return change


@dataclass(frozen=True)
class Bad:
    change: Callable[[str], str]
    # The line the error must name: its number, or text on it (its first occurrence; for
    # several lines of text, the last of them).
    where: str | int
    reason: str


def line_of_text(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


CASES = {
    "wrong enum": Bad(
        replace("    merge: none", "    merge: never"),
        "merge: never",
        "environments[2].merge: 'never' is not one of: auto, direct, none",
    ),
    "repository as a URL": Bad(
        replace("repository: omerbh7/scoutflow-app", "repository: https://github.com/o/r"),
        "repository: https://",
        "source.repository: 'https://github.com/o/r' is not in the expected form",
    ),
    "repository without owner": Bad(
        replace("repository: omerbh7/scoutflow-app", "repository: scoutflow-app"),
        "repository: scoutflow-app",
        "source.repository: 'scoutflow-app' is not in the expected form",
    ),
    "branch with ..": Bad(
        replace("  branch: main", "  branch: release..main"),
        "release..main",
        "source.branch: 'release..main' is not in the expected form",
    ),
    "branch with leading /": Bad(
        replace("  branch: main", "  branch: /main"),
        "branch: /main",
        "source.branch: '/main' is not in the expected form",
    ),
    "bump branch outside the bot's prefix": Bad(
        replace("  branch: scoutflow-gitops/bump-dev-stage", "  branch: main"),
        "bump:\n  branch: main",
        "bump.branch",
    ),
    "path with ..": Bad(
        replace("values_file: environments/dev/", "values_file: environments/../../dev/"),
        "environments/../../dev/",
        "environments[0].values_file: 'environments/../../dev/values.yaml' is not in the",
    ),
    "absolute path": Bad(
        replace("application: argocd/apps/scoutflow-prod.yaml", "application: /etc/passwd"),
        "/etc/passwd",
        "environments[2].application: '/etc/passwd' is not in the expected form",
    ),
    "duplicate environment name": Bad(
        replace("  - name: stage", "  - name: dev"),
        "    merge: auto\n\n  - name: dev",
        "environments[1].name: environment 'dev' is defined twice",
    ),
    "promoted_from unknown": Bad(
        replace("promoted_from: stage", "promoted_from: qa"),
        "promoted_from: qa",
        "environments[2].gate.promoted_from: promoted_from names no other environment ('qa')",
    ),
    "gated environment following CI": Bad(
        replace("    follows_ci: false", "    follows_ci: true"),
        "scoutflow-prod.yaml\n    follows_ci: true",
        "environments[2].follows_ci: a gated environment cannot also follow CI",
    ),
    "duplicate key": Bad(
        replace("changelog_limit: 20", "changelog_limit: 20\nchangelog_limit: 30"),
        "changelog_limit: 30",
        'not valid YAML: found duplicate key "changelog_limit"',
    ),
    "alias (billion laughs)": Bad(
        lambda text: "lol: &lol [lol, lol]\nlol2: &lol2 [*lol, *lol]\n" + text,
        "lol2",
        "YAML aliases (*name) are not allowed here",
    ),
    "file too large": Bad(
        lambda text: text + "#" * MAX_CONFIG_BYTES + "\n",
        1,
        "file is larger than 256 KiB",
    ),
    "unknown merge method": Bad(
        replace("merge_method: squash", "merge_method: fast-forward"),
        "merge_method: fast-forward",
        "merge_method: 'fast-forward' is not one of: squash, merge, rebase",
    ),
    "not YAML": Bad(
        lambda text: "version: 1\nsource: repository: x\n", 2, "not valid YAML: mapping values"
    ),
    "not a mapping": Bad(lambda text: "- dev\n- prod\n", 1, "is not of type 'object'"),
    "empty required list": Bad(
        lambda text: re.sub(
            r"  required_workflows:\n(    .*\n|      .*\n)+", "  required_workflows: []\n", text
        ),
        "required_workflows",
        "source.required_workflows: [] should be non-empty",
    ),
    "required workflow outside .github/workflows": Bad(
        replace("file: .github/workflows/frontend-ci.yml", "file: ci/frontend.yml"),
        "file: ci/frontend.yml",
        "source.required_workflows[1].file: 'ci/frontend.yml' is not a workflow file",
    ),
    "required workflow with an unknown key": Bad(
        replace("      name: Database CI", "      name: Database CI\n      when: always"),
        "when: always",
        "source.required_workflows[2]: unknown field 'when'",
    ),
    "the same workflow file twice": Bad(
        replace(
            "file: .github/workflows/database-ci.yml", "file: .github/workflows/backend-ci.yml"
        ),
        "name: Frontend CI\n    - file: .github/workflows/backend-ci.yml",
        "source.required_workflows[2]: .github/workflows/backend-ci.yml is required twice",
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_config_is_located(case: Bad) -> None:
    text = case.change(REAL)
    if isinstance(case.where, int):
        line = case.where
    elif "\n" in case.where:
        line = text[: text.index(case.where) + len(case.where)].count("\n") + 1
    else:
        line = line_of_text(text, case.where)
    with pytest.raises(LocatedError) as caught:
        load_config(text, DEFAULT_CONFIG_PATH)
    error = caught.value
    assert (error.path, error.line) == (DEFAULT_CONFIG_PATH, line)
    assert case.reason in error.reason
    assert str(error).startswith(f"{DEFAULT_CONFIG_PATH}:{line}: ")


# An unknown field is reported at the misspelt key's own line: (old, new, the misspelt key).
UNKNOWN_FIELDS = {
    "at the top level": ("changelog_limit: 20", "changelog_limit: 20\nchangelog_limt: 5", "limt"),
    "in an environment": ("    merge: auto\n", "    merge: auto\n    colour: x\n", "colour"),
    "in a gate": ("      soak_minutes: 30", "      soak_minutes: 30\n      colour: x", "colour"),
}


@pytest.mark.parametrize(("old", "new", "key"), UNKNOWN_FIELDS.values(), ids=UNKNOWN_FIELDS.keys())
def test_unknown_field_is_located_at_its_own_line(old: str, new: str, key: str) -> None:
    text = REAL.replace(old, new, 1)
    with pytest.raises(LocatedError) as caught:
        load_config(text, DEFAULT_CONFIG_PATH)
    assert caught.value.line == line_of_text(text, key)


@pytest.mark.parametrize(("old", "new", "key"), UNKNOWN_FIELDS.values(), ids=UNKNOWN_FIELDS.keys())
def test_unknown_field_is_named(old: str, new: str, key: str) -> None:
    with pytest.raises(LocatedError) as caught:
        load_config(REAL.replace(old, new, 1), DEFAULT_CONFIG_PATH)
    assert caught.value.path == DEFAULT_CONFIG_PATH
    assert "unknown field" in caught.value.reason
    assert key in caught.value.reason
