"""`scoutflow-gitops status` and the git history it reads (gitlog), on temporary git repos."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scoutflow_gitops import gitlog
from scoutflow_gitops.cli import main
from scoutflow_gitops.gitlog import HistoryUnavailable, file_history
from scoutflow_gitops.status import Arrival, EnvironmentStatus, render
from tests.test_validate import GOOD, NEW_TAG, PROD, STAGE, TAG, commit_all, git, set_tag

DAY1 = "2025-03-01T09:00:00Z"
DAY2 = "2025-03-02T10:30:00Z"
DAY3 = "2025-03-03T11:45:00Z"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    dest = tmp_path / "repo"
    shutil.copytree(GOOD, dest)
    git(dest, "init", "-q")
    commit_all(dest, "initial", DAY1)
    return dest


def status_lines(repo: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["status", "--repo", str(repo)]) == 0
    return capsys.readouterr().out.splitlines()


def test_status_shows_when_each_tag_arrived(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    initial = git(repo, "rev-parse", "HEAD").strip()
    set_tag(repo, STAGE, NEW_TAG)
    bump = commit_all(repo, "bump stage", DAY2)
    # A later commit that leaves the tag alone does not move "since".
    (repo / STAGE).write_text((repo / STAGE).read_text().replace("replicas: 2", "replicas: 3", 1))
    commit_all(repo, "scale stage", DAY3)
    assert status_lines(repo, capsys) == [
        "ENVIRONMENT  TAG      FULL TAG                                  SINCE"
        "                 COMMIT",
        f"dev          e7c24f0  {TAG}  2025-03-01 09:00 UTC  {initial[:7]}",
        f"stage        0123456  {NEW_TAG}  2025-03-02 10:30 UTC  {bump[:7]}",
        f"prod         e7c24f0  {TAG}  2025-03-01 09:00 UTC  {initial[:7]}",
    ]


def test_a_tag_that_came_back_counts_from_its_return(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    set_tag(repo, PROD, NEW_TAG)
    commit_all(repo, "prod forward", DAY2)
    set_tag(repo, PROD, TAG)
    back = commit_all(repo, "prod rolled back", DAY3)
    prod = status_lines(repo, capsys)[3]
    assert prod == f"prod         e7c24f0  {TAG}  2025-03-03 11:45 UTC  {back[:7]}"


def test_uncommitted_tag_is_said_so(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_tag(repo, PROD, NEW_TAG)
    assert status_lines(repo, capsys)[3].split() == [
        "prod",
        "0123456",
        NEW_TAG,
        "not",
        "committed",
        "yet",
        "-",
    ]


def test_without_history_the_time_is_unknown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = tmp_path / "plain"
    shutil.copytree(GOOD, plain)
    lines = status_lines(plain, capsys)
    assert lines[1] == f"dev          e7c24f0  {TAG}  unknown (no git history)  -"
    assert len(lines) == 4


def test_missing_config_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--repo", str(tmp_path)]) == 2
    assert "no pipeline config" in capsys.readouterr().err


def test_render_aligns_columns() -> None:
    rows = [
        EnvironmentStatus("dev", "a" * 40, Arrival("abcdef0", "2025-01-01 00:00 UTC")),
        EnvironmentStatus("production", None, "no global.imageTag in values.yaml"),
    ]
    assert render(rows).splitlines() == [
        "ENVIRONMENT  TAG      FULL TAG                                  SINCE"
        "                              COMMIT",
        f"dev          aaaaaaa  {'a' * 40}  2025-01-01 00:00 UTC               abcdef0",
        "production   -        -                                         "
        "no global.imageTag in values.yaml  -",
    ]


# gitlog ---------------------------------------------------------------------------------------


def test_file_history_is_newest_first_with_dates(repo: Path) -> None:
    set_tag(repo, STAGE, NEW_TAG)
    second = commit_all(repo, "second", DAY2)
    versions = file_history(repo, STAGE)
    assert versions[0].commit == second
    assert [v.committed_at for v in versions] == [
        datetime(2025, 3, 2, 10, 30, tzinfo=UTC),
        datetime(2025, 3, 1, 9, 0, tzinfo=UTC),
    ]
    assert NEW_TAG in versions[0].text
    assert TAG in versions[1].text


def test_file_history_reads_many_versions_in_one_batch(repo: Path) -> None:
    for number in range(30):
        set_tag(repo, STAGE, f"{number:040x}")
        commit_all(repo, f"bump {number}")
    versions = file_history(repo, STAGE)
    assert len(versions) == 31
    assert f"{29:040x}" in versions[0].text
    assert f"{0:040x}" in versions[29].text


def test_deleted_versions_are_left_out(repo: Path) -> None:
    (repo / STAGE).unlink()
    commit_all(repo, "drop stage")
    git(repo, "checkout", "-q", "HEAD~1", "--", STAGE)
    commit_all(repo, "restore stage")
    assert len(file_history(repo, STAGE)) == 2


def test_history_of_a_file_never_committed_is_empty(repo: Path) -> None:
    assert file_history(repo, "environments/qa/values.yaml") == []


def test_paths_are_relative_to_the_repo_argument(repo: Path) -> None:
    versions = file_history(repo / "environments", "stage/values.yaml")
    assert len(versions) == 1
    assert TAG in versions[0].text


def test_not_a_git_repository(tmp_path: Path) -> None:
    with pytest.raises(HistoryUnavailable, match="not a git work tree"):
        file_history(tmp_path, STAGE)
    assert not gitlog.is_work_tree(tmp_path)


def test_repository_without_commits(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    with pytest.raises(HistoryUnavailable) as caught:
        file_history(tmp_path, STAGE)
    assert caught.value.reason == "no commits yet"


def test_shallow_clone(repo: Path, tmp_path: Path) -> None:
    set_tag(repo, STAGE, NEW_TAG)
    commit_all(repo, "second")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", repo.as_uri(), str(clone))
    with pytest.raises(HistoryUnavailable) as caught:
        file_history(clone, STAGE)
    assert caught.value.reason == "shallow clone"
    assert "fetch-depth: 0" in caught.value.hint


def test_listed_files_include_new_files_but_not_ignored_ones(repo: Path) -> None:
    (repo / ".gitignore").write_text("*.tmp\n")
    (repo / "new.yaml").write_text("a: 1\n")
    (repo / "junk.tmp").write_text("x\n")
    listed = gitlog.listed_files(repo)
    assert "new.yaml" in listed
    assert "junk.tmp" not in listed
    assert STAGE in listed
