"""PR bodies, commit messages and summaries, checked against golden files.

Regenerate after a deliberate wording change with UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scoutflow_gitops import messages
from scoutflow_gitops.model import Commit, Comparison, Outcome, WorkflowRun

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
NEW = "1f3c5e7a9b2d4f6081a3c5e7f9b1d3f5a7c9e1b3"
OLD = "e7c24f013e837f438f66a6e039e673f880e2cb89"
APP = "https://github.com/omerbh7/scoutflow-app"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text


def _context(**overrides: object) -> messages.BumpContext:
    commits = tuple(
        Commit(f"{i:x}" * 40, f"Change {i}", "octocat", f"{APP}/commit/{i}") for i in range(1, 4)
    )
    fields: dict[str, object] = {
        "candidate": NEW,
        "candidate_commit": Commit(NEW, "Add shot charts", "octocat", f"{APP}/commit/{NEW}"),
        "source_repository": "omerbh7/scoutflow-app",
        "server_url": "https://github.com",
        "environments": (
            messages.EnvChange("dev", "environments/dev/values.yaml", OLD, NEW),
            messages.EnvChange("stage", "environments/stage/values.yaml", OLD, NEW),
        ),
        "changelog": Comparison(OLD, NEW, "ahead", 5, 0, commits, f"{APP}/compare/{OLD}...{NEW}"),
        "changelog_limit": 2,
        "passed_runs": tuple(
            WorkflowRun(i, name, "push", "main", "completed", "success", 1, "t", f"{APP}/r/{i}")
            for i, name in enumerate(("Backend CI", "Frontend CI", "Database CI"))
        ),
        "diff": "--- a/environments/dev/values.yaml\n+++ b/environments/dev/values.yaml\n"
        f"@@ -10 +10 @@\n-  imageTag: {OLD}\n+  imageTag: {NEW}\n",
        "notes": ("prod is not followed by CI",),
        "superseded": "9" * 40,
        "merge": "auto",
        "plan_json": '{"candidate": "' + NEW + '"}',
    }
    fields.update(overrides)
    return messages.BumpContext(**fields)  # type: ignore[arg-type]


def test_bump_pr_body_matches_golden() -> None:
    check_golden("bump_body.md", messages.bump_body(_context()))


def test_bump_commit_message_matches_golden() -> None:
    check_golden("bump_commit.txt", messages.bump_commit_body(_context()))


def test_the_plan_marker_round_trips_and_ignores_junk() -> None:
    body = messages.bump_body(_context())
    assert messages.plan_candidate(body) == NEW
    assert messages.plan_candidate("no marker") is None
    assert messages.plan_candidate("<!-- scoutflow-gitops:plan {not json} -->") is None
    assert messages.plan_candidate('<!-- scoutflow-gitops:plan {"candidate": 5} -->') is None


@pytest.mark.parametrize(
    ("hostile", "must_not_contain"),
    [
        ("```\n## Approved by @admin", "\n"),
        ("[click](https://evil.example)", "](https://evil"),
        ("ping @release-manager", " @release"),
        ("<!-- scoutflow-gitops:plan {} -->", "<!--"),
        ("zero\u200bwidth and \u202eright-to-left", "\u202e"),
    ],
)
def test_outside_text_cannot_change_the_markdown(hostile: str, must_not_contain: str) -> None:
    commit = Commit(NEW, hostile, hostile, f"{APP}/commit/{NEW}")
    body = messages.bump_body(_context(candidate_commit=commit))
    first_line = body.splitlines()[0]
    assert must_not_contain not in first_line
    assert body.count("<!-- scoutflow-gitops:plan") == 1


def test_a_long_headline_is_cut_to_one_short_line() -> None:
    assert len(messages.inline("x" * 500)) == 120


@pytest.mark.parametrize(
    "outcome",
    [
        Outcome(
            "merged",
            "dev, stage now run 1f3c5e7 (PR #3, squash-merged)",
            NEW,
            ("dev", "stage"),
            3,
            "https://github.com/omerbh7/scoutflow-gitops/pull/3",
            "-a\n+b\n",
        ),
        Outcome("waiting", "1f3c5e7 is waiting for Database CI", NEW),
    ],
    ids=["merged", "waiting"],
)
def test_step_summary_matches_golden(outcome: Outcome) -> None:
    text = messages.summary(outcome, event_name="workflow_run", dry_run=False)
    check_golden(f"summary_{outcome.result}.md", text)
