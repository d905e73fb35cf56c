"""CODEOWNERS001/002 (and the CODEOWNERS000 warning): CODEOWNERS agrees with the pipeline config.

With "Require review from Code Owners" on, a PR that changes an owned file waits for one of its
owners, and "the last matching pattern takes the most precedence" (docs.github.com, "About code
owners", https://docs.github.com/en/repositories/managing-your-repositorys-settings-and-features/customizing-your-repository/about-code-owners).
The tests copy the clean fixture repository (tests/fixtures/repos/good/), write one CODEOWNERS
and expect exactly the findings of these rules.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scoutflow_gitops.codeowners import owners_of, parse
from scoutflow_gitops.gitlog import HistoryUnavailable
from scoutflow_gitops.validate import Finding, read_repo, run_rules

GOOD = Path(__file__).parent / "fixtures" / "repos" / "good"
LIVE_CODEOWNERS = Path(__file__).parent.parent / ".github" / "CODEOWNERS"
CODEOWNERS = ".github/CODEOWNERS"
# The CODEOWNERS of this repository before code owners stopped owning dev's and stage's values.
CATCH_ALL = (
    "# Every change needs a review from the platform owners.\n"
    "*                           @omerbh7\n"
    "/environments/prod/         @omerbh7 @release-manager\n"
    "/argocd/apps/scoutflow-prod.yaml  @omerbh7 @release-manager\n"
    "/.github/                   @omerbh7\n"
)

Row = tuple[str, int, str, str]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    dest = tmp_path / "repo"
    shutil.copytree(GOOD, dest)
    return dest


def codeowners_findings(repo: Path, text: str | None) -> list[Row]:
    """(path, line, rule, severity) of the CODEOWNERS rules' findings with ``text`` as
    .github/CODEOWNERS (None: no CODEOWNERS file)."""
    target = repo / CODEOWNERS
    if text is None:
        target.unlink()
    else:
        target.write_text(text)
    history = HistoryUnavailable("not a git work tree")
    found = run_rules(read_repo(repo), history)
    return [(f.path, f.line, f.rule, f.severity) for f in found if f.rule.startswith("CODEOWNERS")]


def test_todays_catch_all_owner_is_reported_for_dev_and_stage(repo: Path) -> None:
    """The catch-all ``*`` is the last pattern matching dev's and stage's values files, so each
    CI bump would wait for @omerbh7; the finding points at that line."""
    assert codeowners_findings(repo, CATCH_ALL) == [
        (CODEOWNERS, 2, "CODEOWNERS002", "error"),
        (CODEOWNERS, 2, "CODEOWNERS002", "error"),
    ]
    assert run_rules_messages(repo, CATCH_ALL)[0] == (
        "CODEOWNERS002 environments/dev/values.yaml (dev follows CI) is owned by @omerbh7 "
        "through '*', so every bump waits for their review: add a later line for it with no "
        "owners, or narrow the pattern"
    )


def test_catch_all_first_does_not_help_when_later_lines_are_narrower(repo: Path) -> None:
    """Later lines only win for the paths they match; dev's values still fall to ``*``."""
    text = "/environments/dev/  @omerbh7\n*  @omerbh7\n/environments/prod/ @release-manager\n"
    assert codeowners_findings(repo, text) == [
        (CODEOWNERS, 2, "CODEOWNERS002", "error"),
        (CODEOWNERS, 2, "CODEOWNERS002", "error"),
    ]


def test_an_entry_without_owners_un_owns_ci_following_values(repo: Path) -> None:
    """A later line with no owners leaves dev's and stage's values without a code owner."""
    text = CATCH_ALL + "/environments/dev/\n/environments/stage/values.yaml\n"
    assert codeowners_findings(repo, text) == []


def test_prod_values_file_with_no_owner_is_reported(repo: Path) -> None:
    fixture = (GOOD / CODEOWNERS).read_text()
    text = fixture.replace("/environments/prod/           @platform @release-manager\n", "")
    assert codeowners_findings(repo, text) == [(CODEOWNERS, 1, "CODEOWNERS001", "error")]


def test_prod_values_un_owned_by_a_later_line_is_reported_at_that_line(repo: Path) -> None:
    text = (GOOD / CODEOWNERS).read_text() + "environments/\n"
    last = len(text.splitlines())
    assert codeowners_findings(repo, text) == [(CODEOWNERS, last, "CODEOWNERS001", "error")]


def test_pipeline_config_and_codeowners_itself_must_be_owned(repo: Path) -> None:
    text = "/argocd/ @platform\n/environments/prod/ @release-manager\n"
    found = run_rules_messages(repo, text)
    assert found == [
        "CODEOWNERS001 .github/CODEOWNERS (CODEOWNERS itself) matches no pattern: "
        "give it a code owner",
        "CODEOWNERS001 .github/scoutflow-gitops.yml (the pipeline config) matches no pattern: "
        "give it a code owner",
    ]


def test_workflows_must_be_owned(repo: Path) -> None:
    (repo / ".github" / "workflows").mkdir()
    (repo / ".github" / "workflows" / "ci.yml").write_text("on: push\njobs: {}\n")
    text = (GOOD / CODEOWNERS).read_text() + "/.github/workflows/\n"
    assert run_rules_messages(repo, text) == [
        "CODEOWNERS001 .github/workflows/ci.yml (a workflow) is un-owned by "
        "'/.github/workflows/': give it a code owner"
    ]


def test_missing_codeowners_is_a_warning(repo: Path) -> None:
    assert codeowners_findings(repo, None) == [(CODEOWNERS, 1, "CODEOWNERS000", "warning")]


def test_codeowners_at_the_root_is_read_when_github_has_none(repo: Path) -> None:
    """GitHub reads .github/CODEOWNERS, else CODEOWNERS, else docs/CODEOWNERS."""
    (repo / CODEOWNERS).unlink()
    (repo / "CODEOWNERS").write_text(CATCH_ALL)
    found = run_rules(read_repo(repo), HistoryUnavailable(""))
    rows = [(f.path, f.line, f.rule) for f in found if f.rule.startswith("CODEOWNERS")]
    assert rows == [("CODEOWNERS", 2, "CODEOWNERS002"), ("CODEOWNERS", 2, "CODEOWNERS002")]


def test_this_repositorys_codeowners_passes(repo: Path) -> None:
    """The live CODEOWNERS owns prod, argocd/, the pipeline and the workflows, not dev's and
    stage's values files."""
    assert codeowners_findings(repo, LIVE_CODEOWNERS.read_text()) == []
    rules = parse(LIVE_CODEOWNERS.read_text())
    assert owners_of(rules, "environments/dev/values.yaml") == ()
    assert owners_of(rules, ".github/holds/stage.yml") == ()
    assert "@release-manager" in owners_of(rules, "environments/prod/values.yaml")
    assert "@release-manager" in owners_of(rules, ".github/holds/prod.yml")
    for owned in ("argocd/apps/scoutflow-dev.yaml", "src/scoutflow_gitops/bump.py", "action.yml"):
        assert owners_of(rules, owned) != (), owned


def test_patterns_follow_githubs_rules() -> None:
    """gitignore-style patterns without ``!`` and ``[ ]``; the last match wins; ``docs/*`` owns
    docs/'s own files, not deeper ones; ``apps/`` is any apps folder, ``/apps/`` only the root's;
    ``**/logs`` is a logs folder at any depth (docs.github.com, "About code owners")."""
    rules = parse(
        "*              @lead  # the fallback\n"
        "*.js           @js\n"
        "docs/*         @writer\n"
        "apps/          @apps\n"
        "/build/        @builder\n"
        "**/logs        @logs\n"
        "/apps/github\n"
        "!apps/skip     @ignored\n"
        "\\#notes        @notes\n"
    )
    assert owners_of(rules, "README.md") == ("@lead",)
    assert owners_of(rules, "src/web/app.js") == ("@js",)
    assert owners_of(rules, "docs/start.md") == ("@writer",)
    assert owners_of(rules, "docs/build-app/trouble.md") == ("@lead",)
    assert owners_of(rules, "src/apps/main.py") == ("@apps",)
    assert owners_of(rules, "build/out.txt") == ("@builder",)
    assert owners_of(rules, "src/build/out.txt") == ("@lead",)
    assert owners_of(rules, "deep/down/logs/today.txt") == ("@logs",)
    assert owners_of(rules, "apps/github/main.py") == ()
    assert owners_of(rules, "apps/skip/main.py") == ("@apps",)
    assert owners_of(rules, "#notes") == ("@notes",)


def run_rules_messages(repo: Path, text: str) -> list[str]:
    (repo / CODEOWNERS).write_text(text)
    found: list[Finding] = run_rules(read_repo(repo), HistoryUnavailable(""))
    return [f"{f.rule} {f.message}" for f in found if f.rule.startswith("CODEOWNERS")]


def test_the_bots_reading_of_codeowners_agrees_with_the_simulators() -> None:
    """The simulator reads CODEOWNERS to hold merges for code owners; `validate` reads it to
    check what is owned. They are kept apart (the simulator imports none of the bot's
    decisions), so this table holds the two readings to the same answers."""
    from scoutflow_gitops.sandbox import protection

    text = (
        "*.md @docs\n/environments/prod/ @release\napps/ @apps\ndocs/* @docs-top\n"
        "/.github/ @platform\n/.github/holds/\n/.github/holds/prod.yml @release\n"
        "**/values.yaml @values\n/src/**/test_* @tests\n"
    )
    paths = (
        "README.md",
        "environments/prod/values.yaml",
        "environments/dev/values.yaml",
        "argocd/apps/scoutflow-dev.yaml",
        "apps/x.yaml",
        "docs/a.md",
        "docs/deep/b.txt",
        ".github/holds/prod.yml",
        ".github/holds/dev.yml",
        ".github/workflows/ci.yml",
        "src/pkg/test_thing.py",
        "src/pkg/thing.py",
    )
    bot = parse(text)
    simulator = protection.parse_codeowners(text)
    for path in paths:
        # The simulator keeps logins, the bot keeps the file's `@login` words.
        ours = tuple(owner.removeprefix("@") for owner in owners_of(bot, path))
        assert ours == protection.owners_of(simulator, path), path
