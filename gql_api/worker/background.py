"""Work that outlives the request that started it, supervised in one place.

A mutation writes its calendars, a link opens its push channel, a push reads changes: each starts now,
may give the caller a short grace to see the result, and then goes on in the background. At shutdown
every such task is cancelled and awaited, before the leases are handed back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class BackgroundTasks:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def _start(self, work: Callable[[], Awaitable[T]]) -> asyncio.Task[T]:
        async def run() -> T:
            return await work()

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            log.error("background task failed: %s", type(error).__name__, exc_info=error)

    async def run_soon(self, work: Callable[[], Awaitable[T]], *, grace: float) -> T | None:
        task = self._start(work)
        try:
            return await asyncio.wait_for(asyncio.shield(task), timeout=grace)
        except TimeoutError:
            return None
        except Exception:  # logged once by _finished; the worker retries what is durable
            return None

    def spawn(self, work: Callable[[], Awaitable[Any]]) -> None:
        self._start(work)

    def __len__(self) -> int:
        return len(self._tasks)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
