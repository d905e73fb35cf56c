"""The merge-time guard: a PR may move an environment only forward, unless it is a rollback."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from scoutflow_gitops import cli
from scoutflow_gitops.guard import TagMove, judge
from tests.sandbox.fixtures import LiveSandbox

ROOT = Path(__file__).resolve().parents[1]
SEED_TAG = "e7c24f013e837f438f66a6e039e673f880e2cb89"


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
    )


def set_tag(repo: Path, env: str, sha: str) -> None:
    path = repo / "environments" / env / "values.yaml"
    text = path.read_text()
    current = text.split("imageTag: ", 1)[1][:40]
    path.write_text(text.replace(current, sha))


@pytest.fixture
def repo(tmp_path: Path, live_sandbox: LiveSandbox) -> Iterator[Path]:
    """A GitOps checkout whose environments all run the seeded deployed commit, on `base`."""
    work = tmp_path / "gitops"
    work.mkdir()
    for part in ("environments", ".github/scoutflow-gitops.yml"):
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, work / part)
        else:
            (work / part).parent.mkdir(parents=True)
            shutil.copy(source, work / part)
    for env in ("dev", "stage", "prod"):
        set_tag(work, env, live_sandbox.info.deployed_sha)
    git(work, "init", "-q", "-b", "main")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "base")
    git(work, "branch", "base")
    yield work


def guard(
    live: LiveSandbox, repo: Path, branch: str = "feature", token: str = "t"
) -> tuple[int, str]:
    saved = dict(os.environ)
    os.environ.update(
        GITHUB_TOKEN=token,
        GITHUB_API_URL=live.url,
        GITHUB_SERVER_URL=live.url,
        SCOUTFLOW_GITOPS_WRITE_INTERVAL="0",
    )
    try:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = cli.main(
                ["guard", "--repo", str(repo), "--base", "base", "--head-branch", branch]
            )
        return code, out.getvalue()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_moving_forward_passes(live_sandbox: LiveSandbox, repo: Path) -> None:
    set_tag(repo, "dev", live_sandbox.info.app_commits[-1])
    git(repo, "commit", "-qam", "forward")
    assert guard(live_sandbox, repo)[0] == 0


def test_moving_backward_fails_with_file_line_and_rule(
    live_sandbox: LiveSandbox, repo: Path
) -> None:
    older = live_sandbox.info.app_commits[0]
    set_tag(repo, "stage", older)
    git(repo, "commit", "-qam", "backward")
    code, out = guard(live_sandbox, repo)
    assert code == 1
    assert out.startswith("environments/stage/values.yaml:10: GUARD001 moves stage from")
    assert f"to an older commit {older[:7]}" in out


def test_a_rollback_with_the_hold_marker_may_move_back(
    live_sandbox: LiveSandbox, repo: Path
) -> None:
    set_tag(repo, "stage", live_sandbox.info.app_commits[0])
    (repo / ".github/holds").mkdir()
    (repo / ".github/holds/stage.yml").write_text("environment: stage\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "rollback")
    assert guard(live_sandbox, repo)[0] == 0


def test_prod_moves_back_only_from_the_bots_rollback_branch(
    live_sandbox: LiveSandbox, repo: Path
) -> None:
    set_tag(repo, "prod", live_sandbox.info.app_commits[0])
    git(repo, "commit", "-qam", "prod back")
    assert guard(live_sandbox, repo, branch="hotfix")[0] == 1
    assert guard(live_sandbox, repo, branch="scoutflow-gitops/rollback-prod")[0] == 0


def test_without_a_token_the_guard_says_it_skipped(
    live_sandbox: LiveSandbox, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    set_tag(repo, "stage", live_sandbox.info.app_commits[0])
    git(repo, "commit", "-qam", "backward")
    code, _ = guard(live_sandbox, repo, token="")
    assert code == 0
    assert "guard: skipped: no GITHUB_TOKEN" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("relation", "allowed", "flagged"),
    [
        ("ahead", False, False),
        ("behind", False, True),
        ("behind", True, False),
        ("diverged", False, True),
        ("diverged", True, False),
        ("identical", True, True),
        (None, True, True),
    ],
)
def test_judge_table(relation: str | None, allowed: bool, flagged: bool) -> None:
    move = TagMove("stage", "environments/stage/values.yaml", 10, "a" * 40, "b" * 40, allowed)
    assert (judge(move, relation) is not None) == flagged
