"""Background work that must survive the request that caused it: calendar copies of meetings (the
outbox) and revocations still owed to Cronofy. Runs inside the server by default, or alone with
`gql-api worker`; every pass is safe to run in several processes at once (leases in MongoDB)."""

from __future__ import annotations

import asyncio
import logging

from .services import Services

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, services: Services, *, poll_seconds: float) -> None:
        self._services = services
        self._poll_seconds = poll_seconds

    async def run_once(self) -> None:
        await self._services.sync.run_due()
        await self._services.revoker.retry_due()

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # one bad pass (e.g. the store briefly away) must not end the worker
                log.exception("worker pass failed; trying again in %.0f s", self._poll_seconds)
            await asyncio.sleep(self._poll_seconds)
