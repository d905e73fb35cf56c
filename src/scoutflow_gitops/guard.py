"""``scoutflow-gitops guard``: the merge-time check that no PR moves an environment backwards.

Run on a pull request (base and head checked out locally). Every environment whose image tag
the PR changes must move to a newer commit of the source repository, unless the PR is a
rollback: for an environment that follows CI, it carries the hold marker that keeps CI away;
for a gated environment, it comes from the bot's rollback branch (and needs a code owner's
review like any prod change). Ordering needs the source repository's history, read through the
API: without a token the check is skipped with a clear message, never silently passed.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scoutflow_gitops import gitlog, yamledit
from scoutflow_gitops.config import BOT_BRANCH_PREFIX, DEFAULT_CONFIG_PATH, HOLDS_DIR, load_config
from scoutflow_gitops.errors import UserError
from scoutflow_gitops.events import SHA_RE
from scoutflow_gitops.validate import Finding


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


def moves(repo: Path, base: str, head: str, head_branch: str) -> tuple[TagMove, ...]:
    """The environments whose tag differs between ``base`` and ``head``."""
    config_text = gitlog.read_at(repo, head, DEFAULT_CONFIG_PATH)
    if config_text is None:
        raise UserError(f"{DEFAULT_CONFIG_PATH} does not exist at {head}")
    config = load_config(config_text.decode("utf-8"), DEFAULT_CONFIG_PATH)
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
    token = os.environ.get("GITHUB_TOKEN", "")
    if not token:
        print(
            "guard: skipped: no GITHUB_TOKEN to compare commits of the source repository; "
            f"{len(found)} tag change(s) not checked",
            file=sys.stderr,
        )
        return 0
    from scoutflow_gitops.github import GitHubHost, connect

    config_text = gitlog.read_at(args.repo, args.head, DEFAULT_CONFIG_PATH) or b""
    source = load_config(config_text.decode("utf-8"), DEFAULT_CONFIG_PATH).source.repository
    api_url = os.environ.get("GITHUB_API_URL", "https://api.github.com")
    client, _ = connect(api_url=api_url, token=token, repository=source)
    host = GitHubHost(client, os.environ.get("GITHUB_SERVER_URL", "https://github.com"))
    findings = [
        finding
        for move in found
        if (finding := judge(move, host.compare(source, move.old, move.new).status)) is not None
    ]
    annotate = os.environ.get("GITHUB_ACTIONS") == "true"
    for finding in findings:
        print(finding.text())
        if annotate:
            print(finding.annotation())
    print(f"guard: {len(found)} tag change(s), {len(findings)} refused", file=sys.stderr)
    return 1 if findings else 0
