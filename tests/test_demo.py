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
    assert re.findall(r"^ +bot: (\S+) \(", text, re.M) == [
        "waiting",
        "waiting",
        "merged",
        "waiting",
        "waiting",
        "noop",
        "blocked",
    ]
    deployed = re.search(r"every environment runs ([0-9a-f]{7})", text)
    new = re.search(r"^\d\d:\d\d  push to omerbh7/scoutflow-app main: ([0-9a-f]{7})", text, re.M)
    assert deployed and new
    # The merged PR's diff: one line per values file, from the deployed tag to the new one.
    assert len(re.findall(rf"^ +-  imageTag: {deployed[1]}[0-9a-f]{{33}}$", text, re.M)) == 2
    assert len(re.findall(rf"^ +\+  imageTag: {new[1]}[0-9a-f]{{33}}$", text, re.M)) == 2
    assert "never downgraded" in text
    rows = dict(re.findall(r"^ +(dev|stage|prod) +([0-9a-f]{7}) ", text, re.M))
    assert rows == {"dev": new[1], "stage": new[1], "prod": deployed[1]}
    assert re.search(r"^The bot ran 7 jobs and made \d+ API requests in all", text, re.M)
    assert text.rstrip().endswith("Every step went as the story expects.")


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
