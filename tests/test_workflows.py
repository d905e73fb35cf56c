"""What the repository's own workflows promise about trust, read from the workflow files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
# The base commit of a PR, or of a merge queue's group: GitHub's record, never the PR's files.
BASE_SHA = "${{ github.event.pull_request.base.sha || github.event.merge_group.base_sha }}"


def _workflow(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / ".github/workflows" / name).read_text())
    # PyYAML reads the key `on` as the boolean True (YAML 1.1).
    loaded["on"] = loaded.pop(True, loaded.get("on"))
    return loaded


def _guard_steps() -> list[dict[str, Any]]:
    workflow = yaml.safe_load((ROOT / ".github/workflows/pr-validation.yml").read_text())
    steps: list[dict[str, Any]] = workflow["jobs"]["guard"]["steps"]
    return steps


def test_the_guard_runs_the_base_branchs_bot_never_the_prs() -> None:
    """Who controls it: the PR's author controls every file of the PR's checkout, `guard.py`
    and `pyproject.toml` included. The guard job checks the base commit out beside it and
    installs the bot from there, in isolated mode (`python -I`: no current directory and no
    `PYTHON*` variables on the path, so a module the PR adds at its root is never imported),
    and no step installs or runs anything from the PR's checkout."""
    steps = _guard_steps()
    trusted = [s for s in steps if (s.get("with") or {}).get("path") == ".trusted"]
    assert len(trusted) == 1
    assert trusted[0]["with"]["ref"] == BASE_SHA
    installs = [s for s in steps if "pip install" in str(s.get("run", ""))]
    assert len(installs) == 1
    assert installs[0]["working-directory"] == ".trusted"
    assert installs[0]["run"].startswith("python -I -m pip install ")
    runs = [str(s.get("run", "")) for s in steps if "run" in s]
    assert runs[-1].startswith("scoutflow-gitops guard ")
    assert not any(
        " ./" in run or run.rstrip().endswith(" .") for run in runs[:-1] if "-I" not in run
    )


def test_the_guard_gets_the_bots_login_from_a_variable_not_the_branch() -> None:
    """Who controls it: anyone who can push a branch chooses its name, so the guard's rollback
    licence comes from the PR's author in GitHub's event payload, matched with a repository
    variable only admins set."""
    (step,) = [s for s in _guard_steps() if str(s.get("run", "")).startswith("scoutflow-gitops")]
    assert step["env"]["SCOUTFLOW_GITOPS_BOT_LOGIN"] == "${{ vars.SCOUTFLOW_GITOPS_BOT_LOGIN }}"
    assert "head-branch" not in step["run"] and "GITHUB_HEAD_REF" not in str(step["env"])


def test_four_eyes_runs_on_every_event_that_changes_its_verdict() -> None:
    """A push (new head: earlier approvals are for another commit), a description edit (the
    requester record), a review submitted, edited or dismissed, and a merge queue's group, whose
    required checks must report too (docs.github.com/en/repositories/configuring-branches-and-
    merges-in-your-repository/configuring-pull-request-merges/managing-a-merge-queue)."""
    on = _workflow("four-eyes.yml")["on"]
    assert {"opened", "synchronize", "reopened", "edited"} <= set(on["pull_request"]["types"])
    assert set(on["pull_request_review"]["types"]) == {"submitted", "edited", "dismissed"}
    assert on["merge_group"]["types"] == ["checks_requested"]
    assert "merge_group" in _workflow("pr-validation.yml")["on"]


def test_four_eyes_runs_the_base_branchs_bot_with_the_least_it_needs() -> None:
    """Who controls it: the PR's checkout is the PR author's. The job installs the base
    branch's bot in isolated mode and asks only to read the PR and to set a status."""
    workflow = _workflow("four-eyes.yml")
    assert workflow["permissions"] == {}
    job = workflow["jobs"]["four-eyes"]
    assert job["permissions"] == {
        "contents": "read",
        "pull-requests": "read",
        "statuses": "write",
    }
    steps = job["steps"]
    (trusted,) = [s for s in steps if (s.get("with") or {}).get("path") == ".trusted"]
    assert trusted["with"]["ref"] == BASE_SHA
    (install,) = [s for s in steps if "pip install" in str(s.get("run", ""))]
    assert install["working-directory"] == ".trusted"
    assert install["run"].startswith("python -I -m pip install ")
    last = steps[-1]
    assert last["run"] == "scoutflow-gitops four-eyes"
    assert last["env"]["SCOUTFLOW_GITOPS_BOT_LOGIN"] == "${{ vars.SCOUTFLOW_GITOPS_BOT_LOGIN }}"
    # actions/checkout persists the token unless told not to: the default is true.
    assert [(s.get("with") or {}).get("persist-credentials") for s in steps[:2]] == [False, False]
