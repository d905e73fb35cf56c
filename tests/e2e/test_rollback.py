"""Rollbacks only go back, and an incident can always roll prod back: the real entrypoint.

Each test is an attack or an incident found against the earlier bot, replayed through
`/rollback` comments against the simulator:
- D -> E -> F on dev; `/rollback dev` goes to E; a second `/rollback dev` went *forward* to F,
  the image just rolled back from, because the bot took the most recent different tag.
- `/rollback dev <sha>` accepted a commit newer than what runs, as long as dev once ran it.
- `/rollback prod` was refused by the promoted-from and soak gates when prod's previous image
  had been short-lived on stage: the gates that keep untested code out kept a known-good
  image out during an incident.
"""

from __future__ import annotations

from pathlib import Path

from scoutflow_gitops.sandbox.control import push_commit
from tests.e2e.harness import APP, CI, GITOPS, bump_pulls, ci_event, run_bot, tag_on_main
from tests.e2e.test_promote import advance, bot_replies, comment, deploy_to_stage
from tests.sandbox.fixtures import LiveSandbox


def test_a_second_rollback_goes_further_back_never_forward(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    d = tag_on_main(live, "dev")
    e = deploy_to_stage(live, tmp_path, "Add shot charts")
    f = deploy_to_stage(live, tmp_path, "Add box scores")
    assert tag_on_main(live, "dev") == f

    first, _ = comment(live, tmp_path, "release-manager", "/rollback dev")
    assert first.result == "merged", first.outputs["reason"]
    assert tag_on_main(live, "dev") == e

    second, issue = comment(live, tmp_path, "release-manager", "/rollback dev")
    assert second.result == "merged", second.outputs["reason"]
    assert tag_on_main(live, "dev") == d, (
        "the second rollback went forward to the image rolled back from"
    )

    forward, issue = comment(live, tmp_path, "release-manager", f"/rollback dev {f}")
    assert forward.result == "refused"
    assert f"{f[:7]} is not older than {d[:7]}" in bot_replies(issue)[0]
    assert tag_on_main(live, "dev") == d


def test_a_rollback_to_a_named_newer_commit_dev_once_ran_is_refused(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    e = deploy_to_stage(live, tmp_path, "Add shot charts")
    f = deploy_to_stage(live, tmp_path, "Add box scores")
    back, _ = comment(live, tmp_path, "release-manager", f"/rollback stage {e}")
    assert back.result == "merged", back.outputs["reason"]

    run, issue = comment(live, tmp_path, "release-manager", f"/rollback stage {f}")

    assert run.result == "refused"
    assert "history gate" in run.outputs["reason"]
    assert f"{f[:7]} is not older than {e[:7]}" in bot_replies(issue)[0]


def test_prod_rolls_back_in_an_incident_whatever_stage_did_with_the_old_image(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    """Prod ran D, which stage ran only briefly (E replaced it within minutes); E soaked and
    reached prod; E misbehaves. Rolling back to D needs the rollback permission and D in prod's
    own history, nothing about stage."""
    live = live_sandbox
    d = tag_on_main(live, "prod")
    e = deploy_to_stage(live, tmp_path, "Add shot charts")
    advance(live, 40)
    promotion, _ = comment(live, tmp_path, "release-manager", "/promote prod")
    assert promotion.result == "opened", promotion.outputs["reason"]
    pull = live.as_user("omerbh7").get_repo(GITOPS).get_pull(int(promotion.outputs["pr_number"]))
    assert pull.merge(merge_method="squash").merged
    assert tag_on_main(live, "prod") == e
    # The app moves on; nothing about stage may matter below.
    later = push_commit(live.sandbox, APP, {"services/x.py": "X = 1\n"}, message="Later")
    assert later

    run, issue = comment(live, tmp_path, "release-manager", "/rollback prod")

    assert run.result == "opened", run.outputs["reason"]
    rollback = bump_pulls(live)[-1]
    assert rollback.title == f"Roll back prod to {d[:7]}"
    assert f"+  imageTag: {d}" in rollback.body
    assert not bot_replies(issue)[0].startswith("`/rollback prod` was refused")


def test_a_commit_force_pushed_off_main_after_stage_ran_it_is_never_promoted(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    """The attack: a commit reaches main, CI deploys it to stage, then main is force-pushed
    back to its parent and rebuilt without it. Stage still names it and has soaked it; what
    prod would get is code that is on no branch anyone reviews (GitHub keeps the commit
    reachable by SHA after a force-push: docs.github.com/en/pull-requests/committing-changes-
    to-your-project/creating-and-editing-commits/about-commits, "commits that are not on any
    branch")."""
    live = live_sandbox
    gone = deploy_to_stage(live, tmp_path, "Add shot charts")
    with live.sandbox.lock:
        app = live.sandbox.repo(APP)
        parent = app.git.commit_info(gone).parents[0]
        app.git.set_ref("refs/heads/main", parent)
    push_commit(live.sandbox, APP, {"services/y.py": "Y = 2\n"}, message="Rebuilt main")
    advance(live, 40)

    run, issue = comment(live, tmp_path, "release-manager", "/promote prod")

    assert run.result == "refused"
    assert "on-branch gate" in run.outputs["reason"]
    assert f"{gone[:7]} is not on {APP}'s main (any more)" in bot_replies(issue)[0]
    assert not [pr for pr in bump_pulls(live) if pr.title.startswith("Promote")]


def test_a_build_stage_was_rolled_back_from_never_comes_back(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    """The attack (an accident as often): stage is rolled back from F; once the hold is lifted,
    a redelivered CI success for F moved stage straight back to F, and `/promote prod F` was
    accepted as F had soaked in stage before. The rollback quarantines F in the same commit."""
    live = live_sandbox
    deploy_to_stage(live, tmp_path, "Add shot charts")
    f = deploy_to_stage(live, tmp_path, "Add box scores")
    back, _ = comment(live, tmp_path, "release-manager", "/rollback stage")
    assert back.result == "merged", back.outputs["reason"]
    released, _ = comment(live, tmp_path, "release-manager", "/release stage")
    assert released.result == "merged"
    stage = tag_on_main(live, "stage")
    assert stage != f

    again = run_bot(live, tmp_path, ci_event(live, f, CI[-1]))

    assert again.result == "refused"
    assert f"{f[:7]} is quarantined (.github/quarantine/{f}.yml)" in again.outputs["reason"]
    assert tag_on_main(live, "stage") == stage
    advance(live, 60)
    run, issue = comment(live, tmp_path, "release-manager", f"/promote prod {f}")
    assert run.result == "refused" and "quarantine" in run.outputs["reason"]
    assert f"`/unquarantine {f}`" in bot_replies(issue)[0]


def test_a_quarantine_is_lifted_only_by_unquarantine_and_set_by_hand_with_quarantine(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    live = live_sandbox
    f = deploy_to_stage(live, tmp_path, "Add box scores")
    nothing, issue = comment(live, tmp_path, "release-manager", f"/unquarantine {f}")
    assert nothing.result == "refused" and f"{f[:7]} is not quarantined" in bot_replies(issue)[0]

    marked, _ = comment(live, tmp_path, "release-manager", f"/quarantine {f}")
    assert marked.result == "merged", marked.outputs["reason"]
    again = run_bot(live, tmp_path, ci_event(live, f, CI[-1]))
    assert again.result == "refused" and "quarantined" in again.outputs["reason"]

    writer, issue = comment(live, tmp_path, "dev-writer", f"/unquarantine {f}")
    assert writer.result == "refused" and "permission gate" in writer.outputs["reason"]
    assert "lifting the quarantine of" in bot_replies(issue)[0]

    lifted, _ = comment(live, tmp_path, "release-manager", f"/unquarantine {f}")
    assert lifted.result == "merged", lifted.outputs["reason"]
    assert run_bot(live, tmp_path, ci_event(live, f, CI[-1])).result in {"noop", "merged"}


def test_a_stage_rollback_closes_the_open_prod_pr_of_what_it_rolled_back_from(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    """The attack by neglect: the prod PR for F stayed open and mergeable after stage was
    rolled back from F, with no word on it."""
    live = live_sandbox
    f = deploy_to_stage(live, tmp_path, "Add box scores")
    advance(live, 31)
    promotion, _ = comment(live, tmp_path, "release-manager", "/promote prod")
    assert promotion.result == "opened"
    number = int(promotion.outputs["pr_number"])

    back, _ = comment(live, tmp_path, "release-manager", "/rollback stage")

    assert back.result == "merged", back.outputs["reason"]
    assert f"closed #{number}, which promoted {f[:7]}" in back.outputs["reason"]
    pr = live.sandbox.issue(live.sandbox.repo(GITOPS), number)
    assert pr.state == "closed" and pr.pull is not None and not pr.pull.merged
    assert "quarantined" in {label.name for label in pr.labels}
    assert pr.comments[-1].body.startswith(f"Closed: `{f[:7]}` was rolled back from by #")
