"""``scoutflow-gitops guard``: the merge-time check that no PR moves an environment backwards.

Run on a pull request (base and head checked out locally). Every environment whose image tag
the PR changes must move to a newer commit of the source repository, unless the PR is a
rollback: for an environment that follows CI, it carries the hold marker that keeps CI away;
for a gated environment, it comes from the bot's rollback branch (and needs a code owner's
review like any prod change). The rules are the base revision's config: a PR never supplies
the rules that judge it.

Ordering needs the source repository's history, read through the API, with a read token for it
minted from GitHub App credentials (``SCOUTFLOW_GITOPS_APP_ID``, ``SCOUTFLOW_GITOPS_PRIVATE_KEY``)
or with ``GITHUB_TOKEN``. A workflow's own ``GITHUB_TOKEN`` cannot read another private
repository: when the token cannot read the source, the check says so (one line and a warning
annotation) and passes neutrally, never with a false finding and never silently.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scoutflow_gitops import gitlog, messages, yamledit
from scoutflow_gitops.config import (
    BOT_BRANCH_PREFIX,
    DEFAULT_CONFIG_PATH,
    HOLDS_DIR,
    PipelineConfig,
    load_config,
)
from scoutflow_gitops.errors import UserError
from scoutflow_gitops.events import SHA_RE
from scoutflow_gitops.validate import Finding

# GitHub App credentials the guard mints its read token from (the App ID is not secret).
APP_ID_VARIABLE = "SCOUTFLOW_GITOPS_APP_ID"
PRIVATE_KEY_VARIABLE = "SCOUTFLOW_GITOPS_PRIVATE_KEY"


@dataclass(frozen=True)
class TagMove:
    env: str
    path: str
    line: int
    old: str
    new: str
    rollback_allowed: bool


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "guard",
        help="fail a PR that moves an environment to an older commit (unless it is a rollback)",
        description="Compare every environment's image tag between two revisions.",
    )
    parser.add_argument("--repo", type=Path, default=Path("."), help="repository root (.)")
    parser.add_argument("--base", required=True, help="the PR's base revision, e.g. origin/main")
    parser.add_argument("--head", default="HEAD", help="the PR's head revision (HEAD)")
    parser.add_argument(
        "--head-branch",
        default=os.environ.get("GITHUB_HEAD_REF", ""),
        help="the PR's branch name (GITHUB_HEAD_REF)",
    )
    parser.set_defaults(handler=_handle)


def trusted_config(repo: Path, base: str) -> PipelineConfig:
    """The pipeline config of the base revision: the rules, which the PR cannot change."""
    config_text = gitlog.read_at(repo, base, DEFAULT_CONFIG_PATH)
    if config_text is None:
        raise UserError(f"{DEFAULT_CONFIG_PATH} does not exist at {base}")
    return load_config(config_text.decode("utf-8"), DEFAULT_CONFIG_PATH)


def moves(repo: Path, base: str, head: str, head_branch: str) -> tuple[TagMove, ...]:
    """The environments whose tag differs between ``base`` and ``head``."""
    config = trusted_config(repo, base)
    found = []
    for env in config.environments:
        old_data = gitlog.read_at(repo, base, env.values_file)
        new_data = gitlog.read_at(repo, head, env.values_file)
        if old_data is None or new_data is None:
            continue
        old = yamledit.get_value_bytes(old_data, env.image_tag_key, path=env.values_file)
        new = yamledit.get_value_bytes(new_data, env.image_tag_key, path=env.values_file)
        if old == new or not old or not new:
            continue
        line = yamledit.locate(new_data.decode("utf-8-sig"), env.image_tag_key).line
        held = gitlog.read_at(repo, head, f"{HOLDS_DIR}/{env.name}.yml") is not None
        from_rollback_branch = head_branch == f"{BOT_BRANCH_PREFIX}rollback-{env.name}"
        allowed = held if env.follows_ci else from_rollback_branch
        found.append(TagMove(env.name, env.values_file, line, old, new, allowed))
    return tuple(found)


def judge(move: TagMove, relation: str | None) -> Finding | None:
    """Pure: a finding when the move goes anywhere but forward without being a rollback."""
    if relation == "ahead":
        return None
    if not (SHA_RE.match(move.old) and SHA_RE.match(move.new)):
        return Finding(move.path, move.line, "GUARD002", f"{move.env}'s tag is not a full SHA")
    if relation in ("behind", "diverged") and move.rollback_allowed:
        return None
    what = {"behind": "an older", "diverged": "an unrelated", "identical": "the same"}.get(
        relation or "", "an unknown"
    )
    return Finding(
        move.path,
        move.line,
        "GUARD001",
        f"moves {move.env} from {move.old[:7]} to {what} commit {move.new[:7]}; only a rollback "
        f"may do that (`/rollback {move.env}`, which also holds an environment that follows CI)",
    )


def _handle(args: argparse.Namespace) -> int:
    found = moves(args.repo, args.base, args.head, args.head_branch)
    if not found:
        print("guard: no environment changes its image tag", file=sys.stderr)
        return 0
    source = trusted_config(args.repo, args.base).source.repository
    annotate = os.environ.get("GITHUB_ACTIONS") == "true"
    from scoutflow_gitops.github import GUARD_PERMISSIONS, AccessError, GitHubHost, connect

    app_id = os.environ.get(APP_ID_VARIABLE, "").strip()
    private_key = os.environ.get(PRIVATE_KEY_VARIABLE, "").strip()
    token = os.environ.get("GITHUB_TOKEN", "").strip()
    if not (app_id and private_key) and not token:
        return _unchecked(
            f"no GITHUB_TOKEN and no {APP_ID_VARIABLE}/{PRIVATE_KEY_VARIABLE} to compare commits "
            f"of {source}",
            len(found),
            annotate,
        )
    api_url = os.environ.get("GITHUB_API_URL", "https://api.github.com")
    try:
        if app_id and private_key:
            if not app_id.isdigit():
                raise UserError(f"{APP_ID_VARIABLE} must be the GitHub App's numeric id")
            connection = connect(
                api_url=api_url,
                app_id=app_id,
                private_key=private_key,
                repository=source,
                permissions=GUARD_PERMISSIONS,
                on_token=lambda minted: _mask(minted, annotate),
            )
        else:
            connection = connect(api_url=api_url, token=token, repository=source)
        host = GitHubHost(connection, os.environ.get("GITHUB_SERVER_URL", "https://github.com"))
        relations = [host.compare(source, move.old, move.new) for move in found]
    except AccessError as exc:
        # Only "cannot read the source repository" passes neutrally; anything else (a broken
        # key, GitHub failing) is an error, so that the guard can never be made to pass by
        # breaking what it reads with.
        if exc.need.repository.lower() != source.lower():
            raise
        return _unchecked(f"{exc.message} ({exc.hint})", len(found), annotate)
    findings = [
        finding
        for move, comparison in zip(found, relations, strict=True)
        if (finding := judge(move, comparison.status if comparison else None)) is not None
    ]
    for finding in findings:
        print(finding.text())
        if annotate:
            print(finding.annotation())
    print(f"guard: {len(found)} tag change(s), {len(findings)} refused", file=sys.stderr)
    return 1 if findings else 0


def _unchecked(why: str, count: int, annotate: bool) -> int:
    """Pass neutrally, saying so: the order of the commits could not be read."""
    line = messages.log_line(
        f"guard: skipped: {why}; {count} tag change(s) not checked; give the guard GitHub App "
        f"credentials ({APP_ID_VARIABLE}, {PRIVATE_KEY_VARIABLE}) or a token that can read "
        "the source repository"
    )
    print(line, file=sys.stderr)
    if annotate:
        text = line.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        print(f"::warning title=scoutflow-gitops guard::{text}")
    return 0


def _mask(token: str, annotate: bool) -> None:
    """Mask a minted token before anything could print it (only the runner reads this)."""
    if annotate and token:
        print(f"::add-mask::{token}")
