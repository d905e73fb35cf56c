"""``get-tag`` and ``set-tag``: read or change one image tag in a values file, byte for byte."""

from __future__ import annotations

import argparse
import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path

from scoutflow_gitops.errors import UserError
from scoutflow_gitops.yamledit import get_value_bytes, set_value_bytes, unified_diff


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    get_parser = subparsers.add_parser(
        "get-tag",
        help="print the value at a key in a YAML file",
        description="Print the value at KEY in FILE (an empty line when it is null).",
    )
    get_parser.add_argument("file", metavar="FILE", type=Path)
    get_parser.add_argument("key", metavar="KEY", help="dotted path, [N] for list items")
    get_parser.set_defaults(handler=get_tag)

    set_parser = subparsers.add_parser(
        "set-tag",
        help="change one image tag in a YAML file, leaving every other byte alone",
        description=(
            "Replace the value at KEY in FILE with VALUE (an image tag or sha256 digest). "
            "Only that value's bytes change; the file is replaced atomically."
        ),
    )
    set_parser.add_argument("file", metavar="FILE", type=Path)
    set_parser.add_argument("key", metavar="KEY", help="dotted path, [N] for list items")
    set_parser.add_argument("value", metavar="VALUE", help="the new tag or sha256:<digest>")
    set_parser.add_argument(
        "--dry-run", action="store_true", help="print the diff and leave the file alone"
    )
    set_parser.set_defaults(handler=set_tag)


def get_tag(args: argparse.Namespace) -> int:
    value = get_value_bytes(_read(args.file), args.key, path=str(args.file))
    print("" if value is None else value)
    return 0


def set_tag(args: argparse.Namespace) -> int:
    path: Path = args.file
    old = _read(path)
    new = set_value_bytes(old, args.key, args.value, path=str(path))
    if new == old:
        print(f"{path}: {args.key} is already {args.value}; nothing changed", file=sys.stderr)
        return 0
    if args.dry_run:
        print(unified_diff(str(path), old.decode("utf-8"), new.decode("utf-8")), end="")
        return 0
    try:
        _replace(path, new)
    except OSError as exc:
        raise UserError(f"{path}: cannot write: {exc.strerror}") from exc
    print(f"{path}: {args.key} set to {args.value}", file=sys.stderr)
    return 0


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror}") from exc


def _replace(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old or the new file, never half.

    Follows a symlink to its target so the link stays a link; keeps the file mode.
    """
    target = Path(os.path.realpath(path))
    mode = stat.S_IMODE(target.stat().st_mode)
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.chmod(temp_name, mode)
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    # The rename itself is only durable once the directory entry is on disk.
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
