"""Hostile files in the GitOps repository: the pipeline config and the Helm values files.

A broken pipeline config is bad input: exit 1 with the file and line, one read, no write. A
values file the bot cannot edit safely is refused for its environment; with dev and stage both
broken nothing at all is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.hostile.harness import (
    CONFIG,
    assert_input_error,
    assert_no_crash,
    assert_policy,
    commit_gitops,
    file_on_main,
    green_except_last,
    new_app_commit,
    pulls,
    run,
    values_path,
)
from tests.sandbox.fixtures import LiveSandbox

# Nine levels of nine: 9**9 (387 million) strings once aliases are expanded.
BILLION_LAUGHS = "lol0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"lol{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 9)
)


def _ci_event(live: LiveSandbox, name: str) -> dict[str, Any]:
    """A new app commit whose last required workflow just passed."""
    return green_except_last(live, new_app_commit(live, name))


def _config(live: LiveSandbox) -> str:
    return file_on_main(live, CONFIG).decode()


# -- the pipeline config -----------------------------------------------------------------------


def _bomb_at_end(config: str) -> tuple[str, int]:
    text = config.rstrip("\n") + "\n" + BILLION_LAUGHS
    first_alias = text.splitlines().index(next(li for li in text.splitlines() if "*a0" in li))
    return text, first_alias + 1


CONFIG_CASES = {
    "billion-laughs": lambda c: _bomb_at_end(c),
    "billion-laughs-only": lambda c: (BILLION_LAUGHS, 2),
    "huge": lambda c: (c + "#" + "x" * (256 * 1024) + "\n", 1),
    "huge-many-keys": lambda c: (c + "".join(f"# k{i}: {'v' * 20}\n" for i in range(12000)), 1),
    "not-yaml": lambda c: (c + "environments: [\n", 0),
    "tab-indent": lambda c: ("\t" + c, 1),
    "a-list": lambda c: ("- version: 1\n", 1),
    "empty": lambda c: ("", 1),
    "duplicate-key": lambda c: (c + "version: 2\n", 0),
    "python-tag": lambda c: (c.replace("version: 1", "version: !!python/object:os.system {}"), 0),
}


@pytest.mark.parametrize("case", CONFIG_CASES, ids=list(CONFIG_CASES))
def test_a_broken_pipeline_config_is_an_error_naming_file_and_line(
    live_sandbox: LiveSandbox, tmp_path: Path, case: str
) -> None:
    live = live_sandbox
    text, line = CONFIG_CASES[case](_config(live))
    commit_gitops(live, {CONFIG: text})
    job = run(live, tmp_path, _ci_event(live, case))
    error = assert_input_error(job, f"{CONFIG}:", requests=1)
    if line:
        assert f"{CONFIG}:{line}:" in error, error
    assert pulls(live) == []


@pytest.mark.parametrize(
    ("case", "edit", "words"),
    [
        pytest.param(
            "control-character",
            lambda c: c + "# \x1b[31m red\n",
            "not valid YAML",
        ),
        pytest.param(
            "5000-digit-int",
            lambda c: c.replace("changelog_limit: 20", "changelog_limit: 1" + "0" * 5000),
            "5001 digits",
        ),
        pytest.param(
            "omap",
            lambda c: "!!omap [version: 1, extra: 1]\n",
            "YAML tags",
        ),
        pytest.param(
            "binary",
            lambda c: "\x00\x01version: 1\n",
            "binary",
        ),
    ],
)
def test_a_pipeline_config_the_loader_chokes_on_is_still_a_clear_error(
    live_sandbox: LiveSandbox, tmp_path: Path, case: str, edit: Any, words: str
) -> None:
    live = live_sandbox
    commit_gitops(live, {CONFIG: edit(_config(live))})
    job = run(live, tmp_path, _ci_event(live, case))
    assert_input_error(job, f"{CONFIG}", words, requests=1)


def test_a_missing_pipeline_config_at_a_custom_path_is_a_clear_error(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    job = run(
        live,
        tmp_path,
        _ci_event(live, "missing"),
        extra_env={"INPUT_CONFIG_PATH": ".github/nope.yml"},
    )
    assert_input_error(job, ".github/nope.yml does not exist", requests=1)


# -- values files --------------------------------------------------------------------------------


def _both_values(live: LiveSandbox, edit: Any) -> dict[str, bytes]:
    """Apply ``edit`` to dev's and stage's values files; their bytes before the job."""
    files = {
        values_path(env): edit(file_on_main(live, values_path(env)).decode())
        for env in ("dev", "stage")
    }
    commit_gitops(live, files)
    return {path: file_on_main(live, path) for path in files}


def _tag_behind_alias(text: str) -> str:
    tag_line = next(line for line in text.splitlines() if line.startswith("  imageTag: "))
    sha = tag_line.split()[-1]
    anchored = text.replace("global:\n", f"pinned: &tag {sha}\nglobal:\n", 1)
    return anchored.replace(tag_line, "  imageTag: *tag")


def _tag_through_merge(text: str) -> str:
    tag_line = next(line for line in text.splitlines() if line.startswith("  imageTag: "))
    base = f"base: &base\n  imageTag: {tag_line.split()[-1]}\n"
    return base + text.replace(tag_line, "  <<: *base")


VALUES_CASES = {
    "not-yaml": (lambda t: t + "  : [\n", "not valid YAML"),
    "not-utf8-ish": (lambda t: t + "# \x07 bell\n", "characters are not allowed"),
    "tag-behind-alias": (_tag_behind_alias, "is the alias *tag"),
    "tag-through-merge": (_tag_through_merge, "'<<' merge key"),
    "tag-is-a-list": (lambda t: t.replace("  imageTag: ", "  imageTag:\n    - ", 1), "a list"),
    "two-documents": (lambda t: t + "---\nglobal: {}\n", "several YAML documents"),
    "duplicate-tag": (
        lambda t: t.replace("global:\n", "global:\n  imageTag: latest\n", 1),
        "duplicate key 'imageTag'",
    ),
    "tag-not-a-sha": (
        lambda t: t.replace(t.split("imageTag: ")[1].split("\n")[0], "latest", 1),
        "not a commit SHA",
    ),
}


@pytest.mark.parametrize("case", VALUES_CASES, ids=list(VALUES_CASES))
def test_a_values_file_the_bot_cannot_edit_safely_is_refused_with_no_write(
    live_sandbox: LiveSandbox, tmp_path: Path, case: str
) -> None:
    live = live_sandbox
    edit, words = VALUES_CASES[case]
    before = _both_values(live, edit)
    job = run(live, tmp_path, _ci_event(live, case))
    assert_policy(job, "refused", words)
    if case != "tag-not-a-sha":
        assert f"{values_path('dev')}:" in job.outputs["reason"]
        assert f"{values_path('stage')}:" in job.outputs["reason"]
    assert {path: file_on_main(live, path) for path in before} == before
    assert pulls(live) == []


@pytest.mark.parametrize(
    ("case", "edit", "words"),
    [
        pytest.param(
            "billion-laughs",
            lambda t: t + BILLION_LAUGHS,
            "alias",
        ),
        pytest.param(
            "huge",
            lambda t: t + ("#" + "x" * 1023 + "\n") * 300,
            "larger than",
        ),
    ],
)
def test_a_hostile_values_file_is_refused_for_its_environment(
    live_sandbox: LiveSandbox, tmp_path: Path, case: str, edit: Any, words: str
) -> None:
    live = live_sandbox
    before = _both_values(live, edit)
    job = run(live, tmp_path, _ci_event(live, case))
    assert_no_crash(job)
    assert job.result == "refused", job.outputs.get("reason")
    assert words in job.outputs["reason"]
    assert job.writes == ()
    assert {path: file_on_main(live, path) for path in before} == before


def test_only_the_broken_environment_is_left_out(live_sandbox: LiveSandbox, tmp_path: Path) -> None:
    """dev's file is broken, stage's is fine: stage moves, dev stays and the PR says why."""
    live = live_sandbox
    dev = values_path("dev")
    broken = file_on_main(live, dev).decode() + "  : [\n"
    commit_gitops(live, {dev: broken})
    sha = new_app_commit(live, "partial")
    job = run(live, tmp_path, green_except_last(live, sha))
    assert_no_crash(job)
    assert job.result == "merged" and job.outputs["environments"] == "stage"
    assert file_on_main(live, dev).decode() == broken
    assert sha.encode() in file_on_main(live, values_path("stage"))
    (pr,) = pulls(live)
    assert "left out: environments/dev/values.yaml" in pr.body
