"""Pacing background work that has no deadline to the minute (DESIGN.md §10): a token bucket.

Reconciliation reads are due at random moments, so by chance some minutes hold several of them at once;
across thousands of calendars those chance bursts are what the budget's busiest minute is made of. A pace
lets due work through at a steady rate (a little above what the work needs on average, so it never falls
behind) and at most `burst` at once; what is held back stays due and goes a little later.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime


@dataclasses.dataclass
class Pace:
    per_second: float
    burst: float = 1.0
    longest_gap: float = 60.0  # seconds: after a stall, no more than this long's worth goes at once
    _allowance: float = 1.0
    _at: datetime | None = None

    def available(self, now: datetime) -> int:
        """How many may go now: what has accrued, never more than `burst` (at least one) or, when it has
        been longer than that since it was last asked, what accrued meanwhile (asked once a minute, the rate
        holds), but never more than `longest_gap`'s worth: a stall does not become a burst."""
        if self._at is not None:
            gap = min(max(0.0, (now - self._at).total_seconds()), self.longest_gap)
            accrued = self.per_second * gap
            self._allowance = min(self._allowance + accrued, max(1.0, self.burst, accrued))
        self._at = now
        return math.floor(self._allowance)

    def took(self, count: int) -> None:
        self._allowance = max(0.0, self._allowance - count)

    def at_rate(self, per_second: float, *, burst_seconds: float) -> None:
        """A new rate (the work grew or shrank), keeping what has accrued so far."""
        self.per_second = per_second
        self.burst = per_second * burst_seconds
