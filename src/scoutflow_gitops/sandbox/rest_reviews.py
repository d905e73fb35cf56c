"""REST routes for pull request reviews (registered on import by ``rest``)."""

from __future__ import annotations
