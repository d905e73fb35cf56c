"""The merge-time guard: a PR may move an environment only forward, unless it is a rollback,
and it never fails a PR because its token cannot read the source repository.

Each attack test says what it tries and who controls the input it forges: a PR's author
controls its files (values, config, hold markers), its branch name and its commits' dates;
GitHub writes the event payload (the PR's author) and the base branch's history.

The first tests run against the simulator with a token that reaches both repositories; the
access cases answer as GitHub does (`responses`), whatever the simulator does today.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from scoutflow_gitops.gates import Refusal
from scoutflow_gitops.github import GUARD_PERMISSIONS
from scoutflow_gitops.guard import TagMove, judge
from tests.e2e.harness import run_cli
from tests.sandbox.fixtures import CLIENT_TOKEN, LiveSandbox

ROOT = Path(__file__).resolve().parents[1]
SEED_TAG = "e7c24f013e837f438f66a6e039e673f880e2cb89"
# GitHub's `pull_request` "opened" example (octokit/webhooks-examples), whose author we replace.
PR_EVENT = ROOT / "tests/fixtures/github/webhooks/pull_request.opened.json"
BOT = "scoutflow-gitops[bot]"
PERSON = ("Codertocat", "User")
GITOPS_REPO = "omerbh7/scoutflow-gitops"


def git(repo: Path, *args: str, when: datetime | None = None) -> None:
    """Run git; ``when`` dates the commit (author and committer), as a forger could."""
    dated = dict(os.environ)
    if when is not None:
        dated["GIT_AUTHOR_DATE"] = dated["GIT_COMMITTER_DATE"] = when.isoformat()
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
        env=dated,
    )


def ago(minutes: int) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)


def set_tag(repo: Path, env: str, sha: str) -> None:
    path = repo / "environments" / env / "values.yaml"
    text = path.read_text()
    current = text.split("imageTag: ", 1)[1][:40]
    path.write_text(text.replace(current, sha))


def checkout(tmp_path: Path, deployed: str, when: datetime | None = None) -> Path:
    """A GitOps checkout whose environments all run ``deployed``, on branch `base`.

    Committed two days ago unless ``when`` says otherwise: long enough for any soak."""
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
    git(work, "commit", "-q", "-m", "base", when=when or ago(2 * 24 * 60))
    git(work, "branch", "base")
    return work


def on_base(repo: Path, message: str, when: datetime) -> None:
    """Commit the work tree on `main` and make it the base: history the PR cannot write."""
    git(repo, "commit", "-qam", message, when=when)
    git(repo, "branch", "-f", "base")


def event(tmp: Path, author: tuple[str, str]) -> Path:
    """GitHub's `pull_request` payload with ``author`` (login, type) as the PR's user."""
    payload = json.loads(PR_EVENT.read_text())
    payload["pull_request"]["user"].update(login=author[0], type=author[1])
    path = tmp / f"event-{author[0]}.json"
    path.write_text(json.dumps(payload))
    return path


@pytest.fixture
def repo(tmp_path: Path, live_sandbox: LiveSandbox) -> Iterator[Path]:
    """A GitOps checkout whose environments all run the seeded deployed commit, on `base`."""
    yield checkout(tmp_path, live_sandbox.info.deployed_sha)


def run_guard(
    repo: Path,
    env: Mapping[str, str],
    branch: str = "feature",
    author: tuple[str, str] = PERSON,
) -> tuple[int, str]:
    """`scoutflow-gitops guard` with ``env`` as its whole GitHub-related environment, as the
    guard job runs it: the branch in GITHUB_HEAD_REF, the PR's event in GITHUB_EVENT_PATH, the
    bot's login from the repository variable."""
    code, out, err = run_cli(
        ["guard", "--repo", str(repo), "--base", "base"],
        {
            "GITHUB_HEAD_REF": branch,
            "GITHUB_EVENT_PATH": str(event(repo.parent, author)),
            "SCOUTFLOW_GITOPS_BOT_LOGIN": BOT,
            **env,
        },
    )
    sys.stderr.write(err)  # the log lines, for the tests that read them (capsys)
    return code, out


def guard(
    live: LiveSandbox,
    repo: Path,
    branch: str = "feature",
    token: str = CLIENT_TOKEN,
    author: tuple[str, str] = PERSON,
) -> tuple[int, str]:
    env = {"GITHUB_TOKEN": token, "GITHUB_API_URL": live.url, "GITHUB_SERVER_URL": live.url}
    return run_guard(repo, env, branch, author)


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


def ran_before(repo: Path, env: str, earlier: str, deployed: str) -> None:
    """Base history in which ``env`` ran ``earlier`` (three days ago) before ``deployed``."""
    set_tag(repo, env, earlier)
    on_base(repo, f"{env} ran {earlier[:7]}", ago(3 * 24 * 60))
    set_tag(repo, env, deployed)
    on_base(repo, f"{env} runs {deployed[:7]}", ago(24 * 60))


def test_a_rollback_with_the_hold_marker_may_move_back(
    live_sandbox: LiveSandbox, repo: Path
) -> None:
    older = live_sandbox.info.app_commits[0]
    ran_before(repo, "stage", older, live_sandbox.info.deployed_sha)
    set_tag(repo, "stage", older)
    (repo / ".github/holds").mkdir()
    (repo / ".github/holds/stage.yml").write_text("environment: stage\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "rollback")
    assert guard(live_sandbox, repo)[0] == 0


def test_the_bots_rollback_moves_prod_back_to_a_tag_it_ran(
    live_sandbox: LiveSandbox, repo: Path
) -> None:
    older = live_sandbox.info.app_commits[0]
    ran_before(repo, "prod", older, live_sandbox.info.deployed_sha)
    set_tag(repo, "prod", older)
    git(repo, "commit", "-qam", "prod back")
    assert guard(live_sandbox, repo, author=(BOT, "Bot")) == (0, "")
    code, out = guard(live_sandbox, repo, author=PERSON)
    assert code == 1
    assert "GUARD001 moves prod from" in out


@pytest.mark.parametrize(
    "author",
    [PERSON, (BOT, "User"), ("renovate[bot]", "Bot"), ("github-actions[bot]", "Bot")],
    ids=["a person", "a user named like the bot", "another app", "a workflow"],
)
def test_a_branch_named_like_the_bots_rollback_branch_cannot_move_prod_back(
    live_sandbox: LiveSandbox, repo: Path, author: tuple[str, str]
) -> None:
    """Attack: a PR from a branch named `scoutflow-gitops/rollback-prod` (anyone with push
    access can create it, a fork can name its branch so) moves prod to a tag prod ran before.
    The branch name is the PR author's; the author's login and type are GitHub's, and only the
    bot's App identity licenses a rollback of a gated environment."""
    older = live_sandbox.info.app_commits[0]
    ran_before(repo, "prod", older, live_sandbox.info.deployed_sha)
    set_tag(repo, "prod", older)
    git(repo, "commit", "-qam", "prod back")
    code, out = guard(live_sandbox, repo, branch="scoutflow-gitops/rollback-prod", author=author)
    assert code == 1
    assert "GUARD001 moves prod from" in out


def test_a_bot_rollback_to_a_tag_prod_never_ran_fails(
    live_sandbox: LiveSandbox, repo: Path
) -> None:
    """Attack: the bot's rollback PR (or a commit pushed onto its branch by whoever may push
    there) moves prod to an older commit prod never ran: a rollback returns to known ground,
    it never deploys something new that happens to be older."""
    older = live_sandbox.info.app_commits[0]
    set_tag(repo, "prod", older)
    git(repo, "commit", "-qam", "prod back")
    code, out = guard(
        live_sandbox, repo, branch="scoutflow-gitops/rollback-prod", author=(BOT, "Bot")
    )
    assert code == 1
    assert f"to an older commit {older[:7]}; a rollback moves only to a tag prod ran" in out


def test_a_hold_marker_never_licenses_a_tag_the_environment_never_ran(
    live_sandbox: LiveSandbox, repo: Path
) -> None:
    """Attack: a PR author adds `.github/holds/stage.yml` (a file in their PR) and moves stage
    to an older commit stage never ran on the base branch."""
    older = live_sandbox.info.app_commits[0]
    set_tag(repo, "stage", older)
    (repo / ".github/holds").mkdir()
    (repo / ".github/holds/stage.yml").write_text("environment: stage\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "held, and back to something stage never ran")
    code, out = guard(live_sandbox, repo)
    assert code == 1
    assert "GUARD001 moves stage from" in out


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
    ("relation", "allowed", "ran", "flagged"),
    [
        ("ahead", False, False, False),
        ("behind", False, True, True),
        ("behind", True, True, False),
        ("behind", True, False, True),
        ("diverged", False, True, True),
        ("diverged", True, True, True),
        ("identical", True, True, True),
        (None, True, True, True),
    ],
)
def test_judge_table(relation: str | None, allowed: bool, ran: bool, flagged: bool) -> None:
    move = TagMove("stage", "environments/stage/values.yaml", 10, "a" * 40, "b" * 40, allowed, ran)
    assert (judge(move, relation) is not None) == flagged


@pytest.mark.parametrize("new", [None, "", "latest", "B" * 40, "b" * 39])
def test_judge_checks_the_sha_form_before_accepting_ahead(new: str | None) -> None:
    """Attack: a relation the API reports must not stand in for the tag's form (a compare can
    resolve `latest`, a branch or a short SHA to a commit)."""
    move = TagMove("stage", "environments/stage/values.yaml", 10, "a" * 40, new, True, True)
    finding = judge(move, "ahead")
    assert finding is not None
    assert finding.rule == "GUARD002"


def test_judge_refuses_a_gated_move_without_lineage_even_when_ahead() -> None:
    refusal = Refusal("promoted-from", "bbbbbbb has never been stage's image tag", "wait")
    move = TagMove("prod", "environments/prod/values.yaml", 10, "a" * 40, "b" * 40, False, False)
    assert judge(move, "ahead") is None
    finding = judge(replace(move, lineage=refusal), "ahead")
    assert finding is not None
    assert finding.rule == "GUARD003"


@pytest.mark.parametrize(
    ("field", "old", "new"),
    [
        ("values_file", "environments/prod/values.yaml", "environments/prod/values-v2.yaml"),
        ("image_tag_key", "image_tag_key: global.imageTag", "image_tag_key: global.appTag"),
    ],
)
def test_a_pr_that_rewires_the_config_is_judged_under_both_configs(
    live_sandbox: LiveSandbox,
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    field: str,
    old: str,
    new: str,
) -> None:
    """Attack: the PR's author edits the config (a file in their PR) so that prod's tag lives
    in a new file, or under a new key, which they add with an older commit; the file and key
    the base's config names stay as they were."""
    older = live_sandbox.info.app_commits[0]
    config = repo / ".github/scoutflow-gitops.yml"
    text = config.read_text()
    prod = text.index("- name: prod")
    config.write_text(text[:prod] + text[prod:].replace(old, new, 1))
    values = (repo / "environments/prod/values.yaml").read_text()
    if field == "values_file":
        (repo / new).write_text(values.replace(live_sandbox.info.deployed_sha, older))
    else:
        (repo / "environments/prod/values.yaml").write_text(
            values.replace("  imageTag: ", f"  appTag: {older}\n  imageTag: ", 1)
        )
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "prod reads its tag elsewhere now")
    code, out = guard(live_sandbox, repo)
    assert code == 1
    assert f"GUARD001 moves prod from {live_sandbox.info.deployed_sha[:7]} to an older" in out
    assert f"config's wiring (prod.{field})" in capsys.readouterr().err


def test_prod_cannot_take_a_sha_stage_never_ran_on_the_base_branch(
    live_sandbox: LiveSandbox, repo: Path
) -> None:
    """Attack: one PR sets dev, stage and prod to the same newer SHA; every move is `ahead`,
    but prod's tag was never stage's on the base branch. The PR's author controls its commits,
    so stage's tag in the PR's own history is no evidence either."""
    newer = live_sandbox.info.app_commits[-1]
    for env in ("dev", "stage"):
        set_tag(repo, env, newer)
    git(repo, "commit", "-qam", "stage first, dated long ago", when=ago(10 * 24 * 60))
    set_tag(repo, "prod", newer)
    git(repo, "commit", "-qam", "then prod", when=ago(5 * 24 * 60))
    code, out = guard(live_sandbox, repo)
    assert code == 1
    (line,) = out.splitlines()
    assert line.startswith("environments/prod/values.yaml:10: GUARD003 ")
    assert f"{newer[:7]} has never been stage's image tag on the base branch" in line


@pytest.mark.parametrize(("minutes", "passes"), [(10, False), (120, True)])
def test_prod_takes_only_what_stage_ran_for_the_soak_on_the_base_branch(
    live_sandbox: LiveSandbox, repo: Path, minutes: int, passes: bool
) -> None:
    """Stage's tag on the base branch, dated by the base's first-parent commits, must have run
    for the gate's 30 minutes; the PR's own commit dates (which its author sets) do not count."""
    newer = live_sandbox.info.app_commits[-1]
    for env in ("dev", "stage"):
        set_tag(repo, env, newer)
    on_base(repo, "deploy to dev and stage", ago(minutes))
    set_tag(repo, "prod", newer)
    git(repo, "commit", "-qam", "promote", when=ago(10 * 24 * 60))
    code, out = guard(live_sandbox, repo)
    assert (code == 0) == passes, out
    assert ("GUARD003" in out) != passes


@pytest.mark.parametrize(
    ("edit", "shown"),
    [
        (lambda text, sha: text.replace(f"  imageTag: {sha}\n", ""), "removed"),
        (lambda text, sha: text.replace(sha, '""'), "set to ''"),
        (lambda text, sha: text.replace(sha, "latest"), "set to 'latest'"),
    ],
    ids=["removed key", "empty", "latest"],
)
def test_an_emptied_or_non_sha_tag_is_guard002(
    moved_back: Path, edit: Callable[[str, str], str], shown: str
) -> None:
    """Attack: the PR's author empties stage's tag (removes the key, `imageTag: ""`, or
    `latest`), so that Helm falls back to a default or a moving tag. It fails without any API
    call (no token here): the form of a tag needs no history."""
    path = moved_back / "environments/stage/values.yaml"
    path.write_text(edit(path.read_text(), OLDER))
    git(moved_back, "commit", "-qam", "no tag")
    code, out = run_guard(moved_back, env())
    assert code == 1
    assert f"GUARD002 stage's tag is {shown}, not a full commit SHA" in out


def test_a_hold_marker_never_licenses_a_diverged_move(
    tmp_path: Path, github: responses.RequestsMock
) -> None:
    """Attack: a PR author adds the hold marker (a file in their PR) and moves stage to a
    commit of another line of history, one stage ran before: a rollback only goes back."""
    work = checkout(tmp_path, OLDER)
    set_tag(work, "stage", DEPLOYED)
    on_base(work, "stage moves on", ago(24 * 60))
    set_tag(work, "stage", OLDER)
    (work / ".github/holds").mkdir()
    (work / ".github/holds/stage.yml").write_text("environment: stage\n")
    git(work, "add", ".")
    git(work, "commit", "-qm", "held, and onto another line")
    github.add(responses.GET, COMPARE, json={**behind(), "status": "diverged"})
    code, out = run_guard(work, env(GITHUB_TOKEN="ghs_reader"))
    assert code == 1
    assert f"to an unrelated commit {OLDER[:7]}; a rollback moves only to an older commit" in out


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


def test_an_argo_cd_override_in_the_prs_application_fails_the_guard(tmp_path: Path) -> None:
    """Who controls it: any PR author. Appending a second values file to dev's Application
    (Argo CD merges value files in order, the last one winning) moves dev without touching
    the values file the guard watches; the guard refuses it with no token and no history, as
    `validate` does (ARGO002)."""
    repo = checkout(tmp_path, SEED_TAG)
    shutil.copytree(ROOT / "argocd", repo / "argocd")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "argocd")
    git(repo, "branch", "-f", "base")
    app = repo / "argocd/apps/scoutflow-dev.yaml"
    text = app.read_text()
    own = "$values/environments/dev/values.yaml"
    assert own in text
    app.write_text(text.replace(own, f"{own}\n            - $values/environments/old.yaml", 1))
    git(repo, "commit", "-qam", "override")
    code, out = run_guard(repo, {})
    assert code == 1
    assert "argocd/apps/scoutflow-dev.yaml" in out and "ARGO002" in out


def _queued_pr(live: LiveSandbox, token: str, branch: str) -> tuple[int, str]:
    """A PR opened with ``token`` (its author is the token's identity), and its head."""
    from scoutflow_gitops.sandbox.control import push_commit
    from tests.sandbox.fixtures import github_client

    with live.sandbox.lock:
        gitops = live.sandbox.repo(GITOPS_REPO)
        gitops.git.set_ref(f"refs/heads/{branch}", live.sandbox.branch_head(gitops, "main"))
    head = push_commit(live.sandbox, GITOPS_REPO, {"NOTES.md": f"{branch}\n"}, branch=branch)
    repo = github_client(live.url, token=token).get_repo(GITOPS_REPO)
    return repo.create_pull(title="prod back", body="", head=branch, base="main").number, head


@pytest.mark.parametrize(
    ("opener", "code"), [("bot", 0), ("person", 1)], ids=["the bot's PR", "a person's PR"]
)
def test_in_a_merge_queue_the_rollback_licence_is_the_queued_prs_author(
    live_sandbox: LiveSandbox, repo: Path, opener: str, code: int
) -> None:
    """A `merge_group` event carries no PR author, only the group's branch, which GitHub names
    gh-readonly-queue/<base>/pr-<number>-<sha> (webhook `merge_group.head_ref`;
    docs.github.com/en/webhooks/webhook-events-and-payloads#merge_group). The guard reads that
    PR's author from GitHub with the job's token: only the bot's own PR rolls prod back."""
    from scoutflow_gitops.sandbox.control import issue_token
    from scoutflow_gitops.sandbox.driver import mint_job_token

    live = live_sandbox
    older = live.info.app_commits[0]
    ran_before(repo, "prod", older, live.info.deployed_sha)
    set_tag(repo, "prod", older)
    git(repo, "commit", "-qam", "prod back")
    with live.sandbox.lock:
        person = live.sandbox.access.user_token(live.sandbox.user("dev-writer")).token
    opener_token = mint_job_token(live.url, None, (GITOPS_REPO,)) if opener == "bot" else person
    number, head = _queued_pr(live, opener_token, f"rollback-{opener}")
    group = {
        "head_sha": head,
        "head_ref": f"refs/heads/gh-readonly-queue/main/pr-{number}-{head}",
        "base_sha": "b" * 40,
        "base_ref": "refs/heads/main",
    }
    path = repo.parent / "merge_group.json"
    path.write_text(json.dumps({"action": "checks_requested", "merge_group": group}))
    with live.sandbox.lock:
        token = issue_token(
            live.sandbox,
            {
                "kind": "workflow",
                "repo": GITOPS_REPO,
                "permissions": {"contents": "read", "pull_requests": "read"},
            },
        )["token"]
    env = {
        "GITHUB_TOKEN": str(token),
        "GITHUB_API_URL": live.url,
        "GITHUB_SERVER_URL": live.url,
        "GITHUB_REPOSITORY": GITOPS_REPO,
        "GITHUB_EVENT_PATH": str(path),
    }
    result, stdout, _ = run_cli(
        ["guard", "--repo", str(repo), "--base", "base"], {**env, "SCOUTFLOW_GITOPS_BOT_LOGIN": BOT}
    )

    assert result == code, stdout
    # Refused as no rollback: offline, as this token cannot read the source repository.
    assert stdout.startswith("environments/prod/values.yaml:10: GUARD") is (code == 1)


def _quarantine(repo: Path, sha: str) -> None:
    """Base history in which a rollback quarantined ``sha``."""
    (repo / ".github/quarantine").mkdir(parents=True, exist_ok=True)
    (repo / f".github/quarantine/{sha}.yml").write_text(f'sha: "{sha}"\n')
    git(repo, "add", ".")
    on_base(repo, f"quarantine {sha[:7]}", ago(60))


def test_a_pr_that_moves_an_environment_to_a_quarantined_sha_fails(
    live_sandbox: LiveSandbox, repo: Path
) -> None:
    """The attack: stage was rolled back from a SHA; a person's PR (or Renovate's) sets dev to
    it again. Only the guard sees writers other than the bot."""
    bad = live_sandbox.info.app_commits[-1]
    _quarantine(repo, bad)
    set_tag(repo, "dev", bad)
    git(repo, "commit", "-qam", "dev to the bad one")

    code, out = guard(live_sandbox, repo)

    assert code == 1
    assert f"GUARD004 moves dev to {bad[:7]}, which is quarantined" in out


@pytest.mark.parametrize(
    ("author", "code"), [(PERSON, 1), ((BOT, "Bot"), 0)], ids=["person", "bot"]
)
def test_only_the_bots_pr_lifts_a_quarantine(
    live_sandbox: LiveSandbox, repo: Path, author: tuple[str, str], code: int
) -> None:
    bad = live_sandbox.info.app_commits[-1]
    _quarantine(repo, bad)
    git(repo, "rm", "-q", f".github/quarantine/{bad}.yml")
    git(repo, "commit", "-qm", "lift it")

    result, out = guard(live_sandbox, repo, author=author)

    assert result == code, out
    assert (f"GUARD004 removes the quarantine of {bad[:7]}" in out) is (code == 1)
