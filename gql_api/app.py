"""The composition root: `create_app(settings, database=...)` builds the whole server."""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from .auth import Authenticator
from .models import Clock, utc_now
from .observability import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .observability import METRICS, Metrics, request_ids
from .runtime import open_runtime, vault_for
from .sandbox import SandboxConfig, create_sandbox_app
from .settings import DEMO_CALLBACK_PATH, SANDBOX_PATH, Settings
from .store import is_ready
from .vault import Vault
from .view import AUTHENTICATOR, SERVICES, AppGraphQLView
from .webhooks import WEBHOOK_ROUTE, cronofy_webhook
from .worker import Worker

log = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Any)

MAX_REQUEST_BYTES = 256 * 1024


def create_app(settings: Settings | None = None, *, database: Any = None, clock: Clock = utc_now) -> web.Application:
    """Build the app. `database` injects a motor-style database (tests); else settings decide.

    Configuration errors (a malformed key ring, say) raise ConfigError here, before anything serves.
    """
    settings = settings or Settings.from_env()
    vault = vault_for(settings)

    app = web.Application(client_max_size=MAX_REQUEST_BYTES, middlewares=[request_ids])
    app[SETTINGS] = settings
    app[AUTHENTICATOR] = Authenticator(settings)
    app[METRICS] = Metrics()
    app.cleanup_ctx.append(_runtime(settings, vault, database, clock))
    if settings.worker_enabled:
        app.cleanup_ctx.append(_worker(settings))

    app.router.add_route("*", "/graphql", AppGraphQLView.from_settings(settings))
    app.router.add_post(WEBHOOK_ROUTE, cronofy_webhook(settings, app[METRICS]))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    if not settings.allowed_redirect_uris:
        app.router.add_get(DEMO_CALLBACK_PATH, demo_callback)
    if settings.uses_sandbox:
        app.add_subapp(SANDBOX_PATH, create_sandbox_app(SandboxConfig(
            client_id=settings.client_id, client_secret=settings.client_secret, redirect_uris=settings.redirect_uris)))
    return app


def _runtime(settings: Settings, vault: Vault, database: Any, clock: Clock):
    async def runtime(app: web.Application) -> AsyncIterator[None]:
        async with open_runtime(settings, vault, clock=clock, database=database, metrics=app[METRICS]) as opened:
            app[DATABASE] = opened.database
            app[SERVICES] = opened.services
            yield

    return runtime


def _worker(settings: Settings):
    async def worker(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(Worker(app[SERVICES], poll_seconds=settings.worker_poll_seconds).run_forever())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return worker


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    if await is_ready(request.app[DATABASE]):
        return web.json_response({"status": "ready"})
    return web.json_response({"status": "unavailable", "reason": "store unreachable"}, status=503)


async def demo_callback(request: web.Request) -> web.Response:
    """Where the dev server's own redirect URI lands: shows the code and state for `linkCalendar`."""
    code = html.escape(request.query.get("code", ""))
    state = html.escape(request.query.get("state", ""))
    error = html.escape(request.query.get("error", ""))
    body = (
        f"<p>Cronofy answered: <strong>{error}</strong></p>" if error else
        "<p>Finish linking with this mutation (in GraphiQL at <a href=\"/graphql\">/graphql</a>, with your "
        "<code>Authorization: Bearer</code> header):</p>"
        f"<pre>mutation {{ linkCalendar(input: {{code: \"{code}\", state: \"{state}\"}}) {{\n"
        "  connection { id provider profileName status calendar { name } }\n"
        "  userErrors { code message field }\n}}</pre>"
    )
    page = f"<!doctype html><html><head><title>Calendar linked</title></head><body>{body}</body></html>"
    return web.Response(text=page, content_type="text/html",
                        headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition; the outbox gauges are read from MongoDB at scrape time."""
    depth, oldest = await request.app[SERVICES].meetings.outbox_stats()
    body = request.app[METRICS].exposition(outbox_depth=depth, oldest_due=oldest, now=utc_now())
    return web.Response(body=body, headers={"Content-Type": METRICS_CONTENT_TYPE})
