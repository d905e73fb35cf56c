"""Past versions of a file, read from the local git history.

``validate`` checks promotion lineage with it, ``status`` shows when each tag arrived, and the bot
can answer "did stage ever run this SHA?" without the GitHub API. Two git processes per file,
whatever the length of the history: one ``git log`` for the commits, one ``git cat-file --batch``
for every version's content.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from scoutflow_gitops.errors import UserError

FETCH_HINT = "clone with the full history (actions/checkout: fetch-depth: 0)"


class HistoryUnavailable(UserError):
    """The repository has no usable history: not a git work tree, no commits, or shallow."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"git history unavailable: {reason}", FETCH_HINT)
        self.reason = reason


@dataclass(frozen=True)
class FileVersion:
    commit: str
    committed_at: datetime
    text: str


def file_history(repo: Path, path: str, revision: str = "HEAD") -> list[FileVersion]:
    """Every committed version of ``path`` up to ``revision`` (``HEAD``), newest first.

    Only the first-parent line of ``revision`` counts: a version that existed only on a merged
    branch was never on the branch Argo CD watches, so it was never deployed. Commits that
    delete the file have no version and are left out. Raises ``HistoryUnavailable``.
    """
    if revision.startswith("-"):
        raise UserError(f"{revision!r} is not a revision")
    require_history(repo)
    log = _git(
        repo, "log", "--first-parent", "--no-renames", "--format=%H %ct", revision, "--", path
    )
    commits = [line.split(" ") for line in log.decode().splitlines() if line]
    if not commits:
        return []
    # "./" makes the path relative to ``repo`` like the log's pathspec, not to the top level.
    request = "".join(f"{commit}:./{path}\n" for commit, _ in commits).encode()
    contents = _cat_file_batch(repo, request, len(commits))
    return [
        FileVersion(commit, datetime.fromtimestamp(int(stamp), tz=UTC), text)
        for (commit, stamp), text in zip(commits, contents, strict=True)
        if text is not None
    ]


def require_history(repo: Path) -> None:
    """Raise ``HistoryUnavailable`` unless ``repo`` is a git work tree with its full history."""
    probe = _run(repo, "rev-parse", "--is-inside-work-tree", "--is-shallow-repository")
    if probe.returncode != 0:
        raise HistoryUnavailable(f"{repo} is not a git work tree")
    inside, shallow = probe.stdout.decode().split()
    if inside != "true":
        raise HistoryUnavailable(f"{repo} is not a git work tree")
    if shallow == "true":
        raise HistoryUnavailable("shallow clone")
    if _run(repo, "rev-parse", "--verify", "--quiet", "HEAD").returncode != 0:
        raise HistoryUnavailable("no commits yet")


def is_work_tree(repo: Path) -> bool:
    try:
        probe = _run(repo, "rev-parse", "--is-inside-work-tree")
    except HistoryUnavailable:
        return False
    return probe.returncode == 0 and probe.stdout.strip() == b"true"


def listed_files(repo: Path) -> list[str]:
    """Files git would commit: tracked ones plus new ones not ignored, relative to ``repo``."""
    out = _git(repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    # A file staged and also new would be listed twice; keep the order git gives.
    return list(dict.fromkeys(name for name in out.decode().split("\0") if name))


def _cat_file_batch(repo: Path, request: bytes, count: int) -> list[str | None]:
    out = _git(repo, "cat-file", "--batch", stdin=request)
    contents: list[str | None] = []
    position = 0
    for _ in range(count):
        header_end = out.index(b"\n", position)
        header = out[position:header_end].split(b" ")
        position = header_end + 1
        if header[-1] == b"missing":
            contents.append(None)
            continue
        size = int(header[2])
        contents.append(out[position : position + size].decode("utf-8", "replace"))
        # Each object is followed by a newline that is not part of its content.
        position += size + 1
    return contents


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    result = _run(repo, *args, stdin=stdin)
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip()
        raise UserError(f"git {args[0]} failed in {repo}: {message}")
    return result.stdout


def _run(repo: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", "-C", str(repo), *args],
            input=stdin,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        raise HistoryUnavailable("git is not installed") from None


def read_at(repo: Path, revision: str, path: str) -> bytes | None:
    """A file's bytes at a revision of the local repository, ``None`` when it has no such file."""
    if revision.startswith("-"):
        raise UserError(f"{revision!r} is not a revision")
    result = _run(repo, "cat-file", "blob", f"{revision}:{path}")
    if result.returncode != 0:
        if _run(repo, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}").returncode:
            raise UserError(f"{revision!r} is not a revision of {repo}")
        return None
    return result.stdout


def rev_parse(repo: Path, revision: str) -> str | None:
    """The commit a revision of the local repository names; ``None`` when there is none."""
    if revision.startswith("-"):
        raise UserError(f"{revision!r} is not a revision")
    result = _run(repo, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    if result.returncode != 0:
        return None
    return result.stdout.decode().strip() or None


def list_dir(repo: Path, revision: str, directory: str) -> tuple[str, ...]:
    """The names of the files directly in ``directory`` at ``revision`` (none if absent)."""
    if revision.startswith("-"):
        raise UserError(f"{revision!r} is not a revision")
    result = _run(repo, "ls-tree", "--name-only", f"{revision}:{directory}")
    if result.returncode != 0:
        return ()
    return tuple(line for line in result.stdout.decode("utf-8", "replace").splitlines() if line)
