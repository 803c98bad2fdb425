"""Cronofy's application rate limits (50 calls a second, 500 a minute: cronofy.md §8.2), shared by every
process through MongoDB and spent by priority (DESIGN.md §10; gql_api/cronofy/budget.py).

Each limit is counted in fixed sub-windows (a tenth of its period, fewer for tiny limits) with `$inc`.
Cronofy does not say whether its windows are fixed or sliding; capping each sub-window at
limit / (sub-windows + 1) keeps any sliding period within the limit too (it overlaps at most
sub-windows + 1 of ours), at 40/s and 450/min sustained.

Within a sub-window:
- background calls together (outbox writes, revocations, reads) take at most `background_share` of it, and
  reconciliation and channel repair at most `sweep_share`: the rest is kept for calls a user waits for;
- a call that does not fit is not sent: a user-facing call waits for the next sub-window, a background
  call is deferred (`BudgetDeferred`) and its work stays due in MongoDB, so it never queues ahead of a user.
Over a minute, each user's calls (charged to whoever caused them) take at most `user_share` of the minute's
limit, so one user cannot spend what everyone shares.

Per call: one `$inc` per limit and one for the user's share (three MongoDB commands); a refused call gives
back what it took.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import math
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument

from ..cronofy.budget import Priority, Spending
from ..cronofy.errors import BudgetDeferred
from .mongo import RATE_WINDOWS

SUB_WINDOWS = 10
MAX_WAITS = 10_000  # a bound on queueing; far beyond any burst (each wait ends a sub-window)
USER_WINDOW = 60.0  # seconds over which each user's share is counted
# A window's counter outlives the window by this much before MongoDB's TTL monitor removes it: the clock that
# names windows may trail the database's (a test's fixed clock; TTL monitors run once a minute anyway).
TTL_MARGIN = 600.0


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


@dataclasses.dataclass(frozen=True)
class Shares:
    """The parts of each sub-window that background work may use, and of each minute one user may."""

    background: float = 0.7
    sweep: float = 0.4
    user: float = 0.1

    def caps(self, per_window: int) -> tuple[int, int]:
        """(background cap, sweep cap) for a window of `per_window` calls: at least one each, so that a
        tiny configured limit still lets background work through."""
        return max(1, math.floor(per_window * self.background)), max(1, math.floor(per_window * self.sweep))


class MongoRateBudget:
    def __init__(
        self,
        database: Any,
        *,
        per_second: int,
        per_minute: int,
        shares: Shares = Shares(),
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._collection = database[RATE_WINDOWS]
        self._limits = (Limit("s", per_second, 1.0), Limit("m", per_minute, 60.0))
        self._shares = shares
        self._per_user = max(1, math.floor(per_minute * shares.user))
        self._clock = clock
        self._sleep = sleep

    async def acquire(self, spending: Spending) -> None:
        """Admit one call: return when it may go out; raise BudgetDeferred for a background call that does
        not fit now (user-facing calls wait instead, bounded)."""
        for _ in range(MAX_WAITS):
            wait = await self._try_take(spending)
            if wait is None:
                return
            if spending.priority is not Priority.USER:
                raise BudgetDeferred(
                    f"{spending.purpose.value}: the background share of the Cronofy budget is spent for now",
                    retry_after=wait + random.uniform(0, 1.0),  # spread, so deferred work does not stampede
                )
            await self._sleep(wait + random.uniform(0, 0.01))
        raise TimeoutError("the Cronofy rate budget stayed exhausted")

    async def _try_take(self, spending: Spending) -> float | None:
        """Take a slot for the user's share and in every limit's current sub-window; None on success, else
        seconds until it could fit (everything taken is given back)."""
        now = self._clock()
        taken: list[tuple[str, dict[str, int]]] = []
        if spending.user_id is not None:
            minute = math.floor(now / USER_WINDOW)
            key = f"f:{hashlib.sha256(spending.user_id.encode()).hexdigest()[:24]}:{minute}"
            doc = await self._take(key, {"n": 1}, expires=(minute + 1) * USER_WINDOW + TTL_MARGIN)
            taken.append((key, {"n": 1}))
            if doc["n"] > self._per_user:
                await self._give_back(taken)
                return max(0.0, (minute + 1) * USER_WINDOW - now)
        background = spending.priority is not Priority.USER
        sweep = spending.priority is Priority.SWEEP
        for limit in self._limits:
            index = math.floor(now / limit.window)
            key = f"{limit.name}:{index}"
            counts = {"n": 1, **({"bg": 1} if background else {}), **({"sw": 1} if sweep else {})}
            doc = await self._take(key, counts, expires=(index + 1) * limit.window + TTL_MARGIN)
            taken.append((key, counts))
            background_cap, sweep_cap = self._shares.caps(limit.per_window)
            if (
                doc["n"] > limit.per_window
                or (background and doc.get("bg", 0) > background_cap)
                or (sweep and doc.get("sw", 0) > sweep_cap)
            ):
                await self._give_back(taken)
                return max(0.0, (index + 1) * limit.window - now)
        return None

    async def _take(self, key: str, counts: dict[str, int], *, expires: float) -> dict[str, Any]:
        doc: dict[str, Any] = await self._collection.find_one_and_update(
            {"_id": key},
            {"$inc": counts, "$setOnInsert": {"expires_at": datetime.fromtimestamp(expires, tz=UTC)}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return doc

    async def _give_back(self, taken: list[tuple[str, dict[str, int]]]) -> None:
        for key, counts in taken:
            await self._collection.update_one({"_id": key}, {"$inc": {name: -n for name, n in counts.items()}})
