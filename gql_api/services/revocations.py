"""Revoking Cronofy's access after an unlink, until Cronofy confirms it (privacy notice §5).

The debt is stored before the credential is deleted, claimed under a lease while one process attempts
it, and rescheduled with backoff when Cronofy is away; the worker pays what is left.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from ..cronofy.budget import Priority, Purpose, spending
from ..cronofy.errors import BudgetDeferred, CronofyError
from ..domain.connections import PendingRevocation
from ..domain.erasure import subject_of
from ..domain.secrets import Secret
from ..domain.time import Clock
from ..retry import Backoff
from .ports import CalendarGateway, ConnectionRepository, RevocationRepository

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)  # while one process attempts a revocation, no other takes it
BACKOFF = Backoff(first=30.0, longest=3600.0)


class Revocations:
    def __init__(
        self,
        *,
        revocations: RevocationRepository,
        connections: ConnectionRepository,
        gateway: CalendarGateway,
        clock: Clock,
        grace_seconds: float = 3.0,
    ) -> None:
        self._revocations = revocations
        self._connections = connections
        self._gateway = gateway
        self._clock = clock
        self._grace_seconds = grace_seconds

    async def record(
        self,
        *,
        data_center: str,
        refresh_token: Secret | None = None,
        sub: str | None = None,
        user_id: str | None = None,
    ) -> PendingRevocation:
        """Persist the debt before the credential is deleted, so a crash cannot forget it. Whose grant it was
        is kept as a pseudonym (exports list a user's debts)."""
        now = self._clock()
        return await self._revocations.add_claimed(
            refresh_token=refresh_token,
            sub=sub,
            data_center=data_center,
            now=now,
            lease_until=now + LEASE,
            subject=subject_of(user_id) if user_id is not None else None,
        )

    async def attempt_soon(self, revocation: PendingRevocation) -> bool:
        """Revoke now, waiting a short grace at most: an unlink answers at once either way."""
        return await self._attempt(revocation, timeout=self._grace_seconds)

    async def claim_due(self) -> PendingRevocation | None:
        now = self._clock()
        return await self._revocations.claim_due(now=now, lease_until=now + LEASE)

    async def attempt(self, revocation: PendingRevocation) -> bool:
        """The worker's unit, as background work: revoke; on failure leave it due later. True when Cronofy
        confirmed; False ends the worker's pass (Cronofy is away, or the budget deferred it)."""
        with spending(Purpose.REVOKE, Priority.WRITE):
            try:
                return await self._attempt(revocation, timeout=None)
            except BudgetDeferred as deferred:
                at = self._clock() + timedelta(seconds=deferred.retry_after)
                await self._revocations.retry_later(revocation, at=at, error="deferred")
                return False

    async def _attempt(self, revocation: PendingRevocation, *, timeout: float | None) -> bool:
        try:
            async with asyncio.timeout(timeout):
                by_token, by_account = await self._still_owed(revocation)
                if by_token:
                    await self._gateway.revoke(
                        refresh_token=revocation.refresh_token, data_center=revocation.data_center
                    )
                if by_account:  # also ends a grant a concurrent refresh may have rotated
                    await self._gateway.revoke(sub=revocation.sub, data_center=revocation.data_center)
        except BudgetDeferred:
            raise
        except (CronofyError, TimeoutError) as exc:
            error = type(exc).__name__
            log.warning(
                "revocation %s failed (attempt %d, %s); retrying later", revocation.id, revocation.attempts, error
            )
            await self._revocations.retry_later(
                revocation, at=self._clock() + BACKOFF.after(revocation.attempts), error=error
            )
            return False
        await self._revocations.done(revocation)
        log.info("revocation %s confirmed by Cronofy", revocation.id)
        return True

    async def _still_owed(self, revocation: PendingRevocation) -> tuple[bool, bool]:
        """(revoke the token, revoke the account): never a grant stored after the debt was owed. When the
        same account was linked again meanwhile, revoking it by account would end the new link too, and
        its refresh token may be the very one owed (Cronofy can hand the same credential back)."""
        if revocation.sub is None:
            return revocation.refresh_token is not None, False
        grants = await self._connections.grants_of_account(revocation.sub)
        linked_again = any(at is not None and at >= revocation.owed_at for at, _ in grants)
        token_in_use = any(token is not None and token == revocation.refresh_token for _, token in grants)
        if linked_again:
            log.info("revocation %s: the account was linked again since; only the old grant is revoked", revocation.id)
        return revocation.refresh_token is not None and not token_in_use, not linked_again
