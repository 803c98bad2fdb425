"""When to try again: exponential from `first`, capped at `longest`, with jitter so that many
waiters do not come back to a recovering Cronofy at the same instant."""

from __future__ import annotations

import random
from datetime import timedelta


def jittered_backoff(attempts: int, *, first: timedelta, longest: timedelta) -> timedelta:
    ceiling = min(longest, first * 2 ** max(0, attempts - 1))
    return ceiling * random.uniform(0.5, 1.0)
