"""Background work that must survive the request that caused it: calendar copies of meetings (the
outbox), changes read back from calendars, and revocations still owed to Cronofy. Runs inside the server by default, or alone with
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
        """One pass over each kind of work; one kind failing (the store briefly away, say) does not
        hold up the others, nor end the worker."""
        for name, work in (("relinks", self._services.access.settle_relinks),
                           ("calendar writes", self._services.sync.run_due),
                           ("calendar changes", self._services.inbound.run_due),
                           ("revocations", self._services.revoker.retry_due)):
            try:
                await work()
            except Exception:
                log.exception("worker pass over %s failed; trying again in %.0f s", name, self._poll_seconds)

    async def run_forever(self) -> None:
        while True:
            await self.run_once()
            await asyncio.sleep(self._poll_seconds)
