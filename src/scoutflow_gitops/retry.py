"""When and how long to wait before trying a GitHub request again.

GitHub's rules: after a secondary rate limit, wait the ``Retry-After`` seconds; after a primary
rate limit (``x-ratelimit-remaining: 0``), wait until ``x-ratelimit-reset``; after a server error
or a dropped connection, back off exponentially with jitter. Every wait fits inside one overall
deadline, so a job ends with a clear, retryable error instead of running into its time limit.

``wait_for`` is pure and table-tested; ``Retrier`` applies it with an injectable clock.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from scoutflow_gitops.errors import UserError

T = TypeVar("T")
SERVER_ERRORS = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_seconds: float = 1.0
    max_seconds: float = 60.0
    # Well under a job's usual 10-minute timeout.
    deadline_seconds: float = 300.0


@dataclass(frozen=True)
class Failure:
    """What a failed attempt told us: an HTTP status (None: no answer) and its headers."""

    status: int | None
    headers: Mapping[str, str] = field(default_factory=dict)
    message: str = ""
    # A rate limit GitHub reported in the body, not the status: GraphQL's RATE_LIMITED (200).
    rate_limited: bool = False


def wait_for(
    failure: Failure, attempt: int, now: float, policy: RetryPolicy, jitter: float
) -> float | None:
    """Seconds to wait before attempt ``attempt + 1``, or ``None`` when retrying cannot help.

    ``jitter`` in [0, 1) spreads concurrent clients apart; ``now`` is epoch seconds.
    """
    headers = {key.lower(): value for key, value in failure.headers.items()}
    retry_after = _number(headers.get("retry-after"))
    limited = failure.status in (403, 429) or failure.rate_limited
    if retry_after is not None and limited:
        return max(retry_after, 0.0)
    reset = _number(headers.get("x-ratelimit-reset"))
    # A reported rate limit waits for the reset even when `remaining` is not 0.
    if limited and (
        headers.get("x-ratelimit-remaining") == "0" or (failure.rate_limited and reset is not None)
    ):
        return max((reset or now) - now, 0.0) + 1.0
    if limited and (
        failure.status == 429
        or failure.rate_limited
        or "secondary rate limit" in failure.message.lower()
    ):
        # GitHub: with neither header, wait at least a minute before the next try.
        return max(60.0, policy.base_seconds * 2.0**attempt)
    if failure.status is None or failure.status in SERVER_ERRORS:
        backoff: float = policy.base_seconds * 2.0**attempt
        return min(policy.max_seconds, backoff * (0.5 + jitter))
    return None


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class RetryableError(Exception):
    """An attempt failed in a way another attempt may fix."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message or f"HTTP {failure.status}")
        self.failure = failure


@dataclass
class Retrier:
    """Runs attempts under one policy and one deadline shared by a whole run."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    started: float | None = None
    retries: int = 0

    def run(self, doing: str, attempt_once: Callable[[], T]) -> T:
        if self.started is None:
            self.started = self.clock()
        attempt = 0
        while True:
            try:
                return attempt_once()
            except RetryableError as exc:
                wait = wait_for(
                    exc.failure, attempt, self.wall_clock(), self.policy, self.rng.random()
                )
                attempt += 1
                left = self.policy.deadline_seconds - (self.clock() - self.started)
                if wait is None or attempt >= self.policy.attempts or wait > left:
                    raise UserError(
                        f"GitHub kept failing while {doing} "
                        f"({exc.failure.status or 'no answer'}: {exc}); gave up after "
                        f"{attempt} attempt{'s' if attempt != 1 else ''}",
                        "re-run the job"
                        + (f" after {int(wait)} s (rate limit)" if wait and wait > left else "")
                        + ": every write is guarded, so the next run repairs whatever this one "
                        "left unfinished",
                    ) from None
                self.retries += 1
                self.sleep(wait)
