"""The composition root: `create_app(settings, database=...)` builds the whole server."""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from .auth import Authenticator
from .cronofy import CronofyGateway
from .models import Clock, utc_now
from .sandbox import SandboxConfig, create_sandbox_app
from .schema import schema
from .services import LinkingService, Revoker, Services
from .settings import DEMO_CALLBACK_PATH, SANDBOX_PATH, ConfigError, Settings
from .store import (
    ConnectionStore,
    LinkStateStore,
    RevocationStore,
    close_client,
    describe_uri,
    is_ready,
    open_client,
    prepare,
)
from .vault import KeyRing, KeyRingError, Vault
from .view import AUTHENTICATOR, SERVICES, AppGraphQLView
from .worker import Worker

log = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Any)
GATEWAY = web.AppKey("gateway", CronofyGateway)

MAX_REQUEST_BYTES = 256 * 1024


def create_app(settings: Settings | None = None, *, database: Any = None, clock: Clock = utc_now) -> web.Application:
    """Build the app. `database` injects a motor-style database (tests); else settings decide.

    Configuration errors (a malformed key ring, say) raise ConfigError here, before anything serves.
    """
    settings = settings or Settings.from_env()
    vault = Vault(_key_ring(settings))

    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app[SETTINGS] = settings
    app[AUTHENTICATOR] = Authenticator(settings)
    app.cleanup_ctx.append(_store(settings, database))
    app.cleanup_ctx.append(_services(settings, vault, clock))
    if settings.worker_enabled:
        app.cleanup_ctx.append(_worker(settings))

    app.router.add_route("*", "/graphql", AppGraphQLView(schema=schema, graphql_ide="graphiql"))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if not settings.allowed_redirect_uris:
        app.router.add_get(DEMO_CALLBACK_PATH, demo_callback)
    if settings.uses_sandbox:
        app.add_subapp(SANDBOX_PATH, create_sandbox_app(SandboxConfig(
            client_id=settings.client_id, client_secret=settings.client_secret)))
    return app


def _key_ring(settings: Settings) -> KeyRing:
    if not settings.token_encryption_keys:
        return KeyRing.ephemeral()
    try:
        return KeyRing.parse(settings.token_encryption_keys)
    except KeyRingError as error:
        raise ConfigError(str(error)) from None


def _store(settings: Settings, injected: Any):
    async def store(app: web.Application) -> AsyncIterator[None]:
        client = None if injected is not None else open_client(settings)
        database = injected if injected is not None else client[settings.mongodb_database]
        try:
            await prepare(database, where=describe_uri(settings.mongodb_uri))
            app[DATABASE] = database
            yield
        finally:
            if client is not None:
                await close_client(client)

    return store


def _services(settings: Settings, vault: Vault, clock: Clock):
    async def services(app: web.Application) -> AsyncIterator[None]:
        database = app[DATABASE]
        api_url, app_url = settings.cronofy_urls_override
        gateway = CronofyGateway(
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            default_data_center=settings.cronofy_data_center,
            api_url=api_url,
            app_url=app_url,
            timeout_seconds=settings.cronofy_timeout_seconds,
        )
        revoker = Revoker(revocations=RevocationStore(database, vault), gateway=gateway, clock=clock)
        app[GATEWAY] = gateway
        app[SERVICES] = Services(
            linking=LinkingService(
                connections=ConnectionStore(database, vault),
                link_states=LinkStateStore(database),
                gateway=gateway,
                revoker=revoker,
                allowed_redirect_uris=settings.redirect_uris,
                data_center=settings.cronofy_data_center,
                state_ttl=timedelta(seconds=settings.link_state_ttl_seconds),
                clock=clock,
            ),
            revoker=revoker,
        )
        yield
        await gateway.aclose()

    return services


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


class PathOnlyAccessLogger(AbstractAccessLogger):
    """aiohttp's default line includes the query string, which carries OAuth codes and states."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info('%s "%s %s" %s %.1f ms', request.remote, request.method, request.path,
                         response.status, time * 1000)
