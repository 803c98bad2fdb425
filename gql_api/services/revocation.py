"""Revoking Cronofy's access after an unlink, until Cronofy confirms it (privacy notice §5)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from ..cronofy import CronofyError, CronofyGateway
from ..models import Clock
from ..store import PendingRevocation, RevocationStore
from ..vault import Secret
from .backoff import jittered_backoff

log = logging.getLogger(__name__)

# While one process attempts a revocation, no other takes it.
LEASE = timedelta(minutes=2)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=1)


class Revoker:
    def __init__(self, *, revocations: RevocationStore, gateway: CronofyGateway, clock: Clock,
                 grace_seconds: float = 3.0) -> None:
        self._revocations = revocations
        self._gateway = gateway
        self._clock = clock
        self._grace_seconds = grace_seconds

    async def record(self, *, data_center: str, refresh_token: Secret | None = None,
                     sub: str | None = None) -> PendingRevocation:
        """Persist the debt before the credential is deleted, so a crash cannot forget it."""
        return await self._revocations.add_claimed(
            refresh_token=refresh_token, sub=sub, data_center=data_center, now=self._clock(), lease=LEASE
        )

    async def attempt(self, revocation: PendingRevocation, *, grace: bool = False) -> bool:
        """Revoke now; on failure leave it for the worker, with backoff. True when Cronofy confirmed."""
        try:
            async with asyncio.timeout(self._grace_seconds if grace else None):
                if revocation.refresh_token is not None:
                    await self._gateway.revoke(refresh_token=revocation.refresh_token,
                                               data_center=revocation.data_center)
                if revocation.sub is not None:  # also ends a grant a concurrent refresh may have rotated
                    await self._gateway.revoke(sub=revocation.sub, data_center=revocation.data_center)
        except (CronofyError, TimeoutError) as exc:
            error = type(exc).__name__
            log.warning("revocation %s failed (attempt %d, %s); retrying later",
                        revocation.id, revocation.attempts, error)
            await self._revocations.retry_later(
                revocation, at=self._clock() + jittered_backoff(revocation.attempts, first=FIRST_RETRY, longest=LONGEST_WAIT), error=error
            )
            return False
        await self._revocations.done(revocation)
        log.info("revocation %s confirmed by Cronofy", revocation.id)
        return True

    async def retry_due(self, *, limit: int = 100) -> int:
        """Attempt up to `limit` due revocations; returns how many Cronofy confirmed."""
        confirmed = 0
        for _ in range(limit):
            revocation = await self._revocations.claim_due(now=self._clock(), lease=LEASE)
            if revocation is None:
                break
            confirmed += await self.attempt(revocation)
        return confirmed
