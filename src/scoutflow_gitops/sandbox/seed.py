"""The ScoutFlow world the demo and end-to-end tests start from, identical on every run.

Commit SHAs are real hashes, so they cannot be chosen: the app repository's history is built
first, and the GitOps repository's values files are then pointed at one of its commits (not the
newest, so there is something to promote). Fixed authors and the sandbox's fixed clock make
every SHA the same from run to run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from dulwich.errors import NotGitRepository
from dulwich.objects import Blob, Commit
from dulwich.repo import Repo as DiskRepo

from scoutflow_gitops.errors import UserError
from scoutflow_gitops.sandbox.gitstore import SUBMODULE_MODE, FileEntry, Signature
from scoutflow_gitops.sandbox.model import Repo
from scoutflow_gitops.sandbox.state import Sandbox
from scoutflow_gitops.sandbox.webhooks import INSTALLATION_ID

OWNER = "omerbh7"
APP_REPO = f"{OWNER}/scoutflow-app"
GITOPS_REPO = f"{OWNER}/scoutflow-gitops"
CI_WORKFLOWS = ("Backend CI", "Frontend CI", "Database CI")
COLLABORATORS = (
    (OWNER, "admin"),
    ("release-manager", "maintain"),
    ("dev-writer", "write"),
    ("qa-reader", "read"),
)
# What the README tells a team to grant the bot's GitHub App.
APP_PERMISSIONS = {
    "actions": "read",
    "contents": "write",
    "issues": "write",
    "metadata": "read",
    "pull_requests": "write",
}
# Index (0-based) of the app commit the seeded environments run: the 4th of 6.
DEPLOYED_INDEX = 3
_IMAGE_TAG = re.compile(r"^(\s*imageTag:\s*[\"']?)[0-9a-f]{40}([\"']?)", re.MULTILINE)
_VALUES_FILE = re.compile(r"^environments/[^/]+/values\.yaml$")

_WORKFLOW = """name: {name}
on:
  push:
    branches: [main]
permissions:
  contents: read
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: make -C {folder} test
"""

# Six commits, each touching some part of the app, oldest first.
APP_HISTORY: tuple[tuple[str, dict[str, str]], ...] = (
    (
        "Backend: scouting API skeleton",
        {
            "README.md": "# ScoutFlow\n\nScouting reports for football clubs.\n",
            "backend/app/main.py": (
                'from fastapi import FastAPI\n\napp = FastAPI(title="ScoutFlow")\n'
            ),
            "backend/requirements.txt": "fastapi==0.115.0\nuvicorn==0.30.6\n",
            ".github/workflows/backend-ci.yml": _WORKFLOW.format(
                name="Backend CI", folder="backend"
            ),
        },
    ),
    (
        "Frontend: app shell",
        {
            "frontend/package.json": '{\n  "name": "scoutflow-frontend",\n  "private": true\n}\n',
            "frontend/src/App.tsx": "export function App() {\n  return <h1>ScoutFlow</h1>;\n}\n",
            ".github/workflows/frontend-ci.yml": _WORKFLOW.format(
                name="Frontend CI", folder="frontend"
            ),
        },
    ),
    (
        "Database: initial schema",
        {
            "database/migrations/001_init.sql": (
                "CREATE TABLE players (id serial PRIMARY KEY, name text NOT NULL, team text);\n"
            ),
            ".github/workflows/database-ci.yml": _WORKFLOW.format(
                name="Database CI", folder="database"
            ),
        },
    ),
    (
        "Backend: health endpoint",
        {
            "backend/app/main.py": (
                'from fastapi import FastAPI\n\napp = FastAPI(title="ScoutFlow")\n\n\n'
                '@app.get("/healthz")\ndef health() -> dict[str, str]:\n'
                '    return {"status": "ok"}\n'
            ),
        },
    ),
    (
        "Frontend: list scouted players",
        {
            "frontend/src/App.tsx": (
                "export function App() {\n  return (\n    <main>\n      <h1>ScoutFlow</h1>\n"
                "      <PlayerList />\n    </main>\n  );\n}\n"
            ),
        },
    ),
    (
        "Database: index players by team",
        {
            "database/migrations/002_players_team.sql": (
                "CREATE INDEX players_team ON players (team);\n"
            )
        },
    ),
)


@dataclass(frozen=True)
class SeedInfo:
    app_repo: str
    gitops_repo: str
    app_commits: tuple[str, ...]
    deployed_sha: str
    gitops_head: str
    values_files: tuple[str, ...]
    ci_workflows: tuple[str, ...]
    collaborators: tuple[tuple[str, str], ...]

    @property
    def newer_app_commits(self) -> tuple[str, ...]:
        """App commits after the deployed one: what a promotion can move to."""
        return self.app_commits[self.app_commits.index(self.deployed_sha) + 1 :]


def seed_app(sandbox: Sandbox) -> tuple[str, ...]:
    """Create ``omerbh7/scoutflow-app`` with its six commits on main; their SHAs, oldest first."""
    with sandbox.lock:
        repo = sandbox.create_repo(OWNER, "scoutflow-app")
        author = sandbox.user(OWNER)
        shas = []
        for message, files in APP_HISTORY:
            sandbox.clock.advance(10)
            signature = Signature(author.login, author.email, sandbox.clock.now())
            changes = {path: text.encode("utf-8") for path, text in files.items()}
            shas.append(sandbox.commit_files(repo, "main", changes, message, author=signature))
        return tuple(shas)


def seed_scoutflow(sandbox: Sandbox, gitops_path: Path | str = ".") -> SeedInfo:
    """Both ScoutFlow repositories, CI runs for the deployed commit, and the collaborators."""
    with sandbox.lock:
        app_commits = seed_app(sandbox)
        deployed = app_commits[DEPLOYED_INDEX]
        app = sandbox.repo(APP_REPO)
        for workflow in CI_WORKFLOWS:
            sandbox.clock.advance(3)
            sandbox.add_run(app, workflow=workflow, head_sha=deployed, conclusion="success")
        gitops = sandbox.create_repo(OWNER, "scoutflow-gitops")
        values_files = _import_checkout(sandbox, gitops, Path(gitops_path), deployed)
        for repo in (app, gitops):
            for login, role in COLLABORATORS:
                sandbox.set_collaborator(repo, login, role)
        sandbox.user("outsider")
        # The promotion bot's GitHub App, installed on both repositories as the README asks.
        sandbox.access.install(
            INSTALLATION_ID,
            sandbox.user(OWNER),
            (app, gitops),
            APP_PERMISSIONS,
            sandbox.clock.now(),
        )
        return SeedInfo(
            app_repo=APP_REPO,
            gitops_repo=GITOPS_REPO,
            app_commits=app_commits,
            deployed_sha=deployed,
            gitops_head=sandbox.branch_head(gitops, "main"),
            values_files=values_files,
            ci_workflows=CI_WORKFLOWS,
            collaborators=COLLABORATORS,
        )


def _import_checkout(sandbox: Sandbox, repo: Repo, path: Path, deployed: str) -> tuple[str, ...]:
    """Commit the tracked files at ``path``'s HEAD, then point the values files at ``deployed``."""
    try:
        disk = DiskRepo(str(path))
    except NotGitRepository:
        raise UserError(
            f"{path} is not a git repository",
            "pass --repo with the path of a scoutflow-gitops checkout",
        ) from None
    with disk:
        try:
            head = disk.head()
        except KeyError:
            raise UserError(f"{path} has no commits yet", "commit something first") from None
        store = disk.object_store
        commit = disk[head]
        assert isinstance(commit, Commit)
        files: dict[str, FileEntry] = {}
        for item in store.iter_tree_contents(commit.tree):
            if item.mode == SUBMODULE_MODE:
                continue
            blob = store[item.sha]
            assert isinstance(blob, Blob)
            sha = repo.git.put_blob(blob.as_raw_string())
            files[item.path.decode("utf-8")] = FileEntry(item.mode, sha)
    owner = sandbox.user(OWNER)
    sandbox.clock.advance(5)
    signature = Signature(owner.login, owner.email, sandbox.clock.now())
    sandbox.commit_tree(
        repo, "main", repo.git.write_tree(files), "Import the GitOps repository", signature
    )
    changes: dict[str, bytes | None] = {}
    for name in sorted(p for p in files if _VALUES_FILE.match(p)):
        text = repo.git.blob(files[name].sha).decode("utf-8")
        updated = _IMAGE_TAG.sub(lambda m: f"{m.group(1)}{deployed}{m.group(2)}", text)
        if updated != text:
            changes[name] = updated.encode("utf-8")
    if changes:
        sandbox.clock.advance(5)
        signature = Signature(owner.login, owner.email, sandbox.clock.now())
        sandbox.commit_files(
            repo,
            "main",
            changes,
            f"Deploy scoutflow-app {deployed[:7]} to every environment",
            author=signature,
        )
    return tuple(changes)
