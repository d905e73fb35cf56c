"""Who a request acts as, and what it may reach: tokens, their scopes and their permissions.

GitHub's rules, as modelled here (sources in ``docs/sandbox-rules.md``):

- A request names a token; an unknown one is refused with 401 ``Bad credentials``.
- A **user token** acts as that user and reaches what the user's role on a repository allows.
- An **installation token** acts as the App's bot. It reaches only the repositories it was minted
  for (a subset of the installation's), with only the permissions it was minted with (a subset
  of what the installation was granted).
- A **workflow token** (the runner's ``GITHUB_TOKEN``) acts as ``github-actions[bot]`` and
  reaches only the repository the workflow runs in, with the job's ``permissions``.
- The **App's JWT** reaches only the App's own endpoints (its installations, minting tokens).
- A private repository outside a token's reach does not exist for it: REST 404 ``Not Found``,
  GraphQL ``NOT_FOUND``. A reachable repository whose permission the token lacks answers 403
  ``Resource not accessible by integration`` (GraphQL ``FORBIDDEN``). Public repositories are
  readable by every token.

Permissions are GitHub's App permission names (``contents``, ``pull_requests``, ``issues``,
``actions``, ``metadata``, ...) with the levels ``read`` and ``write``.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from scoutflow_gitops.sandbox.model import Repo, SandboxError, User

Level = Literal["read", "write"]
TokenKind = Literal["user", "installation", "workflow", "app"]
LEVELS: Mapping[str, int] = {"read": 1, "write": 2}
# The App permissions the simulator knows; anything else is refused when minting.
PERMISSIONS = (
    "actions",
    "checks",
    "contents",
    "issues",
    "metadata",
    "pull_requests",
    "statuses",
    "workflows",
)
# The sandbox's GitHub App.
APP_ID = 1
APP_SLUG = "scoutflow-gitops"
WORKFLOW_LOGIN = "github-actions[bot]"
# What a role lets a user token do, as App-style permissions (metadata is implied by any role).
ROLE_LEVEL: Mapping[str, Level] = {
    "admin": "write",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
}
NO_INTEGRATION_ACCESS = "Resource not accessible by integration"
NO_TOKEN_ACCESS = "Resource not accessible by personal access token"
PUSH_FOR_PERMISSION = "Must have push access to view collaborator permission."


@dataclass(frozen=True)
class Need:
    """What one request needs: a permission at a level. ``alternatives`` may stand in for it
    (GitHub lets either Issues or Pull requests write a comment on a pull request);
    ``user_level``, when set, is what a user's role needs instead (anyone with read access may
    review a pull request, while an App needs Pull requests: write)."""

    permission: str
    level: Level
    alternatives: tuple[str, ...] = ()
    user_level: Level | None = None


@dataclass(frozen=True)
class Installation:
    """The App installed on one account, for some of its repositories."""

    id: int
    account: User
    repositories: frozenset[str]
    permissions: Mapping[str, Level]
    created_at: datetime


@dataclass(frozen=True)
class Grant:
    """One token and everything it may do. ``repositories`` is ``None`` for a user token,
    which reaches what the user's roles reach."""

    token: str
    kind: TokenKind
    actor: User
    repositories: frozenset[str] | None
    permissions: Mapping[str, Level] = field(default_factory=dict)
    installation_id: int | None = None
    expires_at: datetime | None = None

    def describe(self) -> str:
        return {
            "user": f"a token of @{self.actor.login}",
            "installation": f"an installation token of installation {self.installation_id}",
            "workflow": "a workflow's GITHUB_TOKEN",
            "app": "the App's JSON web token",
        }[self.kind]


class Access:
    """The tokens a sandbox has issued and the App's installations; the checks every API
    request passes before it is served."""

    def __init__(self) -> None:
        self.installations: dict[int, Installation] = {}
        self._grants: dict[str, Grant] = {}
        self._serial = itertools.count(1)

    # -- issuing ---------------------------------------------------------------------------

    def _new_token(self, prefix: str) -> str:
        return f"{prefix}_sandbox{next(self._serial):030d}"

    def add(self, grant: Grant) -> Grant:
        if grant.token in self._grants:
            raise SandboxError(422, "a token with this value exists already")
        self._grants[grant.token] = grant
        return grant

    def revoke(self, token: str) -> None:
        """Forget a token (``DELETE /installation/token`` on GitHub); unknown ones are ignored."""
        self._grants.pop(token, None)

    def user_token(self, user: User, token: str | None = None) -> Grant:
        """A personal access token: acts as ``user`` with the user's roles."""
        return self.add(Grant(token or self._new_token("ghp"), "user", user, None))

    def workflow_token(
        self,
        actor: User,
        repo: Repo,
        permissions: Mapping[str, str],
        token: str | None = None,
    ) -> Grant:
        """The runner's ``GITHUB_TOKEN`` for one job of a workflow in ``repo``."""
        return self.add(
            Grant(
                token or self._new_token("ghs"),
                "workflow",
                actor,
                frozenset({repo.full_name.lower()}),
                _levels(permissions),
            )
        )

    def install(
        self,
        installation_id: int,
        account: User,
        repos: Iterable[Repo],
        permissions: Mapping[str, str],
        now: datetime,
    ) -> Installation:
        names = frozenset(repo.full_name.lower() for repo in repos)
        if any(not name.startswith(account.login.lower() + "/") for name in names):
            raise SandboxError(422, "an installation covers repositories of its own account only")
        installation = Installation(
            installation_id, account, names, _levels(permissions, whole=True), now
        )
        self.installations[installation.id] = installation
        return installation

    def installation_for(self, repo: Repo) -> Installation | None:
        key = repo.full_name.lower()
        return next((i for i in self.installations.values() if key in i.repositories), None)

    def mint(
        self,
        installation: Installation,
        actor: User,
        repos: Iterable[Repo] | None,
        permissions: Mapping[str, str] | None,
        expires_at: datetime | None,
        token: str | None = None,
    ) -> Grant:
        """An installation access token, narrowed to ``repos`` and ``permissions`` when given.

        GitHub refuses a repository the installation does not cover and a permission above
        what the installation was granted, both with 422.
        """
        if repos is None:
            names = installation.repositories
        else:
            names = frozenset(repo.full_name.lower() for repo in repos)
            if not names <= installation.repositories:
                raise SandboxError(
                    422,
                    "There is at least one repository that does not exist or is not accessible "
                    "to the parent installation.",
                )
        granted = dict(installation.permissions)
        if permissions is not None:
            wanted = _levels(permissions)
            for name, level in wanted.items():
                have = granted.get(name)
                if have is None or LEVELS[level] > LEVELS[have]:
                    raise SandboxError(
                        422, "The permissions requested are not granted to this installation."
                    )
            granted = {"metadata": "read", **wanted}
        return self.add(
            Grant(
                token or self._new_token("ghs"),
                "installation",
                actor,
                names,
                granted,
                installation_id=installation.id,
                expires_at=expires_at,
            )
        )

    # -- checking --------------------------------------------------------------------------

    def authenticate(self, header: str, app_bot: User, now: datetime) -> Grant:
        """The grant behind an ``Authorization`` header, or 401 as GitHub answers."""
        scheme, _, credential = header.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() not in ("token", "bearer") or not credential:
            raise SandboxError(401, "Bad credentials")
        grant = self._grants.get(credential)
        if grant is None and scheme.lower() == "bearer" and _app_jwt(credential):
            return Grant(credential, "app", app_bot, frozenset())
        if grant is None:
            raise SandboxError(401, "Bad credentials")
        if grant.expires_at is not None and now >= grant.expires_at:
            raise SandboxError(401, "Bad credentials")
        return grant

    def can_see(self, grant: Grant, repo: Repo) -> bool:
        if not repo.private:
            return grant.kind != "app"
        if grant.kind == "user":
            return repo.collaborators.get(grant.actor.login.lower()) is not None
        return grant.repositories is not None and repo.full_name.lower() in grant.repositories

    def level(self, grant: Grant, repo: Repo, permission: str) -> int:
        """The level (0 none, 1 read, 2 write) ``grant`` has for ``permission`` on ``repo``."""
        if not self.can_see(grant, repo):
            return 0
        if grant.kind == "user":
            role = repo.collaborators.get(grant.actor.login.lower())
            if role is None:
                return LEVELS["read"]  # a public repository: everyone may read it
            return LEVELS[ROLE_LEVEL[role]]
        if grant.kind == "app":
            return 0
        if permission == "metadata":
            return LEVELS["read"]
        if grant.repositories is not None and repo.full_name.lower() not in grant.repositories:
            # A public repository outside the token's reach: readable, never writable (row 2a).
            return LEVELS["read"]
        have = grant.permissions.get(permission)
        if have is None and not repo.private:
            return LEVELS["read"]
        return LEVELS[have] if have else 0

    def require(self, grant: Grant, repo: Repo, need: Need) -> None:
        """404 when ``repo`` is out of the grant's reach; 403 when the permission is missing."""
        if not self.can_see(grant, repo):
            raise SandboxError(404, "Not Found")
        if need.permission == "collaborator_permission":
            if not self.push_access(grant, repo):
                raise SandboxError(403, PUSH_FOR_PERMISSION, graphql_type="FORBIDDEN")
            return
        wanted = LEVELS[need.user_level if grant.kind == "user" and need.user_level else need.level]
        if any(
            self.level(grant, repo, name) >= wanted
            for name in (need.permission, *need.alternatives)
        ):
            return
        message = NO_TOKEN_ACCESS if grant.kind == "user" else NO_INTEGRATION_ACCESS
        raise SandboxError(403, message, graphql_type="FORBIDDEN")

    def push_access(self, grant: Grant, repo: Repo) -> bool:
        """Push access, as the collaborator-permission endpoint asks for it."""
        return self.level(grant, repo, "contents") >= LEVELS["write"]


def _levels(permissions: Mapping[str, str], *, whole: bool = False) -> dict[str, Level]:
    found: dict[str, Level] = {}
    for name, level in permissions.items():
        if name not in PERMISSIONS:
            raise SandboxError(
                422,
                f"The permission {name!r} is not known to the sandbox: {', '.join(PERMISSIONS)}",
            )
        if level not in LEVELS:
            raise SandboxError(422, f"The level of {name!r} must be read or write, not {level!r}")
        found[name] = "write" if level == "write" else "read"
    if whole:
        found.setdefault("metadata", "read")
    return found


_JWT_PART = re.compile(r"\A[A-Za-z0-9_-]+\Z")


def _app_jwt(credential: str) -> bool:
    """A JSON web token whose issuer is the sandbox's App (the signature is not checked)."""
    parts = credential.split(".")
    if len(parts) != 3 or not all(_JWT_PART.match(part) for part in parts):
        return False
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False
    return isinstance(claims, dict) and str(claims.get("iss")) == str(APP_ID)


# -- what each request needs ---------------------------------------------------------------

_REPO_PATH = re.compile(r"\A/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)(?P<rest>/.*)?\Z")


def rest_need(method: str, path: str) -> tuple[str, Need] | None:
    """The repository a REST request addresses and what it needs there, or ``None`` for the
    endpoints outside a repository (App endpoints and ``/installation/repositories``)."""
    match = _REPO_PATH.match(path.rstrip("/") or "/")
    if match is None:
        return None
    repo = f"{match['owner']}/{match['name']}"
    rest = match["rest"] or ""
    level: Level = "read" if method in ("GET", "HEAD") else "write"
    section = rest.split("/")[1] if rest.count("/") >= 1 and rest != "" else ""
    if rest == "":
        return repo, Need("metadata", "read")
    if rest == "/installation":
        return None
    if section == "statuses" or (
        section == "commits" and rest.rstrip("/").endswith(("/status", "/statuses"))
    ):
        # Commit statuses: their own permission ("statuses" for a workflow's token).
        return repo, Need("statuses", level)
    if section in ("contents", "git", "commits", "compare", "branches"):
        return repo, Need("contents", level)
    if section == "pulls":
        if rest.endswith("/merge") and level == "write":
            return repo, Need("contents", "write")
        if rest.rstrip("/").endswith("/reviews") and level == "write":
            return repo, REVIEW_NEED
        return repo, Need("pull_requests", level)
    if section == "issues":
        return repo, Need("issues", level, ("pull_requests",))
    if section == "collaborators":
        return repo, Need("collaborator_permission", "write")
    if section == "actions":
        return repo, Need("actions", level)
    return repo, Need("metadata", level)


# Submitting a review: "anyone with read access can review" a pull request (an App or a
# workflow's token still needs Pull requests: write).
REVIEW_NEED = Need("pull_requests", "write", user_level="read")


APP_ONLY_PATHS = re.compile(
    r"\A(?:/app/installations/\d+/access_tokens|/repos/[^/]+/[^/]+/installation)/?\Z"
)


def is_app_endpoint(path: str) -> bool:
    return APP_ONLY_PATHS.match(path) is not None
