"""ARGO002 and ARGO003: no Argo CD override moves an environment past its values file.

The attacker is any PR author: an Application under argocd/apps/ is an ordinary file of this
repository, and a PR that leaves environments/*/values.yaml alone is one the bot and the guard
do not look at twice. Argo CD renders the chart with every value file in order (the later wins),
then ``helm.values`` and ``helm.valuesObject`` (the object wins over the string), and passes
``helm.parameters`` / ``helm.fileParameters`` to Helm as --set / --set-file, above everything
else (https://argo-cd.readthedocs.io/en/release-3.4/user-guide/helm/, "Values Files",
"Helm Parameters" and "Helm Value Precedence"). So each of them can move the image tag while
``global.imageTag`` in the values file stays the same, and on dev Argo CD syncs it by itself.

Each validate test copies the clean fixture repository (tests/fixtures/repos/good/), makes the
one change of the attack and expects exactly the finding that stops it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scoutflow_gitops import overrides
from scoutflow_gitops.config import load_config
from tests.test_validate import (  # the repository fixture and the edit helpers are shared
    CONFIG,
    DEV_APP,
    GOOD,
    NEW_TAG,
    PROD_APP,
    STAGE_APP,
    edit,
    errors,
    line,
)

DEV_VALUES = "$values/environments/dev/values.yaml"
# The one line every Application's chart source has just above its valueFiles.
RELEASE = "        releaseName: scoutflow\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    dest = tmp_path / "repo"
    shutil.copytree(GOOD, dest)
    return dest


def helm_block(repo: Path, path: str, block: str) -> None:
    """Add ``block`` (lines indented for ``helm:``) to the chart source of ``path``."""
    edit(repo, path, RELEASE, RELEASE + block)


def test_good_fixture_has_no_override(repo: Path) -> None:
    assert errors(repo) == []


# ARGO002: value files -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        # A file of this repository nobody watches: the bot bumps and the guard compares only
        # environments/dev/values.yaml, and this later file wins.
        "$values/environments/dev/hotfix.yaml",
        # A file beside the chart, in the application repository, outside this repository's review.
        "values-hotfix.yaml",
        # A second ref (a fork) that is not `$values/` at all.
        "$fork/environments/dev/values.yaml",
        # Any URL Helm can fetch.
        "https://example.com/values.yaml",
    ],
)
def test_second_value_file_is_refused(repo: Path, extra: str) -> None:
    edit(repo, DEV_APP, f"- {DEV_VALUES}\n", f"- {DEV_VALUES}\n          - {extra}\n")
    assert errors(repo) == [(DEV_APP, line(repo, DEV_APP, extra), "ARGO002")]


def test_own_value_file_listed_twice_is_refused(repo: Path) -> None:
    """Loading the own file twice is harmless today, but "exactly one" is what the guard trusts."""
    own = line(repo, DEV_APP, f"- {DEV_VALUES}")
    edit(repo, DEV_APP, f"- {DEV_VALUES}\n", f"- {DEV_VALUES}\n          - {DEV_VALUES}\n")
    assert errors(repo) == [(DEV_APP, own + 1, "ARGO002")]


def test_value_file_placed_before_the_own_one_is_refused(repo: Path) -> None:
    edit(repo, DEV_APP, f"- {DEV_VALUES}\n", f"- base.yaml\n          - {DEV_VALUES}\n")
    assert errors(repo) == [(DEV_APP, line(repo, DEV_APP, "- base.yaml"), "ARGO002")]


# ARGO003: the tag key set by an override -------------------------------------------------------


def test_parameter_setting_the_tag_is_refused(repo: Path) -> None:
    helm_block(
        repo,
        DEV_APP,
        f"        parameters:\n          - name: global.imageTag\n            value: {NEW_TAG}\n",
    )
    assert errors(repo) == [(DEV_APP, line(repo, DEV_APP, "name: global.imageTag"), "ARGO003")]


def test_force_string_parameter_setting_the_tag_is_refused(repo: Path) -> None:
    helm_block(
        repo,
        PROD_APP,
        "        parameters:\n"
        "          - name: global.imageTag\n"
        f'            value: "{NEW_TAG}"\n'
        "            forceString: true\n",
    )
    assert errors(repo) == [(PROD_APP, line(repo, PROD_APP, "name: global.imageTag"), "ARGO003")]


@pytest.mark.parametrize(
    "name",
    [
        "global",  # replaces the whole `global` map, tag included
        "replicaCount=1,global.imageTag",  # Argo CD escapes commas in the value, not the name
        " global.imageTag",
    ],
)
def test_parameter_reaching_the_tag_another_way_is_refused(repo: Path, name: str) -> None:
    helm_block(
        repo, DEV_APP, f"        parameters:\n          - name: '{name}'\n            value: x\n"
    )
    assert errors(repo) == [(DEV_APP, line(repo, DEV_APP, f"name: '{name}'"), "ARGO003")]


def test_values_string_setting_the_tag_is_refused(repo: Path) -> None:
    helm_block(
        repo, DEV_APP, f"        values: |\n          global:\n            imageTag: {NEW_TAG}\n"
    )
    assert errors(repo) == [(DEV_APP, line(repo, DEV_APP, "values: |"), "ARGO003")]


def test_values_object_setting_the_tag_is_refused(repo: Path) -> None:
    helm_block(
        repo,
        STAGE_APP,
        f"        valuesObject:\n          global:\n            imageTag: {NEW_TAG}\n",
    )
    assert errors(repo) == [(STAGE_APP, line(repo, STAGE_APP, "valuesObject:"), "ARGO003")]


def test_values_object_dropping_the_tag_is_refused(repo: Path) -> None:
    """A null deletes the key in Helm: the chart's default tag would run instead."""
    helm_block(repo, DEV_APP, "        valuesObject:\n          global: null\n")
    assert errors(repo) == [(DEV_APP, line(repo, DEV_APP, "valuesObject:"), "ARGO003")]


def test_file_parameter_setting_the_tag_is_refused(repo: Path) -> None:
    helm_block(
        repo,
        DEV_APP,
        "        fileParameters:\n          - name: global.imageTag\n            path: tag.txt\n",
    )
    assert errors(repo) == [(DEV_APP, line(repo, DEV_APP, "name: global.imageTag"), "ARGO003")]


def test_overrides_of_other_keys_pass(repo: Path) -> None:
    helm_block(
        repo,
        DEV_APP,
        "        parameters:\n"
        "          - name: replicaCount\n"
        "            value: '2'\n"
        "        values: |\n"
        "          global:\n"
        "            logLevel: debug\n"
        "        valuesObject:\n"
        "          global:\n"
        "            logLevel: debug\n",
    )
    assert errors(repo) == []


# The function the guard calls -----------------------------------------------------------------


def environment(name: str) -> overrides.EnvironmentFiles:
    config = load_config((GOOD / CONFIG).read_text(), CONFIG)
    env = config.environment(name)
    assert env is not None
    return env


def guard_findings(text: str, env: str = "dev", path: str = DEV_APP) -> list[tuple[int, str]]:
    return [(f.line, f.rule) for f in overrides.findings(text, environment(env), path)]


def test_findings_of_the_good_applications_are_empty() -> None:
    for env in ("dev", "stage", "prod"):
        path = f"argocd/apps/scoutflow-{env}.yaml"
        assert guard_findings((GOOD / path).read_text(), env, path) == []


def test_findings_name_file_line_and_rule() -> None:
    text = (
        (GOOD / DEV_APP)
        .read_text()
        .replace(RELEASE, RELEASE + "        parameters:\n          - name: global.imageTag\n")
    )
    [finding] = overrides.findings(text, environment("dev"), DEV_APP)
    assert (finding.path, finding.rule) == (DEV_APP, "ARGO003")
    assert text.splitlines()[finding.line - 1].strip() == "- name: global.imageTag"
    assert "global.imageTag" in finding.message


def test_findings_require_the_own_value_file() -> None:
    """Validate leaves this to APP001; the guard has only this function to ask."""
    text = (GOOD / DEV_APP).read_text().replace(DEV_VALUES, "$values/environments/dev/other.yaml")
    assert [rule for _, rule in guard_findings(text)] == ["ARGO002", "ARGO002"]


def test_single_source_application_is_checked_too() -> None:
    text = (
        "apiVersion: argoproj.io/v1alpha1\n"
        "kind: Application\n"
        "spec:\n"
        "  source:\n"
        "    helm:\n"
        "      valueFiles: [$values/environments/dev/values.yaml]\n"
        "      parameters:\n"
        "        - {name: global.imageTag, value: x}\n"
    )
    assert guard_findings(text) == [(8, "ARGO003")]


def test_values_string_that_does_not_parse_fails_closed() -> None:
    text = (GOOD / DEV_APP).read_text().replace(RELEASE, RELEASE + '        values: "a: [b"\n')
    assert [rule for _, rule in guard_findings(text)] == ["ARGO003"]


def test_application_text_that_does_not_parse_fails_closed() -> None:
    assert [rule for _, rule in guard_findings("spec: [\n")] == ["YAML001"]
