"""``scoutflow-gitops sandbox serve``: the seeded local GitHub, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from scoutflow_gitops.errors import UserError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="run a local GitHub simulator seeded with the ScoutFlow repositories",
        description="A local, stateful GitHub (REST and GraphQL) for demos and end-to-end tests.",
    )
    actions = parser.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    serve_parser = actions.add_parser(
        "serve",
        help="serve the seeded sandbox on 127.0.0.1",
        description="Print the base URL on the first line, then serve until SIGINT or SIGTERM.",
    )
    serve_parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    serve_parser.add_argument(
        "--repo",
        type=Path,
        default=Path("."),
        help="GitOps checkout whose HEAD seeds omerbh7/scoutflow-gitops (default: .)",
    )
    serve_parser.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    # Imported here: the simulator's dependencies are an optional extra, and the rest of the
    # command line must work without them.
    try:
        from scoutflow_gitops.sandbox.seed import seed_scoutflow
        from scoutflow_gitops.sandbox.server import serve
        from scoutflow_gitops.sandbox.state import Sandbox
    except ImportError as exc:
        missing = (exc.name or "its dependencies").split(".")[0]
        raise UserError(
            f"the sandbox needs {missing}, which is not installed",
            "pip install 'scoutflow-gitops[sandbox]'",
        ) from None
    sandbox = Sandbox()
    info = seed_scoutflow(sandbox, args.repo)
    # Tokens are scoped as on GitHub: the owner's personal token reaches everything they do;
    # jobs mint their own through the control API (POST /_sandbox/tokens).
    owner_token = sandbox.access.user_token(sandbox.user(info.app_repo.split("/")[0])).token
    server = serve(sandbox, port=args.port)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(server.url, flush=True)
        print(f"seeded {info.app_repo} (deployed {info.deployed_sha[:7]}) and {info.gitops_repo}")
        print(f"control API: {server.url}/_sandbox/state?repo={info.gitops_repo}")
        print(f"token of the repositories' owner: {owner_token}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("sandbox stopped", file=sys.stderr)
    return 0
