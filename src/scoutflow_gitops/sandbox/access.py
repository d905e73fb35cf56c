"""Who a request acts as, and what it may reach: tokens, their scopes and permissions."""

from __future__ import annotations


class Access:
    """The tokens a sandbox has issued."""
