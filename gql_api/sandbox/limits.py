"""Cronofy's application rate limits (reference §8.2), off unless configured.

Cronofy limits each application, by default to 50 requests a second and 500 a minute, and
answers a request over the limit with `429 Too Many Requests` and an empty body. The sandbox
does the same once `SandboxConfig.rate_limit_per_second` and/or `rate_limit_per_minute` are set
(None, the default, is unlimited). `Retry-After` is not documented by Cronofy, so the sandbox
only sends it when `rate_limit_retry_after` is set.

Which requests count: everything the API host serves (`/v1/...`, the token and revoke endpoints,
since token issuance counts, and unknown paths). Not counted: the app host's browser pages (the
consent page and the relink page, GET and POST), the control API, and requests answered by a
queued fault, which the middleware serves before the limiter sees them. Requests are counted
even while no limit is set, so a limit switched on mid-window sees that window's earlier traffic.

The algorithm (Cronofy's is not documented; this is a choice): **fixed windows aligned to the
sandbox clock**. Second N covers [N, N+1) and minute M covers [60M, 60M+60) in `config.clock`
seconds, and each window keeps one counter. Every counted request **increments both counters
first and is then compared**, so requests refused with 429 count too. That is how the usual
server-side counters work (Rack::Attack's throttle, Redis INCR then compare), so it is the most
plausible guess for Cronofy. It makes a client that keeps hammering through 429s spend its
per-minute budget as well. With fixed windows a counter can never push the reset past the end of
its window, so `Retry-After` (whole seconds until the window that was exceeded ends, at least 1;
the later one when both were exceeded) stays true.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .config import SandboxConfig

# The app host's pages, which a user's browser loads: not part of the application's API budget.
_CONSENT_PAGE = "/oauth/authorize"
_RELINK_PAGES = "/relink/"


def counts_toward_limit(path: str) -> bool:
    """Whether a (non-control) request, by its path relative to the sandbox root, is counted."""
    return path != _CONSENT_PAGE and not path.startswith(_RELINK_PAGES)


@dataclass
class _Window:
    """One fixed window's counter: `count` requests seen in window number `index`."""

    seconds: int
    index: int | None = None
    count: int = 0

    def hit(self, now: float) -> int:
        index = math.floor(now / self.seconds)
        if index != self.index:
            self.index, self.count = index, 0
        self.count += 1
        return self.count

    def count_at(self, now: float) -> int:
        return self.count if self.index == math.floor(now / self.seconds) else 0

    def seconds_left(self, now: float) -> int:
        assert self.index is not None
        return max(1, math.ceil((self.index + 1) * self.seconds - now))


@dataclass
class Refusal:
    """A request over the limit: answer 429; `retry_after` is whole seconds until it frees up."""

    retry_after: int


class RateLimiter:
    """The application's budget: one per-second and one per-minute fixed window."""

    def __init__(self) -> None:
        self._second = _Window(1)
        self._minute = _Window(60)
        self.rate_limited = 0

    def admit(self, config: SandboxConfig, now: float) -> Refusal | None:
        """Count one request at `now`; a Refusal when that takes it over a configured limit."""
        in_second = self._second.hit(now)
        in_minute = self._minute.hit(now)
        waits = []
        if config.rate_limit_per_second is not None and in_second > config.rate_limit_per_second:
            waits.append(self._second.seconds_left(now))
        if config.rate_limit_per_minute is not None and in_minute > config.rate_limit_per_minute:
            waits.append(self._minute.seconds_left(now))
        if not waits:
            return None
        self.rate_limited += 1
        return Refusal(retry_after=max(waits))

    def to_json(self, config: SandboxConfig, now: float) -> dict[str, Any]:
        return {
            "rate_limit_per_second": config.rate_limit_per_second,
            "rate_limit_per_minute": config.rate_limit_per_minute,
            "rate_limit_retry_after": config.rate_limit_retry_after,
            "rate_limited": self.rate_limited,
            # Requests counted so far in the windows `now` falls in (refused ones included).
            "this_second": self._second.count_at(now),
            "this_minute": self._minute.count_at(now),
        }
