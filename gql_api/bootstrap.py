"""The composition root of the work: the database, the Cronofy gateway, the services and the worker.

Both the HTTP server (`create_app`) and the standalone worker (`gql-api worker`) open it here, so the two
are wired the same way. Closing it stops background tasks, then hands this process's leases back so
another process goes on at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

from .cronofy import CronofyGateway
from .domain.time import Clock
from .observability.metrics import Metrics
from .services import (
    Announcer,
    CalendarAccess,
    CalendarChanges,
    CalendarWrites,
    Erasures,
    Exports,
    Linking,
    LiveUpdates,
    Meetings,
    PushChannels,
    Retention,
    Revocations,
    Services,
    Throttle,
)
from .settings import ConfigError, Settings
from .store import (
    ChangeFeedStore,
    ConnectionStore,
    ErasureStore,
    LinkStateStore,
    MeetingStore,
    MongoRateBudget,
    MongoUserRateLimit,
    RetentionStore,
    RevocationStore,
    close_client,
    describe_uri,
    open_client,
    prepare,
    prepare_retention,
)
from .store.rate_budget import Shares
from .vault import KeyRing, KeyRingError, Vault
from .worker import BackgroundTasks, Worker, lease_owner, standard

log = logging.getLogger(__name__)


def vault_for(settings: Settings) -> Vault:
    """The vault on TOKEN_ENCRYPTION_KEYS, or on an ephemeral key when it is unset."""
    if not settings.token_encryption_keys:
        return Vault(KeyRing.ephemeral())
    try:
        return Vault(KeyRing.parse(settings.token_encryption_keys))
    except KeyRingError as error:
        raise ConfigError(str(error)) from None


@dataclasses.dataclass(frozen=True)
class Repositories:
    connections: ConnectionStore
    link_states: LinkStateStore
    meetings: MeetingStore
    revocations: RevocationStore
    user_limits: MongoUserRateLimit
    erasures: ErasureStore
    retention: RetentionStore
    changes: ChangeFeedStore


@dataclasses.dataclass(frozen=True)
class Runtime:
    database: Any
    repositories: Repositories
    services: Services
    gateway: CronofyGateway
    worker: Worker
    background: BackgroundTasks
    owner: str


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings,
    vault: Vault,
    *,
    clock: Clock,
    database: Any = None,
    metrics: Metrics | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncIterator[Runtime]:
    """Open (or adopt) the database, create its indexes, and build the services and worker on it. Every
    wait (the rate budget's, the gateway's retries) passes on `clock` and `sleep`, so a simulation can run
    days of work without waiting them out."""
    metrics = metrics or Metrics()
    client = None if database is not None else open_client(settings)
    if client is not None:
        database = client[settings.mongodb_database]
    try:
        await prepare(database, where=describe_uri(settings.mongodb_uri))
        await prepare_retention(database, meeting_retention_days=settings.meeting_retention_days)
        api_url, app_url = settings.cronofy_urls_override
        gateway = CronofyGateway(
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            default_data_center=settings.cronofy_data_center,
            api_url=api_url,
            app_url=app_url,
            timeout_seconds=settings.cronofy_timeout_seconds,
            max_attempts=settings.cronofy_max_attempts,
            sleep=sleep,
            rate_budget=MongoRateBudget(
                database,
                clock=lambda: clock().timestamp(),
                sleep=sleep,
                per_second=settings.cronofy_rate_per_second,
                per_minute=settings.cronofy_rate_per_minute,
                shares=Shares(
                    background=settings.cronofy_background_share,
                    sweep=settings.cronofy_sweep_share,
                    user=settings.cronofy_user_share,
                ),
            ),
            observe=metrics.observe_cronofy,
        )
        repositories = Repositories(
            connections=ConnectionStore(database, vault),
            link_states=LinkStateStore(database),
            meetings=MeetingStore(database),
            revocations=RevocationStore(database, vault),
            user_limits=MongoUserRateLimit(database, per_minute=settings.mutations_per_user_per_minute),
            erasures=ErasureStore(database),
            retention=RetentionStore(database, meeting_retention_days=settings.meeting_retention_days),
            changes=ChangeFeedStore(database, clock=clock),
        )
        background = BackgroundTasks()
        owner = lease_owner()
        services = build_services(
            settings,
            repositories,
            gateway,
            background,
            owner=owner,
            clock=clock,
            on_refresh=metrics.refreshed,
            sleep=sleep,
        )
        runtime = Runtime(
            database=database,
            repositories=repositories,
            services=services,
            gateway=gateway,
            worker=Worker(standard(services), poll_seconds=settings.worker_poll_seconds),
            background=background,
            owner=owner,
        )
        try:
            yield runtime
        finally:
            await background.aclose()
            await hand_back_leases(repositories, owner=owner, now=clock())
            await gateway.aclose()
    finally:
        if client is not None:
            await close_client(client)


async def hand_back_leases(repositories: Repositories, *, owner: str, now: Any) -> None:
    """Every lease this process holds (meetings, reads, refreshes), due again at once for others."""
    try:
        released = await repositories.meetings.release_all(owner=owner, now=now)
        released += await repositories.connections.release_leases(owner=owner)
    except Exception as exc:  # the store is away: the leases simply expire instead
        log.warning("could not hand back leases on shutdown: %s", type(exc).__name__)
        return
    if released:
        log.info("handed back %d lease(s) on shutdown", released)


def build_services(
    settings: Settings,
    repositories: Repositories,
    gateway: CronofyGateway,
    background: BackgroundTasks,
    *,
    owner: str,
    clock: Clock,
    on_refresh: Callable[[str], None],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    revocation_grace_seconds: float = 3.0,
) -> Services:
    """Every service on the repositories (MongoDB's, or the tests' fakes), the gateway and the background
    tasks; `on_refresh` counts token refreshes, `sleep` is every wait's (a refresh lease's, say)."""
    connections, meetings = repositories.connections, repositories.meetings
    live = LiveUpdates(
        feed=repositories.changes,
        meetings=meetings,
        connections=connections,
        per_user=settings.subscriptions_per_user,
        per_process=settings.subscriptions_per_process,
        poll_seconds=settings.subscription_poll_seconds,
    )
    announce = Announcer(repositories.changes, published=live.nudge)  # every service announces what it changed
    access = CalendarAccess(
        credentials=connections,
        meetings=meetings,
        gateway=gateway,
        clock=clock,
        owner=owner,
        refresh_margin=timedelta(seconds=settings.cronofy_refresh_margin_seconds),
        refresh_lease=timedelta(seconds=max(30.0, 3 * settings.cronofy_timeout_seconds)),
        sleep=sleep,
        on_refresh=on_refresh,
        announce=announce,
    )
    revocations = Revocations(
        revocations=repositories.revocations,
        connections=connections,
        gateway=gateway,
        clock=clock,
        grace_seconds=revocation_grace_seconds,
    )
    channels = PushChannels(
        reads=connections,
        access=access,
        gateway=gateway,
        clock=clock,
        background=background,
        callback_base=settings.webhook_url_base,
    )
    changes = CalendarChanges(
        reads=connections,
        meetings=meetings,
        access=access,
        channels=channels,
        gateway=gateway,
        clock=clock,
        background=background,
        owner=owner,
        reconcile_every=timedelta(seconds=settings.sync_reconcile_interval_seconds)
        if settings.sync_reconcile_interval_seconds
        else None,
        announce=announce,
    )
    writes = CalendarWrites(
        outbox=meetings,
        access=access,
        gateway=gateway,
        clock=clock,
        background=background,
        owner=owner,
        max_attempts=settings.outbox_max_attempts,
        # a copy may take a refresh, a write, a refresh after a 401 and the write again
        lease=timedelta(seconds=max(60.0, 5 * settings.cronofy_timeout_seconds)),
        follow=changes.follow,
        announce=announce,
    )
    linking = Linking(
        connections=connections,
        link_states=repositories.link_states,
        meetings=meetings,
        channels=channels,
        gateway=gateway,
        revocations=revocations,
        allowed_redirect_uris=settings.redirect_uris,
        data_center=settings.cronofy_data_center,
        state_ttl=timedelta(seconds=settings.link_state_ttl_seconds),
        clock=clock,
        announce=announce,
    )
    return Services(
        access=access,
        linking=linking,
        meetings=Meetings(
            meetings=meetings,
            outbox=meetings,
            connections=connections,
            writes=writes,
            clock=clock,
            grace_seconds=settings.sync_grace_seconds,
            announce=announce,
        ),
        writes=writes,
        changes=changes,
        channels=channels,
        revocations=revocations,
        throttle=Throttle(limit=repositories.user_limits, clock=clock),
        erasures=Erasures(
            erasures=repositories.erasures,
            meetings=meetings,
            connections=connections,
            credentials=connections,
            link_states=repositories.link_states,
            linking=linking,
            writes=writes,
            background=background,
            clock=clock,
            owner=owner,
            admin_role=settings.auth_admin_role,
            announce=announce,
        ),
        exports=Exports(
            meetings=meetings,
            connections=connections,
            link_states=repositories.link_states,
            revocations=repositories.revocations,
            clock=clock,
            admin_role=settings.auth_admin_role,
        ),
        retention=Retention(expired=repositories.retention, clock=clock),
        live=live,
    )
