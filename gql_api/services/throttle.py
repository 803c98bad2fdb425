"""One user cannot flood the API with changes: mutations are admitted against a per-user budget a minute,
shared by every process (issue 12 item 7). Reads are not limited here; the query limits bound them."""

from __future__ import annotations

import math

from ..domain.identity import User
from ..domain.time import Clock
from .ports import UserRateLimit


class RateLimited(Exception):
    """Too many changes by this user just now; `retry_after` says when to try again (whole seconds)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many changes in a short time; try again in {retry_after} s.")
        self.retry_after = retry_after


class Throttle:
    def __init__(self, *, limit: UserRateLimit, clock: Clock) -> None:
        self._limit = limit
        self._clock = clock

    async def admit(self, user: User, changes: int) -> None:
        """Raises RateLimited when `changes` more would exceed the user's budget."""
        if changes <= 0:
            return
        wait = await self._limit.take(user.id, changes, now=self._clock())
        if wait is not None:
            raise RateLimited(math.ceil(wait))
