"""The composition root of the server: `create_app(settings, database=...)` builds the whole thing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from .auth import Authenticator
from .bootstrap import open_runtime, vault_for
from .domain.time import Clock, utc_now
from .http.middleware import cors, graphql_media_type, json_bodies_only, request_ids
from .http.routes import setup_routes
from .keys import AUTHENTICATOR, METRICS, RUNTIME, SETTINGS
from .observability.metrics import Metrics
from .settings import Settings
from .vault import Vault

MAX_REQUEST_BYTES = 256 * 1024

CleanupContext = Callable[[web.Application], AsyncIterator[None]]


def create_app(settings: Settings | None = None, *, database: Any = None, clock: Clock = utc_now) -> web.Application:
    """Build the app. `database` injects a motor-style database (tests); else settings decide.

    Configuration errors (a malformed key ring, say) raise ConfigError here, before anything serves.
    """
    settings = settings or Settings.from_env()
    vault = vault_for(settings)

    app = web.Application(
        client_max_size=MAX_REQUEST_BYTES,
        middlewares=[request_ids, cors(settings.cors_allowed_origins), json_bodies_only, graphql_media_type],
    )
    app[SETTINGS] = settings
    app[AUTHENTICATOR] = Authenticator(settings)
    app[METRICS] = Metrics()
    app.cleanup_ctx.append(_runtime(settings, vault, database, clock))
    if settings.worker_enabled:
        app.cleanup_ctx.append(_worker)
    setup_routes(app, settings)
    return app


def _runtime(settings: Settings, vault: Vault, database: Any, clock: Clock) -> CleanupContext:
    async def runtime(app: web.Application) -> AsyncIterator[None]:
        async with open_runtime(settings, vault, clock=clock, database=database, metrics=app[METRICS]) as opened:
            app[RUNTIME] = opened
            yield

    return runtime


async def _worker(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(app[RUNTIME].worker.run_forever())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
