"""A local, stateful GitHub for demos and end-to-end tests: REST, GraphQL and a control API.

    sandbox = Sandbox()
    info = seed_scoutflow(sandbox, ".")
    server = serve(sandbox)          # server.url, server.shutdown()

Needs the ``sandbox`` extra (dulwich, graphql-core). The names below are imported on first use,
so that ``scoutflow-gitops`` (which registers ``sandbox.cli``) starts without the extra.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scoutflow_gitops.sandbox.model import BOT_LOGIN, SandboxError
    from scoutflow_gitops.sandbox.seed import SeedInfo, seed_app, seed_scoutflow
    from scoutflow_gitops.sandbox.server import RunningServer, serve
    from scoutflow_gitops.sandbox.state import Sandbox

_EXPORTS = {
    "BOT_LOGIN": "model",
    "SandboxError": "model",
    "SeedInfo": "seed",
    "seed_app": "seed",
    "seed_scoutflow": "seed",
    "RunningServer": "server",
    "serve": "server",
    "Sandbox": "state",
}

__all__ = [
    "BOT_LOGIN",
    "RunningServer",
    "Sandbox",
    "SandboxError",
    "SeedInfo",
    "seed_app",
    "seed_scoutflow",
    "serve",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
