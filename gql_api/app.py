"""The composition root of the server: `create_app(settings, database=...)` builds the whole thing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from .auth import Authenticator
from .bootstrap import open_runtime, vault_for
from .domain.time import Clock, utc_now
from .http.middleware import (
    bodies_read_in_time,
    cors,
    graphql_error_bodies,
    graphql_media_type,
    json_bodies_only,
    loopback_hosts_only,
    request_ids,
)
from .http.routes import setup_routes
from .keys import AUTHENTICATOR, METRICS, RUNTIME, SETTINGS
from .observability.access_log import server_log
from .observability.metrics import Metrics
from .settings import ConfigError, Settings, in_memory_store_problem
from .vault import Vault

MAX_REQUEST_BYTES = 256 * 1024

CleanupContext = Callable[[web.Application], AsyncIterator[None]]


def create_app(
    settings: Settings | None = None,
    *,
    database: Any = None,
    clock: Clock = utc_now,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> web.Application:
    """Build the app. `database` injects a motor-style database (tests); else settings decide. `clock` and
    `sleep` drive every wait of the work (tests and the capacity simulation run on a simulated clock).

    Configuration errors (a malformed key ring, say) raise ConfigError here, before anything serves.
    """
    settings = settings or Settings.from_env()
    if (problem := in_memory_store_problem(settings, database_given=database is not None)) is not None:
        raise ConfigError(problem)
    vault = vault_for(settings)

    app = web.Application(
        client_max_size=MAX_REQUEST_BYTES,
        middlewares=_middlewares(settings),
        handler_args={"logger": server_log},  # malformed requests: one INFO line, no traceback
    )
    app[SETTINGS] = settings
    app[AUTHENTICATOR] = Authenticator(settings)
    app[METRICS] = Metrics()
    app.cleanup_ctx.append(_runtime(settings, vault, database, clock, sleep))
    app.cleanup_ctx.append(_live_updates)
    if settings.worker_enabled:
        app.cleanup_ctx.append(_worker)
    setup_routes(app, settings)
    return app


def _middlewares(settings: Settings) -> list[Middleware]:
    """Outermost first. The Host check only in the development shape (DNS rebinding: a web page of any
    site must not reach the dev server through a name of its own). The body is read, in bounded time,
    after the JSON-only check (no time spent on a body that is refused anyway) and inside CORS (so a 413
    or 408 still carries the CORS headers a browser needs to show it). Every error answer of /graphql gets
    a GraphQL body on its way out (graphql_error_bodies), the Host check's and CORS's included."""
    return [
        request_ids,
        graphql_error_bodies,
        *([loopback_hosts_only] if settings.development else []),
        cors(settings.cors_allowed_origins),
        json_bodies_only,
        bodies_read_in_time(settings.request_body_timeout_seconds),
        graphql_media_type,
    ]


def _runtime(
    settings: Settings, vault: Vault, database: Any, clock: Clock, sleep: Callable[[float], Awaitable[None]]
) -> CleanupContext:
    async def runtime(app: web.Application) -> AsyncIterator[None]:
        async with open_runtime(
            settings, vault, clock=clock, database=database, metrics=app[METRICS], sleep=sleep
        ) as opened:
            app[RUNTIME] = opened
            yield

    return runtime


async def _live_updates(app: web.Application) -> AsyncIterator[None]:
    """The task that follows the change feed for this process's subscribers (services/live.py)."""
    live = app[RUNTIME].services.live
    app[METRICS].count_live(websockets=lambda: live.sockets, subscriptions=lambda: live.subscriptions)
    task = asyncio.create_task(live.follow())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _worker(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(app[RUNTIME].worker.run_forever())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
