"""The merge-time guard: a PR may move an environment only forward, unless it is a rollback,
and it never fails a PR because its token cannot read the source repository.

The first tests run against the simulator with a token that reaches both repositories; the
access cases answer as GitHub does (`responses`), whatever the simulator does today.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from scoutflow_gitops import cli
from scoutflow_gitops.github import GUARD_PERMISSIONS
from scoutflow_gitops.guard import TagMove, judge
from tests.sandbox.fixtures import CLIENT_TOKEN, LiveSandbox

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


def checkout(tmp_path: Path, deployed: str) -> Path:
    """A GitOps checkout whose environments all run ``deployed``, on branch `base`."""
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
        set_tag(work, env, deployed)
    git(work, "init", "-q", "-b", "main")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "base")
    git(work, "branch", "base")
    return work


@pytest.fixture
def repo(tmp_path: Path, live_sandbox: LiveSandbox) -> Iterator[Path]:
    """A GitOps checkout whose environments all run the seeded deployed commit, on `base`."""
    yield checkout(tmp_path, live_sandbox.info.deployed_sha)


def run_guard(repo: Path, env: Mapping[str, str], branch: str = "feature") -> tuple[int, str]:
    """`scoutflow-gitops guard` with ``env`` as its whole GitHub-related environment."""
    saved = dict(os.environ)
    for name in ("GITHUB_TOKEN", "GITHUB_ACTIONS", *APP_VARIABLES):
        os.environ.pop(name, None)
    os.environ.update(env)
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


def guard(
    live: LiveSandbox, repo: Path, branch: str = "feature", token: str = CLIENT_TOKEN
) -> tuple[int, str]:
    env = {"GITHUB_TOKEN": token, "GITHUB_API_URL": live.url, "GITHUB_SERVER_URL": live.url}
    return run_guard(repo, env, branch)


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


def test_the_rules_are_the_base_revisions_config(
    live_sandbox: LiveSandbox, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A PR cannot change the rules that judge it: here it points the config at another
    source repository while moving stage back, and is judged by the base's config."""
    set_tag(repo, "stage", live_sandbox.info.app_commits[0])
    config = repo / ".github/scoutflow-gitops.yml"
    config.write_text(
        config.read_text().replace("repository: omerbh7/scoutflow-app", "repository: o/other")
    )
    git(repo, "commit", "-qam", "backward, and other rules")
    code, out = guard(live_sandbox, repo)
    assert code == 1
    assert "GUARD001 moves stage from" in out


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


# -- against GitHub's answers: a token that cannot read the source, and App credentials -------

API = "http://api.github.test:8080"
SOURCE = "omerbh7/scoutflow-app"
DEPLOYED = "e7c24f013e837f438f66a6e039e673f880e2cb89"
OLDER = "5" * 40
APP_VARIABLES = ("SCOUTFLOW_GITOPS_APP_ID", "SCOUTFLOW_GITOPS_PRIVATE_KEY")
COMPARE = f"{API}/repos/{SOURCE}/compare/{DEPLOYED}...{OLDER}"
NOT_FOUND = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}


@pytest.fixture
def moved_back(tmp_path: Path) -> Path:
    """A checkout whose PR moves stage from DEPLOYED to an older commit, OLDER."""
    work = checkout(tmp_path, DEPLOYED)
    set_tag(work, "stage", OLDER)
    git(work, "commit", "-qam", "backward")
    return work


@pytest.fixture
def github() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


def private_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def env(**extra: str) -> dict[str, str]:
    return {"GITHUB_API_URL": API, "GITHUB_SERVER_URL": "https://github.test", **extra}


def behind() -> dict[str, object]:
    return {
        "status": "behind",
        "ahead_by": 0,
        "behind_by": 3,
        "total_commits": 0,
        "html_url": f"https://github.test/{SOURCE}/compare",
        "commits": [],
    }


def test_a_token_that_cannot_read_the_source_passes_neutrally_and_says_so(
    moved_back: Path, github: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    """A workflow's GITHUB_TOKEN is "limited to the repository that contains your workflow"
    (docs.github.com, "Automatic token authentication"): for a private source GitHub answers
    404 "Not Found" to the compare and to the repository. That is no divergence and no reason
    to fail the PR: one line, one warning annotation, exit 0."""
    github.add(responses.GET, COMPARE, status=404, json=NOT_FOUND)
    github.add(responses.GET, f"{API}/repos/{SOURCE}", status=404, json=NOT_FOUND)
    code, out = run_guard(moved_back, env(GITHUB_TOKEN="ghs_workflow", GITHUB_ACTIONS="true"))
    assert code == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"guard: skipped: the token cannot see {SOURCE}")
    assert "1 tag change(s) not checked" in err[0]
    assert "SCOUTFLOW_GITOPS_APP_ID, SCOUTFLOW_GITOPS_PRIVATE_KEY" in err[0]
    (annotation,) = out.splitlines()
    assert annotation.startswith("::warning title=scoutflow-gitops guard::guard: skipped: ")
    assert "GUARD001" not in out


def test_app_credentials_mint_a_read_token_for_the_source_and_check_for_real(
    moved_back: Path, github: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the App's credentials the guard mints a token for the source repository alone,
    read-only (POST /app/installations/{id}/access_tokens with `repositories` and
    `permissions`), masks it before use, and a backward move fails as it should."""
    pem = private_key()
    github.add(responses.GET, f"{API}/repos/{SOURCE}/installation", json={"id": 9})
    github.add(
        responses.POST,
        f"{API}/app/installations/9/access_tokens",
        json={"token": "ghs_guard_reader", "expires_at": "2026-11-27T12:00:00Z"},
    )
    github.add(responses.GET, COMPARE, json=behind())
    variables = dict(zip(APP_VARIABLES, ("12", pem), strict=True))
    code, out = run_guard(
        moved_back, env(GITHUB_TOKEN="ghs_workflow", GITHUB_ACTIONS="true", **variables)
    )
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "::add-mask::ghs_guard_reader"
    assert lines[1].startswith("environments/stage/values.yaml:10: GUARD001 moves stage from")
    minted = json.loads(github.calls[1].request.body or b"{}")
    assert minted == {"repositories": ["scoutflow-app"], "permissions": dict(GUARD_PERMISSIONS)}
    assert GUARD_PERMISSIONS == {"contents": "read", "metadata": "read"}
    assert github.calls[2].request.headers["Authorization"] == "token ghs_guard_reader"
    assert "1 refused" in capsys.readouterr().err


def test_app_credentials_that_mint_nothing_for_the_source_pass_neutrally(
    moved_back: Path, github: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    github.add(responses.GET, f"{API}/repos/{SOURCE}/installation", status=404, json=NOT_FOUND)
    variables = dict(zip(APP_VARIABLES, ("12", private_key()), strict=True))
    code, out = run_guard(moved_back, env(**variables))
    assert (code, out) == (0, "")
    assert capsys.readouterr().err.startswith(
        f"guard: skipped: the GitHub App is not installed on {SOURCE}"
    )


def test_a_move_to_a_commit_the_source_does_not_have_fails(
    moved_back: Path, github: responses.RequestsMock
) -> None:
    """A readable repository that answers 404 "Not Found" to the compare has no such commit:
    the move is to an unknown commit, which no PR may make, rollback or not."""
    github.add(responses.GET, COMPARE, status=404, json=NOT_FOUND)
    github.add(responses.GET, f"{API}/repos/{SOURCE}", json={"full_name": SOURCE})
    code, out = run_guard(moved_back, env(GITHUB_TOKEN="ghs_reader"))
    assert code == 1
    assert f"to an unknown commit {OLDER[:7]}" in out


def test_histories_without_a_common_ancestor_are_unrelated(
    moved_back: Path, github: responses.RequestsMock
) -> None:
    """GitHub's 404 "No common ancestor between <base> and <head>." (github-changelog-generator
    #994) is the one 404 that means diverged."""
    github.add(
        responses.GET,
        COMPARE,
        status=404,
        json={"message": f"No common ancestor between {DEPLOYED} and {OLDER}."},
    )
    code, out = run_guard(moved_back, env(GITHUB_TOKEN="ghs_reader"))
    assert code == 1
    assert f"to an unrelated commit {OLDER[:7]}" in out


def test_a_broken_app_key_fails_the_guard_instead_of_passing_it(
    moved_back: Path, github: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only "this token cannot read the source repository" passes neutrally. Credentials that
    cannot even sign (who controls them: whoever edits the environment's secret) are an error,
    so the guard cannot be made to pass by breaking what it reads with."""
    variables = dict(zip(APP_VARIABLES, ("12", "not a PEM key"), strict=True))
    code, out = run_guard(moved_back, env(**variables))
    assert code != 0
    assert "GUARD" not in out
    err = capsys.readouterr().err
    assert "skipped" not in err
    assert "private_key" in err or "PEM" in err
