"""What the repository's own workflows promise about trust, read from the workflow files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


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
    assert trusted[0]["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
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
