"""End-to-end tests share the seeded, contract-checked simulator."""

from tests.sandbox.fixtures import live_sandbox  # noqa: F401  (pytest finds fixtures by name)
