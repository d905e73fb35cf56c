"""`make demo` tells the ScoutFlow story and doubles as a smoke test of the bot."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from scoutflow_gitops import demo

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def test_the_story_runs_as_expected_and_reads_the_same_every_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(PROJECT_ROOT)
    outputs = []
    for _ in range(2):
        out = io.StringIO()
        assert demo.main([], out=out) == 0
        outputs.append(out.getvalue())
    text = outputs[0]

    assert outputs[1] == text
    # The simulator's free port differs from run to run; the timeline never shows it.
    assert "127.0.0.1" not in text
    assert re.findall(r"^ +bot: (\S+) \(", text, re.M) == [
        # Dev and stage follow CI
        "waiting",
        "waiting",
        "merged",
        "waiting",
        "waiting",
        "noop",
        "blocked",
        # Prod by request: reader, too early, after the soak, rollback, the fix's CI, release,
        # the re-run
        "refused",
        "refused",
        "opened",
        "merged",
        "waiting",
        "waiting",
        "merged",
        "merged",
        "merged",
    ]
    follow_ci, rest = text.split(f"\n{demo.PROD_BY_REQUEST.title}\n")
    deployed = re.search(r"every environment runs ([0-9a-f]{7})", text)
    new = re.search(r"^\d\d:\d\d  push to omerbh7/scoutflow-app main: ([0-9a-f]{7})", text, re.M)
    assert deployed and new
    # The merged PR's diff: one line per values file, from the deployed tag to the new one.
    old_tag, new_tag = rf"{deployed[1]}[0-9a-f]{{33}}", rf"{new[1]}[0-9a-f]{{33}}"
    assert len(re.findall(rf"^ +-  imageTag: {old_tag}$", follow_ci, re.M)) == 2
    assert len(re.findall(rf"^ +\+  imageTag: {new_tag}$", follow_ci, re.M)) == 2
    assert "never downgraded" in follow_ci
    _the_promotion_chapter(rest, deployed[1], new[1])
    assert text.rstrip().endswith("Every step went as the story expects.")


def _the_promotion_chapter(text: str, deployed: str, new: str) -> None:
    said = re.findall(r"^\d\d:\d\d  (\S+) comments on issue #\d+: \"(.+)\"$", text, re.M)
    assert said == [
        ("qa-reader", "/promote prod"),
        ("release-manager", "/promote prod"),
        ("release-manager", "/promote prod"),
        ("release-manager", "/rollback stage"),
        ("release-manager", "/release stage"),
    ]
    # The bot's replies are quoted in the thread, cut to their first two lines.
    assert re.search(r"^ +> .*\*\*permission\*\* gate: @qa-reader has the read role", text, re.M)
    come_back = re.search(
        r"^ +> To go ahead: ask again after \d{4}-\d\d-\d\d (\d\d:\d\d) UTC", text, re.M
    )
    assert come_back
    moved = re.search(r"^(\d\d:\d\d)  the clock moves on \d+ minutes, past (\d\d:\d\d)", text, re.M)
    assert moved and moved[2] == come_back[1] and moved[1] > come_back[1]
    # The production PR: opened, never merged, gated, one line of prod's file.
    pr = re.search(
        rf'^ +PR #(\d+) "Promote {new} to prod": open, not merged\n'
        r" +labels promotion, env:prod; review requested from \(nobody\)\n"
        r" +--- a/environments/prod/values\.yaml\n"
        r" +\+\+\+ b/environments/prod/values\.yaml\n"
        r" +@@ .* @@\n"
        rf" +-  imageTag: {deployed}[0-9a-f]{{33}}\n"
        rf" +\+  imageTag: {new}[0-9a-f]{{33}}\n"
        r"\d\d:\d\d  ",
        text,
        re.M,
    )
    assert pr
    # The rollback adds the hold; the fix's CI then moves dev alone; /release deletes the hold.
    assert re.search(r"^ +--- /dev/null\n +\+\+\+ b/\.github/holds/stage\.yml$", text, re.M)
    fix = re.search(r"^\d\d:\d\d  push to omerbh7/scoutflow-app main: ([0-9a-f]{7})", text, re.M)
    assert fix
    assert re.search(
        rf"^ +bot: merged .*: PR #\d+ squash-merged to deploy {fix[1]} to dev$", text, re.M
    )
    assert re.search(rf"^ +stage stays on {deployed}: it is on hold$", text, re.M)
    assert re.search(r"^ +PR #\d+ merged into main: deletes \.github/holds/stage\.yml$", text, re.M)
    assert re.search(
        rf"^\d\d:\d\d  Database CI passed for {fix[1]} \(re-run\)\n"
        rf" +bot: merged .*: PR #\d+ squash-merged to deploy {fix[1]} to stage$",
        text,
        re.M,
    )
    # Stage's rollback quarantines what it ran and closes the prod PR that promoted it.
    assert re.search(rf"^ +\+\+\+ b/\.github/quarantine/{new}[0-9a-f]{{33}}\.yml$", text, re.M)
    assert re.search(rf"^ +> .*closed #{pr[1]}, which$", text, re.M)
    # Where things end: dev and stage on the fix, prod where it was, no PR left open.
    rows = dict(re.findall(r"^ +(dev|stage|prod) +([0-9a-f]{7}) ", text, re.M))
    assert rows == {"dev": fix[1], "stage": fix[1], "prod": deployed}
    assert not re.search(r"^ +open: PR", text, re.M)
    assert re.search(r"^ +on hold: none$", text, re.M)
    assert re.search(
        r"^The bot ran 16 jobs \(11 for CI runs, 5 for comments\) and made \d+ API requests",
        text,
        re.M,
    )


def test_a_step_that_ends_differently_fails_the_demo() -> None:
    def deploy_after_one_workflow(story: demo.Story) -> None:
        sha = story.push("early", "Backend: early bird", {"backend/early.py": "x = 1\n"})
        story.ci("Backend CI", sha, expect="merged")

    out = io.StringIO()
    with demo.world(PROJECT_ROOT, out) as story:
        status = demo.tell(story, [demo.Chapter("Too early", (deploy_after_one_workflow,))])

    assert status == 1
    assert re.search(
        r"^  expected Backend CI for [0-9a-f]{7} to end in merged, got waiting \(exit 0\)$",
        out.getvalue(),
        re.M,
    )
