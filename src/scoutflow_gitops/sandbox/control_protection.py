"""Control API routes for branch protection, reviews and the simulator's timing knobs
(registered on import by ``control``)."""

from __future__ import annotations
