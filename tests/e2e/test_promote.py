"""`/promote`, `/rollback`, `/release` and manual runs: the real entrypoint against the simulator.

The story follows a release: dev and stage get a new commit from CI; a reader may not promote;
a release manager asks too early and is told when to come back; after the soak time the
production PR opens (never merged by the bot); stage is rolled back and held, then released.
"""

from __future__ import annotations

import json
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest

from scoutflow_gitops.sandbox.control import post_comment, push_commit
from scoutflow_gitops.sandbox.faults import Fault, add_fault
from tests.e2e.harness import (
    CI,
    GITOPS,
    BotRun,
    bump_pulls,
    ci_event,
    new_app_commit,
    run_bot,
    tag_on_main,
    values_on_main,
)
from tests.sandbox.fixtures import LiveSandbox

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "webhooks"
HOLD = ".github/holds/stage.yml"


def comment(live: LiveSandbox, tmp_path: Path, user: str, body: str) -> tuple[BotRun, Any]:
    """A person comments on a new issue; the bot's job for it, and the issue afterwards."""
    payload = post_comment(live.sandbox, live.server.shapes, GITOPS, user=user, body=body)
    run = run_bot(live, tmp_path, payload, event_name="issue_comment")
    issue = live.sandbox.issue(live.sandbox.repo(GITOPS), payload["issue"]["number"])
    return run, issue


def reactions(issue: Any) -> list[str]:
    return [reaction.content for reaction in issue.comments[0].reactions]


def bot_replies(issue: Any) -> list[str]:
    return [c.body for c in issue.comments if c.user.login == "scoutflow-gitops[bot]"]


def deploy_to_stage(live: LiveSandbox, tmp_path: Path, message: str = "Add shot charts") -> str:
    sha = new_app_commit(live, message)
    results = [run_bot(live, tmp_path, ci_event(live, sha, name)).result for name in CI]
    assert results[-1] == "merged"
    return sha


def files_on_main(live: LiveSandbox) -> set[str]:
    repo = live.sandbox.repo(GITOPS)
    head = live.sandbox.branch_head(repo, "main")
    return set(repo.git.flat_tree(repo.git.commit_info(head).tree))


def values_on_main_path(live: LiveSandbox, path: str) -> bytes:
    """A file of the GitOps repository's main branch, as the bot would read it."""
    repo = live.sandbox.repo(GITOPS)
    with live.sandbox.lock:
        head = live.sandbox.branch_head(repo, "main")
        entry = repo.git.flat_tree(repo.git.commit_info(head).tree)[path]
        return repo.git.blob(entry.sha)


def advance(live: LiveSandbox, minutes: int) -> None:
    assert live.control("POST", "/clock", {"advance_minutes": minutes}).ok


def test_a_reader_may_not_promote_and_is_told_why_once(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    deploy_to_stage(live, tmp_path)
    advance(live, 60)
    run, issue = comment(live, tmp_path, "qa-reader", "/promote prod")
    assert (run.result, run.exit_code) == ("refused", 0)
    assert "permission gate" in run.outputs["reason"]
    (reply,) = bot_replies(issue)
    assert "@qa-reader has the read role here; promoting to prod needs maintain" in reply
    assert reactions(issue) == ["eyes", "confused"]
    assert [r["path"] for r in run.writes] == [
        f"/repos/{GITOPS}/issues/comments/{issue.comments[0].id}/reactions",
        f"/repos/{GITOPS}/issues/{issue.number}/comments",
        f"/repos/{GITOPS}/issues/comments/{issue.comments[0].id}/reactions",
    ]


def test_too_early_is_refused_with_the_time_to_come_back(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    deploy_to_stage(live, tmp_path)
    advance(live, 10)
    run, issue = comment(live, tmp_path, "release-manager", "/promote prod")
    assert run.result == "refused" and "soak gate" in run.outputs["reason"]
    assert "for 10 minutes of the 30 required" in bot_replies(issue)[0]
    assert "ask again after" in bot_replies(issue)[0]
    assert not [pr for pr in bump_pulls(live) if pr.title.startswith("Promote")]


def test_after_the_soak_a_gated_prod_pr_opens_and_is_never_merged(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    prod_before = values_on_main(live, "prod")
    sha = deploy_to_stage(live, tmp_path)
    advance(live, 31)
    run, issue = comment(live, tmp_path, "release-manager", "  /Promote prod  \nthanks!")

    assert (run.result, run.exit_code) == ("opened", 0)
    promote_pr = bump_pulls(live)[-1]
    assert promote_pr.title == f"Promote {sha[:7]} to prod"
    assert promote_pr.state == "open" and not promote_pr.pull.merged
    assert promote_pr.pull.auto_merge is None
    assert promote_pr.pull.head_ref == f"scoutflow-gitops/promote-prod-{sha[:12]}"
    assert {label.name for label in promote_pr.labels} == {"promotion", "env:prod"}
    # The configured reviewer asked for it, so nobody is asked: never one's own reviewer.
    assert promote_pr.pull.requested_reviewers == []
    body = promote_pr.body
    assert "@release-manager asked for this" in body
    assert "reached stage" in body and "ran there for 31 min" in body
    assert f"`/rollback prod {live.info.deployed_sha}`" in body
    assert "argocd app sync scoutflow-prod" in body
    assert f"+  imageTag: {sha}" in body
    # Only prod's file changes, one line.
    repo = live.sandbox.repo(GITOPS)
    head = repo.git.commit_info(promote_pr.pull.head_sha)
    changed = repo.git.flat_tree(head.tree)["environments/prod/values.yaml"]
    assert repo.git.blob(changed.sha) == prod_before.replace(
        live.info.deployed_sha.encode(), sha.encode()
    )
    assert values_on_main(live, "prod") == prod_before
    assert reactions(issue) == ["eyes", "rocket"]
    assert promote_pr.pull.head_sha and f"pull/{promote_pr.number}" in bot_replies(issue)[0]

    # The same SHA again: a reply with the link, nothing rewritten.
    again, _ = comment(live, tmp_path, "release-manager", "/promote prod")
    assert again.result == "noop"
    assert len([pr for pr in bump_pulls(live) if pr.title.startswith("Promote")]) == 1


def test_promoting_what_prod_runs_or_an_unseen_sha_is_refused(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    advance(live, 60)
    same, _ = comment(live, tmp_path, "release-manager", "/promote prod")
    assert same.result == "refused" and "differs gate" in same.outputs["reason"]
    unseen = live.info.app_commits[-1]
    other, issue = comment(live, tmp_path, "release-manager", f"/promote prod {unseen}")
    # Every gate in the way is named: stage never ran it, and its CI never finished.
    assert other.result == "refused"
    assert "refused by the promoted-from, ci gates" in other.outputs["reason"]
    assert f"{unseen[:7]} has never been stage's image tag" in bot_replies(issue)[0]


def test_rollback_of_stage_holds_it_until_release(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    deployed = live.info.deployed_sha
    sha = deploy_to_stage(live, tmp_path)

    rollback, issue = comment(live, tmp_path, "release-manager", "/rollback stage")
    assert rollback.result == "merged", rollback.outputs["reason"]
    assert tag_on_main(live, "stage") == deployed
    assert HOLD in files_on_main(live)
    assert reactions(issue) == ["eyes", "rocket"]

    newer = deploy_to_stage(live, tmp_path, "Add box scores")
    assert tag_on_main(live, "dev") == newer
    assert tag_on_main(live, "stage") == deployed, "the hold keeps CI away from stage"
    assert sha != newer

    release, _ = comment(live, tmp_path, "release-manager", "/release stage")
    assert release.result == "merged"
    assert HOLD not in files_on_main(live)
    again = run_bot(live, tmp_path, ci_event(live, newer, "Database CI"))
    assert again.result == "merged"
    assert tag_on_main(live, "stage") == newer


def test_releasing_an_environment_that_is_not_held_is_refused(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    run, issue = comment(live_sandbox, tmp_path, "release-manager", "/release stage")
    assert run.result == "refused" and "stage is not on hold" in bot_replies(issue)[0]


def test_help_lists_the_commands_and_who_may_use_them(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    run, issue = comment(live_sandbox, tmp_path, "outsider", "/promote help")
    assert run.result == "noop"
    (reply,) = bot_replies(issue)
    assert "`/promote prod [sha]`" in reply and "**maintain** role" in reply
    assert "after at least 30 minutes in stage" in reply


@pytest.mark.parametrize(
    ("body", "words"),
    [
        # Outside text is echoed back defanged: anything but [A-Za-z0-9._/ -] becomes "?".
        ("/promote prod; rm -rf /", "does not understand `prod?`"),
        ("/promote prod $(id)", "does not understand `??id?`"),
        ("/promote prod ${{ secrets.TOKEN }}", "does not understand `???`"),
        ("/promote staging", "`staging` is not an environment that is promoted by command"),
        ("/promote prod ABCDEF", "`ABCDEF` is not a full commit SHA"),
        ("/rollback moon", "unknown environment `moon`"),
    ],
)
def test_malformed_commands_get_one_clear_reply_and_no_pr(
    live_sandbox: LiveSandbox, tmp_path: Path, body: str, words: str
) -> None:
    live = live_sandbox
    run, issue = comment(live, tmp_path, "release-manager", body)
    assert run.result == "refused"
    (reply,) = bot_replies(issue)
    assert words in reply
    assert reactions(issue) == ["eyes", "confused"]
    assert not [r for r in run.writes if "graphql" in r["path"]]


@pytest.mark.parametrize("index", range(9))
def test_every_real_issue_comment_example_is_ignored_without_a_request(
    live_sandbox: LiveSandbox, tmp_path: Path, index: int
) -> None:
    payload = json.loads((FIXTURES / "issue_comment.json").read_text())[index]
    run = run_bot(live_sandbox, tmp_path, payload, event_name="issue_comment")
    assert (run.result, run.exit_code) == ("skipped", 0)
    assert run.requests == ()


def test_edited_comments_and_bots_never_act(live_sandbox: LiveSandbox, tmp_path: Path) -> None:
    live = live_sandbox
    payload = post_comment(
        live.sandbox, live.server.shapes, GITOPS, user="release-manager", body="/promote prod"
    )
    edited = {**payload, "action": "edited"}
    assert run_bot(live, tmp_path, edited, event_name="issue_comment").result == "skipped"
    as_bot = json.loads(json.dumps(payload))
    as_bot["comment"]["user"]["type"] = "Bot"
    run = run_bot(live, tmp_path, as_bot, event_name="issue_comment")
    assert run.result == "skipped" and run.requests == ()


def dispatch(
    live: LiveSandbox, tmp_path: Path, actor: str, ref: str = "refs/heads/main", **inputs: str
) -> BotRun:
    payload = json.loads((FIXTURES / "workflow_dispatch.json").read_text())[0]
    payload.update(ref=ref, inputs=inputs)
    payload["sender"] = {**payload["sender"], "login": actor}
    payload["repository"] = {**payload["repository"], "full_name": GITOPS}
    return run_bot(live, tmp_path, payload, event_name="workflow_dispatch")


def test_manual_runs_use_the_same_gates_and_only_from_main(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    sha = deploy_to_stage(live, tmp_path)
    advance(live, 45)
    denied = dispatch(live, tmp_path, "dev-writer", command="promote", environment="prod")
    assert denied.result == "refused" and "permission gate" in denied.outputs["reason"]
    branch = dispatch(
        live,
        tmp_path,
        "release-manager",
        ref="refs/heads/feature",
        command="promote",
        environment="prod",
    )
    assert branch.exit_code == 1 and "only from main" in branch.stdout
    bad_sha = dispatch(
        live, tmp_path, "release-manager", command="promote", environment="prod", sha="1234"
    )
    assert bad_sha.exit_code == 1 and "not a full commit SHA" in bad_sha.stdout
    ok = dispatch(live, tmp_path, "release-manager", command="promote", environment="prod", sha=sha)
    assert ok.result == "opened"
    assert bump_pulls(live)[-1].title == f"Promote {sha[:7]} to prod"


def test_a_manual_bump_deploys_a_green_commit_reading_the_state_once(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    sha = new_app_commit(live)
    for name in CI:
        ci_event(live, sha, name)  # CI passed; no bump job ran for it
    run = dispatch(live, tmp_path, "release-manager", command="bump", sha=sha)
    assert (run.exit_code, run.result) == (0, "merged")
    assert tag_on_main(live, "dev") == tag_on_main(live, "stage") == sha
    state_reads = [
        r for r in run.requests if "GitopsState" in str((r.get("body") or {}).get("query", ""))
    ]
    assert len(state_reads) == 1


def test_the_requester_is_never_asked_to_review_their_own_promotion(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    deploy_to_stage(live, tmp_path)
    advance(live, 31)
    run, _ = comment(live, tmp_path, "omerbh7", "/promote prod")
    assert run.result == "opened", run.outputs["reason"]
    promote_pr = bump_pulls(live)[-1]
    assert [user.login for user in promote_pr.pull.requested_reviewers] == ["release-manager"]


def test_an_error_after_the_eyes_is_one_reply_and_a_confused_face(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    """GitHub keeps failing the write: the job fails with its annotation, and the person who
    asked, who sees only their comment, is told once instead of left with 👀."""
    live = live_sandbox
    deploy_to_stage(live, tmp_path)
    add_fault(live.sandbox, Fault("^/graphql$", graphql_operation="Publish", status=500))

    run, issue = comment(live, tmp_path, "release-manager", "/rollback stage")

    assert run.exit_code == 1
    (reply,) = bot_replies(issue)
    assert reply.startswith("I could not act on that command: ")
    assert reactions(issue) == ["eyes", "confused"]


def test_a_re_run_of_someone_elses_command_acts_for_nobody(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    """The attack: a writer re-runs a maintainer's old `/promote prod` run. GitHub replays the
    original payload, sender included, with the original actor's privileges, and names who
    started this attempt in GITHUB_TRIGGERING_ACTOR and which attempt in GITHUB_RUN_ATTEMPT
    (docs.github.com/en/actions/reference/workflows-and-actions/contexts#github-context,
    ``triggering_actor``; .../variables#default-environment-variables). The replay would open
    a prod PR for today's stage recorded as the maintainer's request, which the writer could
    then approve alone."""
    live = live_sandbox
    deploy_to_stage(live, tmp_path)
    advance(live, 31)
    payload = post_comment(
        live.sandbox, live.server.shapes, GITOPS, user="release-manager", body="/promote prod"
    )
    replay = {"GITHUB_RUN_ATTEMPT": "2", "GITHUB_TRIGGERING_ACTOR": "dev-writer"}

    run = run_bot(live, tmp_path, payload, event_name="issue_comment", extra_env=replay)

    assert (run.result, run.exit_code) == ("skipped", 0)
    assert "started by @dev-writer, but the command is @release-manager's" in run.outputs["reason"]
    assert run.requests == (), "decided from the payload and the runner's variables alone"
    own = {"GITHUB_RUN_ATTEMPT": "2", "GITHUB_TRIGGERING_ACTOR": "release-manager"}
    again = run_bot(live, tmp_path, payload, event_name="issue_comment", extra_env=own)
    assert again.result == "opened", again.outputs["reason"]


def test_a_promotion_of_another_sha_opens_a_new_pr_and_no_approval_carries_over(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    """The attack: the PR for E is approved; `/promote prod` for F re-pointed that same PR to
    F, so the approval given for E merged F. GitHub keeps approvals on a PR across pushes
    unless "Dismiss stale pull request approvals" is on (docs.github.com/en/repositories/
    configuring-branches-and-merges-in-your-repository/managing-protected-branches/about-
    protected-branches#require-pull-request-reviews-before-merging). One SHA per PR."""
    live = live_sandbox
    e = deploy_to_stage(live, tmp_path, "Add shot charts")
    advance(live, 31)
    first, _ = comment(live, tmp_path, "release-manager", "/promote prod")
    assert first.result == "opened"
    old_number = int(first.outputs["pr_number"])
    live.as_user("dev-writer").get_repo(GITOPS).get_pull(old_number).create_review(event="APPROVE")
    f = deploy_to_stage(live, tmp_path, "Add box scores")
    advance(live, 31)

    second, issue = comment(live, tmp_path, "release-manager", "/promote prod")

    assert second.result == "opened", second.outputs["reason"]
    new_number = int(second.outputs["pr_number"])
    assert new_number != old_number
    repo = live.sandbox.repo(GITOPS)
    old, new = live.sandbox.issue(repo, old_number), live.sandbox.issue(repo, new_number)
    assert old.state == "closed" and old.pull is not None and not old.pull.merged
    assert old.comments[-1].body.startswith(f"Superseded by #{new_number}")
    assert f"{f[:7]}" in old.comments[-1].body and e != f
    assert new.title == f"Promote {f[:7]} to prod" and new.pull is not None
    assert new.pull.reviews == [], "no approval carries over"
    assert f"refs/heads/{old.pull.head_ref}" not in repo.git.refs("refs/heads/")

    again, issue = comment(live, tmp_path, "release-manager", "/promote prod")

    assert again.result == "noop", again.outputs["reason"]
    assert f"PR #{new_number} already promotes {f[:7]}" in bot_replies(issue)[0]
    assert [w["path"] for w in again.writes if "graphql" in w["path"]] == []


def test_every_gate_that_refuses_is_named_so_its_advice_holds(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    """Before, the first refusal was the only one: "ask again after 11:30" from the soak gate,
    and at 11:30 the CI gate refused instead. Stage runs the SHA, a re-run of one of its
    workflows failed since, and it has not soaked: both gates are named at once."""
    live = live_sandbox
    sha = deploy_to_stage(live, tmp_path)
    ci_event(live, sha, CI[0], "failure")
    advance(live, 5)

    run, issue = comment(live, tmp_path, "release-manager", "/promote prod")

    assert run.result == "refused"
    assert "refused by the soak, ci gates" in run.outputs["reason"]
    (reply,) = bot_replies(issue)
    assert reply.startswith("`/promote prod` was refused by 2 gates; all must pass:")
    assert "- **soak**: " in reply and "- **ci**: " in reply
    assert reactions(issue) == ["eyes", "confused"]


def test_a_freeze_holds_promotions_and_says_when_they_open_again(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    sha = deploy_to_stage(live, tmp_path)
    now = live.sandbox.clock.now().astimezone(UTC).replace(second=0, microsecond=0)
    until = now + timedelta(hours=2)
    config = values_on_main_path(live, ".github/scoutflow-gitops.yml").decode()
    windows = (
        "      windows:\n"
        "        time_zone: UTC\n"
        "        freezes:\n"
        f'          - {{from: "{now:%Y-%m-%dT%H:%M}", until: "{until:%Y-%m-%dT%H:%M}", '
        "reason: release freeze}\n"
    )
    frozen = config.replace("      reviewers:\n", windows + "      reviewers:\n", 1)
    assert frozen != config
    push_commit(live.sandbox, GITOPS, {".github/scoutflow-gitops.yml": frozen}, message="Freeze")
    advance(live, 31)

    run, issue = comment(live, tmp_path, "release-manager", "/promote prod")

    assert run.result == "refused" and "window gate" in run.outputs["reason"]
    reply = bot_replies(issue)[0]
    assert f"prod is frozen until {until:%Y-%m-%d %H:%M} UTC (release freeze)" in reply
    assert f"ask again after {until:%Y-%m-%d %H:%M} UTC" in reply
    advance(live, 90)
    after, _ = comment(live, tmp_path, "release-manager", "/promote prod")
    assert after.result == "opened", after.outputs["reason"]
    assert bump_pulls(live)[-1].title == f"Promote {sha[:7]} to prod"
