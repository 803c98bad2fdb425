"""Acting on a linked calendar with a live access token.

Refreshes shortly before the access token expires and once after a 401; the refreshed credential is
stored before its access token is used. Refreshes of one connection run one at a time in this
process, and a refresh first re-reads the store: whoever comes second uses the winner's credential
instead of spending the (possibly rotated) refresh token again. `invalid_grant` marks the connection
NEEDS_RELINK only if the refresh token that failed is still the stored one. Across processes the
refresh is guarded by a lease in MongoDB that expires, so a holder that died blocks nobody for long.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from ..cronofy import CronofyGateway, CronofyLocked, CronofyUnauthorized, CronofyUnavailable, InvalidGrant
from ..models import CalendarConnection, Clock, ConnectionStatus, Credential
from ..store import ConnectionStore, MeetingStore
from ..vault import DecryptionError, Secret

log = logging.getLogger(__name__)

T = TypeVar("T")
LEASE_POLL_SECONDS = 0.05
MAX_LEASE_WAITS = 1200  # about a minute of polling: past any live holder's lease
RELINK_MESSAGE = "The calendar needs relinking: link the same account again to resume."


class ConnectionGone(Exception):
    """The connection was unlinked."""


class NeedsRelink(Exception):
    """Cronofy no longer accepts this connection's credentials; the user must link the account again."""


class CalendarAccess:
    def __init__(self, *, connections: ConnectionStore, meetings: MeetingStore, gateway: CronofyGateway,
                 clock: Clock, refresh_margin: timedelta = timedelta(minutes=5),
                 refresh_lease: timedelta = timedelta(seconds=30),
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 on_refresh: Callable[[str], None] = lambda result: None) -> None:
        self._connections = connections
        self._on_refresh = on_refresh  # counts refreshes by result, for the metrics
        self._meetings = meetings
        self._gateway = gateway
        self._clock = clock
        self._refresh_margin = refresh_margin
        self._refresh_lease = refresh_lease  # longer than a refresh call can take
        self._sleep = sleep
        self._owner = f"refresh-{uuid.uuid4().hex[:12]}"
        self._refreshing: dict[str, asyncio.Lock] = collections.defaultdict(asyncio.Lock)

    async def call(self, connection_id: str, action: Callable[[Secret, str], Awaitable[T]]) -> T:
        """Run `action(access_token, data_center)` for the connection."""
        connection, credential = await self._load(connection_id)
        try:
            if credential.access_token_expires_at - self._clock() < self._refresh_margin:
                credential = await self._refresh(connection, credential)
            try:
                return await action(credential.access_token, connection.data_center)
            except CronofyUnauthorized:
                credential = await self._refresh(connection, credential)
                return await action(credential.access_token, connection.data_center)
        except CronofyLocked:  # the provider side is disconnected (cronofy.md §8.1)
            await self.needs_relink(connection.id)
            raise NeedsRelink(connection.id) from None

    @property
    def owner(self) -> str:
        """This process's name on refresh leases."""
        return self._owner

    async def needs_relink(self, connection_id: str) -> None:
        """Cronofy stopped accepting the connection (invalid_grant, 423, profile_disconnected): the
        user must link the account again; meanwhile its meetings' copies show FAILED and why."""
        if await self._connections.mark_needs_relink(connection_id, now=self._clock()):
            await self._fail_copies(connection_id)

    async def settle_relinks(self) -> int:
        """The worker's pass: fail the copies still owed for connections marked NEEDS_RELINK by a
        process that stopped before it could (the marking and the failing are two writes)."""
        owed = await self._connections.owing_relink_consequences()
        for connection_id in owed:
            await self._fail_copies(connection_id)
        return len(owed)

    async def _fail_copies(self, connection_id: str) -> None:
        await self._meetings.fail_copies_on(connection_id, reason=RELINK_MESSAGE, now=self._clock())
        await self._connections.relink_consequences_done(connection_id)

    async def _load(self, connection_id: str) -> tuple[CalendarConnection, Credential]:
        try:
            found = await self._connections.with_credential(connection_id)
        except DecryptionError:  # the key that wrote it is gone: only a new link brings a credential back
            log.error("connection %s: stored credential cannot be decrypted; it needs relinking", connection_id)
            await self.needs_relink(connection_id)
            raise NeedsRelink(connection_id) from None
        if found is None:
            raise ConnectionGone(connection_id)
        connection, credential = found
        if connection.status is ConnectionStatus.NEEDS_RELINK:
            raise NeedsRelink(connection_id)
        return connection, credential

    async def _refresh(self, connection: CalendarConnection, used: Credential) -> Credential:
        """One refresh at a time per connection: in this process a lock, across processes a lease in
        MongoDB. Whoever waited re-reads the store and uses the winner's credential."""
        async with self._refreshing[connection.id]:
            for _ in range(MAX_LEASE_WAITS):
                stored = await self._credential(connection.id)
                if stored.refresh_token != used.refresh_token or stored.access_token != used.access_token:
                    return stored  # refreshed meanwhile by someone else
                now = self._clock()
                if await self._connections.take_refresh_lease(connection.id, owner=self._owner, now=now,
                                                              until=now + self._refresh_lease):
                    break
                await self._sleep(LEASE_POLL_SECONDS)
            else:
                raise CronofyUnavailable("another process held the refresh lease too long")
            try:
                return await self._refresh_holding_lease(connection, used)
            finally:
                await self._connections.release_refresh_lease(connection.id, owner=self._owner)

    async def _refresh_holding_lease(self, connection: CalendarConnection, used: Credential) -> Credential:
        stored = await self._credential(connection.id)
        if stored.refresh_token != used.refresh_token or stored.access_token != used.access_token:
            return stored  # the last holder finished just before we took the lease
        try:
            # Shielded: once Cronofy may have rotated the refresh token, a shutdown must not cancel
            # us before the new one is stored, or it is lost for good.
            return await asyncio.shield(self._refresh_and_store(connection, stored))
        except InvalidGrant:
            latest = await self._credential(connection.id)
            if latest.refresh_token != stored.refresh_token:
                self._on_refresh("lost_race")
                return latest  # rotated by someone who did not wait for the lease (an older process)
            self._on_refresh("invalid_grant")
            log.warning("connection %s: Cronofy refused the refresh token; it needs relinking", connection.id)
            await self.needs_relink(connection.id)
            raise NeedsRelink(connection.id) from None

    async def _refresh_and_store(self, connection: CalendarConnection, stored: Credential) -> Credential:
        grant = await self._gateway.refresh(refresh_token=stored.refresh_token, data_center=connection.data_center)
        refreshed = Credential(grant.access_token, grant.refresh_token, grant.expires_at(self._clock()))
        await self._connections.store_credential(connection.id, refreshed, now=self._clock())
        self._on_refresh("refreshed")
        return refreshed

    async def _credential(self, connection_id: str) -> Credential:
        return (await self._load(connection_id))[1]
