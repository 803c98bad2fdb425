"""Acting on a linked calendar with a live access token.

Refreshes shortly before the access token expires and once after a 401; the refreshed credential is
stored before its access token is used. `invalid_grant` re-reads the store first (another process
may have rotated the token) and only then marks the connection NEEDS_RELINK.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from ..cronofy import CronofyGateway, CronofyLocked, CronofyUnauthorized, InvalidGrant
from ..models import CalendarConnection, Clock, ConnectionStatus, Credential
from ..store import ConnectionStore
from ..vault import Secret

log = logging.getLogger(__name__)

T = TypeVar("T")
REFRESH_MARGIN = timedelta(minutes=5)


class ConnectionGone(Exception):
    """The connection was unlinked."""


class NeedsRelink(Exception):
    """Cronofy no longer accepts this connection's credentials; the user must link the account again."""


class CalendarAccess:
    def __init__(self, *, connections: ConnectionStore, gateway: CronofyGateway, clock: Clock) -> None:
        self._connections = connections
        self._gateway = gateway
        self._clock = clock

    async def call(self, connection_id: str, action: Callable[[Secret, str], Awaitable[T]]) -> T:
        """Run `action(access_token, data_center)` for the connection."""
        connection, credential = await self._load(connection_id)
        if credential.access_token_expires_at - self._clock() < REFRESH_MARGIN:
            credential = await self._refresh(connection, credential)
        try:
            return await action(credential.access_token, connection.data_center)
        except CronofyUnauthorized:
            credential = await self._refresh(connection, credential)
            return await action(credential.access_token, connection.data_center)
        except CronofyLocked:
            await self._connections.mark_needs_relink(connection.id, now=self._clock())
            raise NeedsRelink(connection.id) from None

    async def _load(self, connection_id: str) -> tuple[CalendarConnection, Credential]:
        found = await self._connections.with_credential(connection_id)
        if found is None:
            raise ConnectionGone(connection_id)
        connection, credential = found
        if connection.status is ConnectionStatus.NEEDS_RELINK:
            raise NeedsRelink(connection_id)
        return connection, credential

    async def _refresh(self, connection: CalendarConnection, credential: Credential) -> Credential:
        try:
            grant = await self._gateway.refresh(refresh_token=credential.refresh_token,
                                                data_center=connection.data_center)
        except InvalidGrant:
            _, stored = await self._load(connection.id)
            if stored.refresh_token != credential.refresh_token:
                return stored  # another process refreshed (and maybe rotated) first
            log.warning("connection %s: Cronofy refused the refresh token; it needs relinking", connection.id)
            await self._connections.mark_needs_relink(connection.id, now=self._clock())
            raise NeedsRelink(connection.id) from None
        refreshed = Credential(grant.access_token, grant.refresh_token, grant.expires_at(self._clock()))
        await self._connections.store_credential(connection.id, refreshed, now=self._clock())
        return refreshed
