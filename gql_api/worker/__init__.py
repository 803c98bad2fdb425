"""The worker: runs the table of jobs (`jobs.py`) in a loop, inside the server or alone (`gql-api worker`).

It owns what loops need and units of work should not: the poll interval, the per-pass limits, isolating
one job's failure from the others, and this process's lease-owner name. Every job is safe to run in
several processes at once (leases in MongoDB).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Sequence

from .background import BackgroundTasks
from .jobs import Job, Sweep, standard

log = logging.getLogger(__name__)

__all__ = ["BackgroundTasks", "Job", "Sweep", "Worker", "lease_owner", "standard"]


def lease_owner() -> str:
    """This process's name on every lease it takes: readable in the database, unique per process."""
    return f"{socket.gethostname()[:24]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(self, jobs: Sequence[Job | Sweep], *, poll_seconds: float) -> None:
        self._jobs = {job.name: job for job in jobs}
        self._poll_seconds = poll_seconds

    async def run_once(self) -> dict[str, int]:
        """One pass over every job; returns how many items each handled."""
        return {name: await self.run_job(name) for name in self._jobs}

    async def run_job(self, name: str) -> int:
        """One pass of one job. A failing job (the store briefly away, say) is logged and holds up
        neither the others nor the worker."""
        job = self._jobs[name]
        handled = 0
        try:
            if isinstance(job, Sweep):
                return int(await job.run() or 0)
            for _ in range(job.limit):
                item = await job.claim()
                if item is None:
                    break
                handled += 1
                if await job.run(item) is False:
                    break  # deferred: what is left waits for the budget, durably due in MongoDB
        except Exception:
            log.exception("worker pass over %s failed; trying again in %.0f s", name, self._poll_seconds)
        return handled

    async def run_forever(self) -> None:
        while True:
            await self.run_once()
            await asyncio.sleep(self._poll_seconds)
