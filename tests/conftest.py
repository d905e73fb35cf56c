"""Tests at this level that need the simulator."""

from tests.sandbox.fixtures import live_sandbox  # noqa: F401  (pytest finds fixtures by name)
