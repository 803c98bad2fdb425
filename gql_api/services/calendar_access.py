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
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from ..cronofy.errors import CronofyLocked, CronofyUnauthorized, CronofyUnavailable, InvalidGrant
from ..domain.changes import ConnectionChangeKind, MeetingChangeKind, connection_change, meeting_changes
from ..domain.connections import CalendarConnection, ConnectionStatus, Credential
from ..domain.errors import ConnectionGone, CredentialUnreadable, NeedsRelink
from ..domain.secrets import Secret
from ..domain.time import Clock
from .live import SILENT, Announcer
from .ports import CalendarGateway, CredentialRepository, MeetingRepository

log = logging.getLogger(__name__)

T = TypeVar("T")
LEASE_POLL_SECONDS = 0.05
MAX_LEASE_WAITS = 1200  # about a minute of polling: past any live holder's lease
RELINK_MESSAGE = "The calendar needs relinking: link the same account again to resume."


class CalendarAccess:
    def __init__(
        self,
        *,
        credentials: CredentialRepository,
        meetings: MeetingRepository,
        gateway: CalendarGateway,
        clock: Clock,
        owner: str,
        refresh_margin: timedelta = timedelta(minutes=5),
        refresh_lease: timedelta = timedelta(seconds=30),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_refresh: Callable[[str], None] = lambda result: None,
        announce: Announcer = SILENT,
    ) -> None:
        self._credentials = credentials
        self._meetings = meetings
        self._gateway = gateway
        self._clock = clock
        self._owner = owner  # this process's name on refresh leases
        self._refresh_margin = refresh_margin
        self._refresh_lease = refresh_lease  # longer than a refresh call can take
        self._sleep = sleep
        self._on_refresh = on_refresh  # counts refreshes by result, for the metrics
        self._announce = announce
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

    async def needs_relink(self, connection_id: str) -> None:
        """Cronofy stopped accepting the connection (invalid_grant, 423, profile_disconnected): the
        user must link the account again; meanwhile its meetings' copies show FAILED and why."""
        if await self._credentials.mark_needs_relink(connection_id, now=self._clock()):
            owner = await self._credentials.owner_of(connection_id)
            await self._announce(connection_change(ConnectionChangeKind.NEEDS_RELINK, connection_id, owner))
            await self.settle_relink(connection_id)

    async def next_relink_owed(self) -> str | None:
        """A connection marked NEEDS_RELINK by a process that stopped before it failed the copies
        (the marking and the failing are two writes); the worker settles it."""
        owed = await self._credentials.owing_relink_consequences(limit=1)
        return owed[0] if owed else None

    async def settle_relink(self, connection_id: str) -> None:
        if await self._meetings.fail_copies_on(connection_id, reason=RELINK_MESSAGE, now=self._clock()):
            changed = await self._meetings.with_copies_on([connection_id])
            await self._announce(*meeting_changes(MeetingChangeKind.SYNC_STATUS, changed))
        await self._credentials.relink_consequences_done(connection_id)

    async def _load(self, connection_id: str) -> tuple[CalendarConnection, Credential]:
        try:
            found = await self._credentials.with_credential(connection_id)
        except CredentialUnreadable:  # the key that wrote it is gone: only a new link brings one back
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
                if _changed(stored, used):
                    return stored  # refreshed meanwhile by someone else
                now = self._clock()
                if await self._credentials.take_refresh_lease(
                    connection.id, owner=self._owner, now=now, until=now + self._refresh_lease
                ):
                    break
                await self._sleep(LEASE_POLL_SECONDS)
            else:
                raise CronofyUnavailable("another process held the refresh lease too long")
            try:
                return await self._refresh_holding_lease(connection, used)
            finally:
                await self._credentials.release_refresh_lease(connection.id, owner=self._owner)

    async def _refresh_holding_lease(self, connection: CalendarConnection, used: Credential) -> Credential:
        stored = await self._credential(connection.id)
        if _changed(stored, used):
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
        await self._credentials.store_credential(connection.id, refreshed, now=self._clock())
        self._on_refresh("refreshed")
        return refreshed

    async def _credential(self, connection_id: str) -> Credential:
        return (await self._load(connection_id))[1]


def _changed(stored: Credential, used: Credential) -> bool:
    return stored.refresh_token != used.refresh_token or stored.access_token != used.access_token
