from tests.sandbox.fixtures import live_sandbox

__all__ = ["live_sandbox"]
