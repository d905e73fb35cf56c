"""Four eyes at merge, through the real ``scoutflow-gitops four-eyes`` against the simulator.

The prod PR is opened the way production opens it: a release manager comments `/promote prod`
and the bot's App opens the PR. The check then runs as `four-eyes.yml` runs it: a checkout of
what would merge, the event payload GitHub wrote, and the GitOps repository's own workflow
token (pull-requests: read, statuses: write). Each attack is someone trying to merge their
own promotion: approving it themselves, rewriting who asked for it, or having an approval of
an older head count for a newer one.

Why a commit status and not the job's result: GitHub's combined status takes "the latest
status for each context" (OpenAPI `repos/get-combined-status-for-ref`), while a passing job
in a later run leaves an earlier run's failed job of the same name standing on the PR
(duckduckgo/content-scope-scripts#2331 re-runs the failed `pull_request` job on approval for
that reason). Why the event's head: a PR's `headRefOid` can lag a push (docs/sandbox-rules.md,
heads that lag a read), and the runner checks out the commit the event names.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from github import GithubException

from scoutflow_gitops.sandbox.control import issue_token, push_commit
from tests.e2e.harness import GITOPS, bump_pulls, run_cli
from tests.e2e.test_promote import advance, comment, deploy_to_stage
from tests.sandbox.fixtures import LiveSandbox

CONTEXT = "scoutflow-gitops/four-eyes"
BOT = "scoutflow-gitops[bot]"


def _git(work: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def checkout_of(live: LiveSandbox, number: int, work: Path, base: str | None = None) -> str:
    """What the runner checks out for PR ``number``: the simulated repository's real commits,
    at the PR's head; returns the base commit (main's head unless told), which the event
    names."""
    repo = live.sandbox.repo(GITOPS)
    with live.sandbox.lock:
        base = base or live.sandbox.branch_head(repo, "main")
        repo.git.export(str(work))
    _git(work, "checkout", "-q", "--detach", head_of(live, number))
    return base


def pull_request_event(live: LiveSandbox, number: int, base: str, action: str) -> dict[str, Any]:
    """The pull_request payload's parts the check reads, from GitHub's REST shape of the PR."""
    pull = live.as_user("omerbh7").get_repo(GITOPS).get_pull(number).raw_data
    pull["base"]["sha"] = base  # the local checkout's base commit stands for main's
    # GitHub sends the event once it has recorded the push: the payload names the new head,
    # even while API reads of the PR may still show the old one.
    pull["head"]["sha"] = head_of(live, number)
    repository = live.as_user("omerbh7").get_repo(GITOPS).raw_data
    return {"action": action, "number": number, "pull_request": pull, "repository": repository}


def run_four_eyes(live: LiveSandbox, work: Path, event: dict[str, Any]) -> tuple[int, str]:
    event_path = work.parent / f"event-{os.urandom(4).hex()}.json"
    event_path.write_text(json.dumps(event), encoding="utf-8")
    with live.sandbox.lock:
        # What four-eyes.yml's job gets: this repository's token, no more than it asks for.
        token = issue_token(
            live.sandbox,
            {
                "kind": "workflow",
                "repo": GITOPS,
                "permissions": {
                    "contents": "read",
                    "pull_requests": "read",
                    "statuses": "write",
                },
            },
        )["token"]
    env = {
        "GITHUB_TOKEN": str(token),
        "GITHUB_API_URL": live.url,
        "GITHUB_SERVER_URL": live.url,
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": GITOPS,
        "GITHUB_RUN_ID": "4242",
        "GITHUB_EVENT_PATH": str(event_path),
        "SCOUTFLOW_GITOPS_BOT_LOGIN": BOT,
    }
    code, out, err = run_cli(["four-eyes", "--repo", str(work)], env)
    return code, out + err


def latest_status(live: LiveSandbox, sha: str) -> dict[str, Any]:
    combined = live.as_user("omerbh7").get_repo(GITOPS).get_commit(sha).get_combined_status()
    found = [s for s in combined.statuses if s.context == CONTEXT]
    assert len(found) == 1, f"{len(found)} {CONTEXT} statuses on {sha[:7]}"
    (status,) = found
    return {"state": status.state, "description": status.description, "url": status.target_url}


def head_of(live: LiveSandbox, number: int) -> str:
    """The tip of the PR's branch: what a push event and the runner's checkout name."""
    repo = live.sandbox.repo(GITOPS)
    with live.sandbox.lock:
        pull = live.sandbox.issue(repo, number).pull
        assert pull is not None
        return repo.git.ref(f"refs/heads/{pull.head_ref}") or pull.head_sha


def approve(live: LiveSandbox, login: str, number: int) -> None:
    pull = live.as_user(login).get_repo(GITOPS).get_pull(number)
    pull.create_review(event="APPROVE", body="Looks right.")


@pytest.fixture
def prod_pr(live_sandbox: LiveSandbox, tmp_path: Path) -> int:
    """The bot's prod PR, asked for by release-manager after the soak."""
    live = live_sandbox
    deploy_to_stage(live, tmp_path)
    advance(live, 60)
    run, _ = comment(live, tmp_path, "release-manager", "/promote prod")
    assert run.result == "opened", run.outputs
    return int(run.outputs["pr_number"])


def test_the_requesters_own_approval_never_lets_prod_merge(
    live_sandbox: LiveSandbox, tmp_path: Path, prod_pr: int
) -> None:
    live = live_sandbox
    work = tmp_path / "checkout"
    base = checkout_of(live, prod_pr, work)
    head = head_of(live, prod_pr)

    code, text = run_four_eyes(live, work, pull_request_event(live, prod_pr, base, "opened"))
    assert code == 0, text
    status = latest_status(live, head)
    assert status["state"] == "failure"
    assert status["description"] == (
        f"prod: needs an approval of {head[:7]} from someone other than @release-manager"
    )
    assert status["url"].endswith(f"/{GITOPS}/actions/runs/4242")

    approve(live, "release-manager", prod_pr)
    code, text = run_four_eyes(live, work, pull_request_event(live, prod_pr, base, "edited"))
    assert latest_status(live, head)["state"] == "failure"
    assert "@release-manager's approval does not count: they asked for it" in text

    approve(live, "qa-reader", prod_pr)
    run_four_eyes(live, work, pull_request_event(live, prod_pr, base, "edited"))
    assert latest_status(live, head)["state"] == "failure"

    approve(live, "dev-writer", prod_pr)
    code, text = run_four_eyes(live, work, pull_request_event(live, prod_pr, base, "edited"))
    assert code == 0, text
    assert latest_status(live, head) == {
        "state": "success",
        "description": f"prod: approved by @dev-writer for {head[:7]}",
        "url": f"{live.url}/{GITOPS}/actions/runs/4242",
    }


def test_rewriting_who_asked_for_it_voids_the_record(
    live_sandbox: LiveSandbox, tmp_path: Path, prod_pr: int
) -> None:
    """The attack: release-manager edits the description so its plan marker names someone else,
    then approves their own promotion. GitHub records who last edited the body."""
    live = live_sandbox
    work = tmp_path / "checkout"
    base = checkout_of(live, prod_pr, work)
    head = head_of(live, prod_pr)
    pull = live.as_user("release-manager").get_repo(GITOPS).get_pull(prod_pr)
    pull.edit(body=pull.body.replace('"requested_by": "release-manager"', '"requested_by": "x"'))
    approve(live, "release-manager", prod_pr)

    code, text = run_four_eyes(live, work, pull_request_event(live, prod_pr, base, "edited"))

    assert code == 0, text
    status = latest_status(live, head)
    assert status["state"] == "failure"
    assert status["description"] == (
        "prod: @release-manager edited the PR's description, which records who asked for it"
    )


def test_a_commit_pushed_onto_the_bots_pr_voids_the_approval_before_it(
    live_sandbox: LiveSandbox, tmp_path: Path, prod_pr: int
) -> None:
    """The attack: dev-writer's approval stands, then a commit lands on the PR's branch. The
    approval is for an older head, and the bot's PR now holds a commit GitHub cannot say who
    pushed (it records commits' authors, which the pusher chooses, not the pusher)."""
    live = live_sandbox
    approve(live, "dev-writer", prod_pr)
    repo = live.sandbox.repo(GITOPS)
    pull = live.sandbox.issue(repo, prod_pr).pull
    assert pull is not None
    push_commit(live.sandbox, GITOPS, {"NOTES.md": "later\n"}, branch=pull.head_ref)
    advance(live, 1)
    work = tmp_path / "checkout"
    base = checkout_of(live, prod_pr, work)
    head = head_of(live, prod_pr)

    code, text = run_four_eyes(live, work, pull_request_event(live, prod_pr, base, "synchronize"))

    assert code == 0, text
    assert latest_status(live, head) == {
        "state": "failure",
        "description": "prod: the bot's PR has 2 commits: someone pushed onto it",
        "url": f"{live.url}/{GITOPS}/actions/runs/4242",
    }


def test_a_bump_of_dev_and_stage_passes_at_once_without_reading_the_pr(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    deploy_to_stage(live, tmp_path)
    (bump,) = bump_pulls(live)
    work = tmp_path / "checkout"
    # The merged bump, judged as it was: main before it, and its head.
    repo = live.sandbox.repo(GITOPS)
    assert bump.pull is not None
    before = len(live.sandbox.requests())
    merged = live.sandbox.branch_head(repo, "main")
    # The bump moved dev and stage: the first parent of its squash commit is what it started on.
    base = checkout_of(live, bump.number, work, repo.git.commit_info(merged).parents[0])
    assert _git(work, "diff", "--stat", base, "HEAD").count("values.yaml") == 2
    event = pull_request_event(live, bump.number, base, "opened")
    code, text = run_four_eyes(live, work, event)

    assert code == 0, text
    assert latest_status(live, head_of(live, bump.number)) == {
        "state": "success",
        "description": "no gated environment changes its image tag",
        "url": f"{live.url}/{GITOPS}/actions/runs/4242",
    }
    graphql = [r for r in live.sandbox.requests()[before:] if r.path == "/graphql"]
    assert graphql == [], "no PR facts are read when nothing gated moves"


def test_as_a_required_status_it_holds_the_merge_until_a_second_person_approves(
    live_sandbox: LiveSandbox, tmp_path: Path, prod_pr: int
) -> None:
    """Branch protection requires the context: a status of that context is a required check
    ("Required status checks can be checks or statuses", docs.github.com/en/pull-requests/
    collaborating-with-pull-requests/collaborating-on-repositories-with-code-quality-features/
    troubleshooting-required-status-checks). The requester, an admin, cannot merge their own
    promotion; once someone else approved the head, they can."""
    live = live_sandbox
    answer = live.control(
        "POST",
        f"/repos/{GITOPS}/protection",
        {"required_status_checks": {"strict": False, "contexts": [CONTEXT]}},
    )
    assert answer.ok, answer.text
    work = tmp_path / "checkout"
    base = checkout_of(live, prod_pr, work)
    approve(live, "release-manager", prod_pr)
    run_four_eyes(live, work, pull_request_event(live, prod_pr, base, "edited"))
    pull = live.as_user("omerbh7").get_repo(GITOPS).get_pull(prod_pr)

    with pytest.raises(GithubException) as refused:
        pull.merge(merge_method="squash")
    assert refused.value.status == 405
    assert CONTEXT in str(refused.value.data)

    approve(live, "dev-writer", prod_pr)
    run_four_eyes(live, work, pull_request_event(live, prod_pr, base, "edited"))
    assert pull.merge(merge_method="squash").merged


def test_a_pr_into_another_base_that_shares_the_head_sets_no_verdict(
    live_sandbox: LiveSandbox, tmp_path: Path, prod_pr: int
) -> None:
    """The attack: the requester opens a second PR from a branch at the prod PR's head into a
    side branch and gets it judged there. A commit status belongs to the commit, not to a PR
    ("Commit statuses", docs.github.com/en/rest/commits/statuses), so that PR's verdict would
    be the prod PR's too. Only PRs into the default branch are judged."""
    live = live_sandbox
    work = tmp_path / "checkout"
    base = checkout_of(live, prod_pr, work)
    head = head_of(live, prod_pr)
    run_four_eyes(live, work, pull_request_event(live, prod_pr, base, "opened"))
    assert latest_status(live, head)["state"] == "failure"
    with live.sandbox.lock:
        repo = live.sandbox.repo(GITOPS)
        repo.git.set_ref("refs/heads/side-base", live.sandbox.branch_head(repo, "main"))
        repo.git.set_ref("refs/heads/side-head", head)
    side = live.as_user("release-manager").get_repo(GITOPS)
    number = side.create_pull(title="side", body="", head="side-head", base="side-base").number
    side_work = tmp_path / "side-checkout"
    side_base = checkout_of(live, number, side_work)

    code, text = run_four_eyes(
        live, side_work, pull_request_event(live, number, side_base, "opened")
    )

    assert code == 0, text
    assert f"PR #{number} targets side-base, not main; no status set" in text
    assert latest_status(live, head)["state"] == "failure"


def test_a_change_to_prods_files_other_than_its_tag_needs_four_eyes_too(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    """The attack: the tag stays, but the PR points prod's image at another registry (or
    changes its replicas, or its Application's sync policy). That reaches prod as surely."""
    live = live_sandbox
    repo = live.sandbox.repo(GITOPS)
    with live.sandbox.lock:
        main = live.sandbox.branch_head(repo, "main")
        repo.git.set_ref("refs/heads/registry", main)
        entry = repo.git.flat_tree(repo.git.commit_info(main).tree)["environments/prod/values.yaml"]
        values = repo.git.blob(entry.sha).decode()
    changed = values.replace("registry: ", "registry: evil.example.com/", 1)
    assert changed != values
    push_commit(live.sandbox, GITOPS, {"environments/prod/values.yaml": changed}, branch="registry")
    author = live.as_user("dev-writer").get_repo(GITOPS)
    number = author.create_pull(title="registry", body="", head="registry", base="main").number
    work = tmp_path / "checkout"
    base = checkout_of(live, number, work)

    code, text = run_four_eyes(live, work, pull_request_event(live, number, base, "opened"))

    assert code == 0, text
    status = latest_status(live, head_of(live, number))
    # Judged as a move of prod (its commit, by a developer email GitHub maps to no account,
    # fails closed), never passed as "no gated environment changes".
    assert status["state"] == "failure"
    assert status["description"].startswith("prod: ")
