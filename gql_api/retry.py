"""The one retry policy: when to try again, for work retried in process and for work rescheduled in MongoDB.

- In process (`retrying`): a call tried again within one request or job: an idempotent Cronofy call
  (tenacity, attempt and waiting budgets, Retry-After honoured), a credential write meeting a failover.
- Durable (`Backoff.after`): work that waits in MongoDB until it is due again: outbox copies, reads of
  calendar changes, revocations owed to Cronofy.

Both wait the same way: exponential from `first`, capped at `longest`, with "equal jitter" (half the
wait fixed, half random) so that many waiters do not come back to a recovering Cronofy at one instant,
yet none comes back at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base


@dataclasses.dataclass(frozen=True)
class Backoff:
    first: float  # seconds before the second attempt (at most)
    longest: float  # the cap, also for a Retry-After

    def delay(self, attempts: int) -> float:
        """Seconds to wait after `attempts` failed attempts (1 for the first failure)."""
        growth: int = 2 ** max(0, attempts - 1)  # typeshed types int ** int as Any (a negative power is a float)
        ceiling = min(self.longest, self.first * growth)
        return ceiling * random.uniform(0.5, 1.0)

    def after(self, attempts: int, *, retry_after: float | None = None) -> timedelta:
        """How long durable work waits: the upstream's Retry-After when it gave one, else `delay`."""
        if retry_after is not None:
            return timedelta(seconds=min(max(0.0, retry_after), self.longest))
        return timedelta(seconds=self.delay(attempts))


def retrying(
    *,
    backoff: Backoff,
    retry_on: Callable[[BaseException], bool],
    max_attempts: int,
    budget_seconds: float | None = None,
    retry_after: Callable[[BaseException], float | None] = lambda error: None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    before_sleep: Callable[[RetryCallState], None] | None = None,
) -> AsyncRetrying:
    """Tenacity's AsyncRetrying on this policy: up to `max_attempts`, and never waiting more than
    `budget_seconds` in all; an error's Retry-After (when `retry_after` finds one) replaces the backoff."""

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        given = retry_after(error) if error is not None else None
        return given if given is not None else backoff.delay(state.attempt_number)

    stop: stop_base = stop_after_attempt(max_attempts)
    if budget_seconds is not None:
        stop = stop | _waited_beyond(budget_seconds)
    return AsyncRetrying(
        retry=retry_if_exception(retry_on), wait=wait, stop=stop, sleep=sleep, before_sleep=before_sleep, reraise=True
    )


class _waited_beyond(stop_base):
    """Stop once the waits so far, plus the next one, would pass the budget."""

    def __init__(self, budget: float) -> None:
        self._budget = budget

    def __call__(self, state: RetryCallState) -> bool:
        return state.idle_for + (state.upcoming_sleep or 0) > self._budget
