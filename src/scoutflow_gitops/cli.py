"""The ``scoutflow-gitops`` command line.

Each command lives in its own module, which adds its sub-parser through ``register``. A
``UserError`` becomes one line on stderr and exit status 2; anything else keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from scoutflow_gitops import __version__
from scoutflow_gitops.errors import UserError

# Modules that provide a ``register(subparsers)`` function, in the order --help lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "scoutflow_gitops.action",
    "scoutflow_gitops.validate",
    "scoutflow_gitops.status",
    "scoutflow_gitops.guard",
    "scoutflow_gitops.four_eyes",
    "scoutflow_gitops.tagcli",
    "scoutflow_gitops.sandbox.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scoutflow-gitops",
        description="GitOps promotion bot and repository checks for ScoutFlow.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.handler(args)
    except UserError as exc:
        print(f"scoutflow-gitops: error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":
    sys.exit(main())
