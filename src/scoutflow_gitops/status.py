"""``scoutflow-gitops status``: what each environment runs, and since when.

The tag comes from the values file in the work tree; when it arrived comes from the git history
(``gitlog``): the oldest commit of the newest unbroken run of versions holding that tag.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scoutflow_gitops import gitlog
from scoutflow_gitops.config import DEFAULT_CONFIG_PATH, Environment, load_config
from scoutflow_gitops.errors import UserError
from scoutflow_gitops.gitlog import FileVersion, HistoryUnavailable
from scoutflow_gitops.validate import image_tag

SHORT = 7
NO_HISTORY = "unknown (no git history)"


@dataclass(frozen=True)
class Arrival:
    commit: str
    date: str


@dataclass(frozen=True)
class EnvironmentStatus:
    name: str
    tag: str | None
    # When the tag arrived; a string instead when that cannot be told (no history, uncommitted).
    arrival: Arrival | str


def arrival(tag: str, key: str, versions: Sequence[FileVersion]) -> Arrival | str:
    """When ``tag`` became the tag, from the values file's versions (newest first)."""
    oldest_with_tag: FileVersion | None = None
    for version in versions:
        if image_tag(version.text, key) != tag:
            break
        oldest_with_tag = version
    if oldest_with_tag is None:
        return "not committed yet"
    when = oldest_with_tag.committed_at.strftime("%Y-%m-%d %H:%M UTC")
    return Arrival(oldest_with_tag.commit[:SHORT], when)


def environment_status(repo: Path, env: Environment) -> EnvironmentStatus:
    try:
        text = (repo / env.values_file).read_text(encoding="utf-8")
    except FileNotFoundError:
        return EnvironmentStatus(env.name, None, f"{env.values_file} not found")
    tag = image_tag(text, env.image_tag_key)
    if tag is None:
        return EnvironmentStatus(env.name, None, f"no {env.image_tag_key} in {env.values_file}")
    try:
        versions = gitlog.file_history(repo, env.values_file)
    except HistoryUnavailable:
        return EnvironmentStatus(env.name, tag, NO_HISTORY)
    return EnvironmentStatus(env.name, tag, arrival(tag, env.image_tag_key, versions))


def render(rows: Sequence[EnvironmentStatus]) -> str:
    table = [("ENVIRONMENT", "TAG", "FULL TAG", "SINCE", "COMMIT")]
    for row in rows:
        short, full = (row.tag[:SHORT], row.tag) if row.tag else ("-", "-")
        if isinstance(row.arrival, Arrival):
            table.append((row.name, short, full, row.arrival.date, row.arrival.commit))
        else:
            table.append((row.name, short, full, row.arrival, "-"))
    widths = [max(len(line[column]) for line in table) for column in range(len(table[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in table
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "status",
        help="show each environment's image tag and when it arrived",
        description="Show each environment's image tag and when it arrived, from git history.",
    )
    parser.add_argument("--repo", type=Path, default=Path("."), help="repository root (.)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    repo: Path = args.repo
    try:
        text = (repo / DEFAULT_CONFIG_PATH).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(
            f"no pipeline config at {repo / DEFAULT_CONFIG_PATH}", "pass --repo PATH"
        ) from None
    config = load_config(text, DEFAULT_CONFIG_PATH)
    print(render([environment_status(repo, env) for env in config.environments]))
    return 0
