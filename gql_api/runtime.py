"""Everything a process needs to do the work: the database, the Cronofy gateway and the services.

Both the HTTP server (`create_app`) and the standalone worker (`gql-api worker`) open it here, so the
two are wired the same way.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from .cronofy import CronofyGateway
from .models import Clock
from .observability import Metrics
from .services import (
    CalendarAccess,
    CalendarInbound,
    CalendarSync,
    LinkingService,
    MeetingService,
    Revoker,
    Services,
)
from .settings import ConfigError, Settings
from .store import (
    ConnectionStore,
    LinkStateStore,
    MeetingStore,
    MongoRateBudget,
    RevocationStore,
    close_client,
    describe_uri,
    open_client,
    prepare,
)
from .vault import KeyRing, KeyRingError, Vault


def vault_for(settings: Settings) -> Vault:
    """The vault on TOKEN_ENCRYPTION_KEYS, or on an ephemeral key when it is unset."""
    if not settings.token_encryption_keys:
        return Vault(KeyRing.ephemeral())
    try:
        return Vault(KeyRing.parse(settings.token_encryption_keys))
    except KeyRingError as error:
        raise ConfigError(str(error)) from None


@dataclasses.dataclass(frozen=True)
class Runtime:
    database: Any
    services: Services


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings, vault: Vault, *, clock: Clock, database: Any = None,
                       metrics: Metrics | None = None) -> AsyncIterator[Runtime]:
    """Open (or adopt) the database, create its indexes, and build the services on it."""
    metrics = metrics or Metrics()
    client = None if database is not None else open_client(settings)
    database = database if database is not None else client[settings.mongodb_database]
    try:
        await prepare(database, where=describe_uri(settings.mongodb_uri))
        api_url, app_url = settings.cronofy_urls_override
        gateway = CronofyGateway(
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            default_data_center=settings.cronofy_data_center,
            api_url=api_url,
            app_url=app_url,
            timeout_seconds=settings.cronofy_timeout_seconds,
            max_attempts=settings.cronofy_max_attempts,
            rate_budget=MongoRateBudget(database, per_second=settings.cronofy_rate_per_second,
                                        per_minute=settings.cronofy_rate_per_minute),
            observe=metrics.observe_cronofy,
        )
        services = build_services(settings, database, vault, gateway, clock, metrics)
        try:
            yield Runtime(database=database, services=services)
        finally:
            await services.sync.aclose()
            await services.inbound.aclose()
            await gateway.aclose()
    finally:
        if client is not None:
            await close_client(client)


def build_services(settings: Settings, database: Any, vault: Vault, gateway: CronofyGateway,
                   clock: Clock, metrics: Metrics) -> Services:
    connections = ConnectionStore(database, vault)
    meetings = MeetingStore(database)
    access = CalendarAccess(
        connections=connections, meetings=meetings, gateway=gateway, clock=clock,
        refresh_margin=timedelta(seconds=settings.cronofy_refresh_margin_seconds),
        refresh_lease=timedelta(seconds=max(30.0, 3 * settings.cronofy_timeout_seconds)),
        on_refresh=metrics.refreshed,
    )
    revoker = Revoker(revocations=RevocationStore(database, vault), gateway=gateway, clock=clock)
    sync = CalendarSync(
        meetings=meetings,
        access=access,
        gateway=gateway,
        clock=clock,
        max_attempts=settings.outbox_max_attempts,
        # a copy may take a refresh, a write, a refresh after a 401 and the write again
        lease=timedelta(seconds=max(60.0, 5 * settings.cronofy_timeout_seconds)),
    )
    inbound = CalendarInbound(
        connections=connections,
        meetings=meetings,
        access=access,
        gateway=gateway,
        clock=clock,
        public_base_url=settings.base_url,
        reconcile_every=timedelta(seconds=settings.sync_reconcile_interval_seconds)
        if settings.sync_reconcile_interval_seconds else None,
    )
    return Services(
        access=access,
        linking=LinkingService(
            connections=connections,
            link_states=LinkStateStore(database),
            meetings=meetings,
            inbound=inbound,
            gateway=gateway,
            revoker=revoker,
            allowed_redirect_uris=settings.redirect_uris,
            data_center=settings.cronofy_data_center,
            state_ttl=timedelta(seconds=settings.link_state_ttl_seconds),
            clock=clock,
        ),
        meetings=MeetingService(meetings=meetings, connections=connections, sync=sync, clock=clock,
                                grace_seconds=settings.sync_grace_seconds),
        revoker=revoker,
        sync=sync,
        inbound=inbound,
    )
