"""Real webhook payloads (tests/fixtures/github/webhooks, from GitHub's published examples),
re-pointed at ScoutFlow's repositories for the cases that need it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "github" / "webhooks"
APP = "omerbh7/scoutflow-app"
APP_ID = 424242
SHA = "1f3c5e7a9b2d4f6081a3c5e7f9b1d3f5a7c9e1b3"
# ScoutFlow's required workflows (.github/scoutflow-gitops.yml): display name -> file.
FILES = {
    "Backend CI": ".github/workflows/backend-ci.yml",
    "Frontend CI": ".github/workflows/frontend-ci.yml",
    "Database CI": ".github/workflows/database-ci.yml",
}


def examples(event: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((FIXTURES / f"{event}.json").read_text())
    return data


def workflow_run(
    *,
    workflow: str = "Database CI",
    path: str | None = None,
    sha: str = SHA,
    conclusion: str | None = "success",
    status: str = "completed",
    event: str = "push",
    branch: str = "main",
    action: str = "completed",
    repository: str = APP,
    head_repository_id: int = APP_ID,
) -> dict[str, Any]:
    """The real completed-success example, with the fields a case is about replaced.

    ``path`` is the workflow's file, by default the ScoutFlow file of ``workflow``; the run and
    the payload's ``workflow`` object carry it, as GitHub's example does.
    """
    payload = copy.deepcopy(examples("workflow_run")[1])
    run = payload["workflow_run"]
    payload["action"] = action
    file = path if path is not None else FILES.get(workflow, ".github/workflows/other.yml")
    payload["workflow"].update(name=workflow, path=file)
    run.update(
        name=workflow,
        path=file,
        head_sha=sha,
        conclusion=conclusion,
        status=status,
        event=event,
        head_branch=branch,
    )
    run["repository"].update(full_name=repository, id=APP_ID)
    run["head_repository"].update(id=head_repository_id)
    return payload
