"""The bot's first real day: the setup the README documents (the bot's GitHub App, both
repositories private), each workflow started where it really runs, against a simulator that
answers as GitHub does.

Three things broke there that no lenient test could see:

1. Commands start in the GitOps repository, and the App token was minted for that repository
   alone, so reading the private app repository's runs and commits answered 404.
2. GitHub computes mergeability in the background: right after a PR opens, enabling auto-merge
   answers "Pull request Pull request is in unstable status" (docs/sandbox-rules.md row 10b,
   peter-evans/enable-pull-request-automerge#355), which ended the job in a traceback.
3. The guard PR check ran with the GitOps repository's own ``GITHUB_TOKEN``, which cannot
   read another private repository ("The token's permissions are limited to the repository
   that contains your workflow", docs.github.com, Automatic token authentication); it took
   the 404 for unrelated history and failed every ordinary bump with GUARD001.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from scoutflow_gitops.sandbox.control import issue_token, post_comment
from tests.e2e.harness import (
    APP,
    CI,
    GITOPS,
    bump_pulls,
    ci_event,
    new_app_commit,
    run_bot,
    run_cli,
    tag_on_main,
)
from tests.sandbox.fixtures import LiveSandbox
from tests.test_guard import checkout, git, set_tag

_KEY: list[str] = []


def app_credentials() -> dict[str, str]:
    """The action's inputs for the bot's GitHub App (no token: the bot mints its own)."""
    if not _KEY:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _KEY.append(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode()
        )
    return {"INPUT_TOKEN": "", "INPUT_APP_ID": "1", "INPUT_PRIVATE_KEY": _KEY[0]}


def minted(run: Any) -> list[dict[str, Any]]:
    """The bodies of the job's token requests (the answers' tokens are redacted in the log)."""
    return [
        request["body"] or {}
        for request in run.requests
        if request["path"].endswith("/access_tokens")
    ]


def test_a_promotion_by_comment_reads_the_private_app_repository(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    assert live.sandbox.repo(APP).private and live.sandbox.repo(GITOPS).private
    sha = new_app_commit(live)
    jobs = [
        run_bot(live, tmp_path, ci_event(live, sha, name), extra_env=app_credentials())
        for name in CI
    ]
    assert jobs[-1].result == "merged", jobs[-1].stderr
    assert tag_on_main(live, "stage") == sha
    assert live.control("POST", "/clock", {"advance_minutes": 45}).ok

    payload = post_comment(
        live.sandbox, live.server.shapes, GITOPS, user="release-manager", body="/promote prod"
    )
    run = run_bot(live, tmp_path, payload, event_name="issue_comment", extra_env=app_credentials())

    assert (run.exit_code, run.result) == (0, "opened"), run.stdout + run.stderr
    (promotion,) = [p for p in bump_pulls(live) if p.title.startswith("Promote")]
    assert promotion.title == f"Promote {sha[:7]} to prod"
    # Least privilege: no token the job minted may write to the app repository.
    for body in minted(run):
        if "scoutflow-app" in (body.get("repositories") or []):
            assert set((body.get("permissions") or {}).values()) == {"read"}, body


def test_a_ci_bump_waits_for_github_to_compute_mergeability(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    sha = new_app_commit(live)
    jobs = [
        run_bot(live, tmp_path, ci_event(live, sha, name), extra_env=app_credentials())
        for name in CI
    ]

    last = jobs[-1]
    assert [job.result for job in jobs] == ["waiting", "waiting", "merged"], last.stderr
    assert last.outputs["pr_url"].endswith(f"/pull/{last.outputs['pr_number']}")
    assert tag_on_main(live, "dev") == tag_on_main(live, "stage") == sha
    # GitHub said UNKNOWN first (in the publish's answer): the bot looked at the PR again
    # before merging, rather than giving up or merging blind.
    operations = [_operation(r) for r in last.requests if r["path"] == "/graphql"]
    assert "PullRequestStatus" in operations
    assert operations.index("PullRequestStatus") < operations.index("Merge")


def test_a_merge_method_the_repository_disallows_is_one_clear_error_before_any_write(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    assert live.control("POST", f"/repos/{GITOPS}/settings", {"allow_squash_merge": False}).ok
    sha = new_app_commit(live)
    jobs = [
        run_bot(live, tmp_path, ci_event(live, sha, name), extra_env=app_credentials())
        for name in CI
    ]

    last = jobs[-1]
    assert last.exit_code == 1
    errors = [line for line in last.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1, last.stdout
    assert "squash" in errors[0].lower()
    assert "merge_method" in errors[0]
    assert [r for r in last.writes if r["path"] == "/graphql"] == []
    assert tag_on_main(live, "dev") != sha


def test_a_merge_github_keeps_refusing_is_one_clear_error_with_githubs_words(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    """GitHub may refuse a merge that looked possible: "Base branch was modified. Review and
    try the merge again." (KnpLabs/php-github-api#497; docs/sandbox-rules.md row 11b). The bot
    reads again and retries a bounded number of times, then says what GitHub said."""
    live = live_sandbox
    assert live.control("POST", "/merge-races", {"base_modified": 1}).ok
    sha = new_app_commit(live)
    once = [run_bot(live, tmp_path, ci_event(live, sha, name)) for name in CI][-1]
    assert (once.exit_code, once.result) == (0, "merged"), once.stdout
    assert tag_on_main(live, "dev") == sha

    assert live.control("POST", "/merge-races", {"base_modified": 50}).ok
    newer = new_app_commit(live, "Add box scores")
    last = [run_bot(live, tmp_path, ci_event(live, newer, name)) for name in CI][-1]
    assert last.exit_code == 1
    errors = [line for line in last.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1, last.stdout
    assert "Base branch was modified" in errors[0]
    assert "/pull/" in errors[0]  # the PR it opened is named, so nobody loses it
    assert tag_on_main(live, "dev") == sha


def _operation(request: Any) -> str:
    body = request.get("body") or {}
    query = str(body.get("query", ""))
    head = query.split("(", 1)[0].split("{", 1)[0].split()
    return head[1] if len(head) > 1 else ""


def test_the_guard_with_the_gitops_workflow_token_never_fails_a_bump(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    repo = checkout(tmp_path, live.info.deployed_sha)
    newer = live.info.app_commits[-1]
    for env in ("dev", "stage"):
        set_tag(repo, env, newer)
    git(repo, "commit", "-qam", f"Deploy {newer[:7]} to dev, stage")
    with live.sandbox.lock:
        # What pr-validation.yml's guard job gets: this repository's token, contents: read.
        token = issue_token(
            live.sandbox, {"kind": "workflow", "repo": GITOPS, "permissions": {"contents": "read"}}
        )["token"]
    env = {
        "GITHUB_TOKEN": str(token),
        "GITHUB_API_URL": live.url,
        "GITHUB_SERVER_URL": live.url,
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": GITOPS,
    }
    code, stdout, stderr = run_cli(
        ["guard", "--repo", str(repo), "--base", "base", "--head-branch", "x"], env
    )
    text = stdout + stderr
    assert code == 0, text
    assert "GUARD001" not in text
    warnings = [line for line in stdout.splitlines() if line.startswith("::warning")]
    assert len(warnings) == 1, text
    assert APP in warnings[0]
