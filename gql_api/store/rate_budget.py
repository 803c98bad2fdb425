"""Cronofy's application rate limits (50 requests a second, 500 a minute: cronofy.md §8.2), shared by
every process through MongoDB, so that a burst queues here instead of meeting 429s there.

Each limit is counted in fixed sub-windows (a tenth of its period, fewer for tiny limits) with `$inc`.
Cronofy does not say whether its windows are fixed or sliding; capping each sub-window at
limit / (sub-windows + 1) keeps any sliding period within the limit too (it overlaps at most
sub-windows + 1 of ours), at 40/s and 450/min sustained. A call that does not fit waits for the next sub-window.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument

from .mongo import RATE_WINDOWS

SUB_WINDOWS = 10
MAX_WAITS = 10_000  # a bound on queueing; far beyond any burst (each wait ends a sub-window)


@dataclasses.dataclass(frozen=True)
class Limit:
    name: str
    requests: int
    period: float  # seconds

    @property
    def sub_windows(self) -> int:
        return max(1, min(SUB_WINDOWS, self.requests - 1))  # small limits: fewer, so each lets one through

    @property
    def window(self) -> float:
        return self.period / self.sub_windows

    @property
    def per_window(self) -> int:
        return self.requests // (self.sub_windows + 1)


class MongoRateBudget:
    def __init__(
        self,
        database: Any,
        *,
        per_second: int,
        per_minute: int,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._collection = database[RATE_WINDOWS]
        self._limits = (Limit("s", per_second, 1.0), Limit("m", per_minute, 60.0))
        self._clock = clock
        self._sleep = sleep

    async def acquire(self) -> None:
        for _ in range(MAX_WAITS):
            wait = await self._try_take()
            if wait is None:
                return
            await self._sleep(wait + random.uniform(0, 0.01))  # a little spread, so waiters do not stampede
        raise TimeoutError("the Cronofy rate budget stayed exhausted")

    async def _try_take(self) -> float | None:
        """Take a slot in every limit's current sub-window; None on success, else seconds to wait."""
        now = self._clock()
        taken: list[str] = []
        for limit in self._limits:
            index = math.floor(now / limit.window)
            key = f"{limit.name}:{index}"
            window_end = (index + 1) * limit.window
            doc = await self._collection.find_one_and_update(
                {"_id": key},
                {
                    "$inc": {"n": 1},
                    "$setOnInsert": {"expires_at": datetime.fromtimestamp(window_end + limit.period, tz=UTC)},
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
            if doc["n"] > limit.per_window:
                for given_back in [*taken, key]:  # this call does not go out: give its slots back
                    await self._collection.update_one({"_id": given_back}, {"$inc": {"n": -1}})
                return max(0.0, window_end - now)
            taken.append(key)
        return None
