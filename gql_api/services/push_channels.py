"""Cronofy push channels: one per connection, for our own events only, at an unguessable callback URL."""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import timedelta

from ..cronofy.errors import CronofyError
from ..domain.connections import CalendarConnection, ReadReason
from ..domain.errors import ConnectionGone, NeedsRelink
from ..domain.time import Clock
from .calendar_access import CalendarAccess
from .ports import BackgroundTasks, CalendarGateway, ChangeReadRepository

log = logging.getLogger(__name__)

RETRY_OPEN = timedelta(seconds=30)
CLOSE_GRACE_SECONDS = 2.0
TOKEN_BYTES = 24  # 192 bits: 32 URL-safe characters


class PushChannels:
    def __init__(
        self,
        *,
        reads: ChangeReadRepository,
        access: CalendarAccess,
        gateway: CalendarGateway,
        clock: Clock,
        background: BackgroundTasks,
        callback_base: str,
    ) -> None:
        self._reads = reads
        self._access = access
        self._gateway = gateway
        self._clock = clock
        self._background = background
        self._callback_base = callback_base  # + a channel's token: the URL Cronofy pushes to

    async def open(self, connection: CalendarConnection) -> bool:
        """When Cronofy cannot be reached, a read of the connection becomes due later, and that read
        opens the channel; until then lastSyncedAt stays empty."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        await self._reads.prepare_channel(connection.id, token)
        try:
            channel_id = await self._access.call(
                connection.id,
                lambda access_token, data_center: self._gateway.create_channel(
                    access_token=access_token, callback_url=self._callback_base + token, data_center=data_center
                ),
            )
        except (CronofyError, NeedsRelink, ConnectionGone) as exc:
            log.warning(
                "connection %s: push channel not created (%s); the worker retries", connection.id, type(exc).__name__
            )
            await self._reads.note_changes(
                connection.id, since=None, now=self._clock() + RETRY_OPEN, reason=ReadReason.CHANNEL
            )
            return False
        await self._reads.channel_open(connection.id, channel_id, now=self._clock())
        return True

    async def open_soon(self, connection: CalendarConnection, *, grace: float) -> None:
        """Open the channel without holding the link mutation past `grace`: a slow Cronofy finishes it in
        the background (never cancelled halfway, which could leave a channel we do not know of)."""
        await self._background.run_soon(lambda: self.open(connection), grace=grace)

    async def reopen(self, connection: CalendarConnection) -> bool:
        """The channel looks broken (a change came without its push): close it, best effort, and open a new
        one at a new callback URL."""
        await self.close(connection)
        return await self.open(connection)

    async def close(self, connection: CalendarConnection) -> None:
        """Best effort, briefly: revoking the credential right after ends the channel anyway."""
        channel_id = connection.channel_id
        if channel_id is None:
            return
        try:
            async with asyncio.timeout(CLOSE_GRACE_SECONDS):
                await self._access.call(
                    connection.id,
                    lambda access_token, data_center: self._gateway.close_channel(
                        access_token=access_token, channel_id=channel_id, data_center=data_center
                    ),
                )
        except (CronofyError, NeedsRelink, ConnectionGone, TimeoutError) as exc:
            log.info("connection %s: channel not closed (%s); revocation ends it", connection.id, type(exc).__name__)
