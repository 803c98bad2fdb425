"""Every route of the server, in one table."""

from __future__ import annotations

from aiohttp import web

from ..graphql.view import AppGraphQLView
from ..sandbox import SandboxConfig, create_sandbox_app
from ..settings import DEMO_CALLBACK_PATH, SANDBOX_PATH, Settings
from .demo import demo_callback
from .graphiql import ROUTE as GRAPHIQL_ASSETS
from .graphiql import graphiql_asset
from .health import healthz, metrics, readyz
from .middleware import GRAPHQL_PATH
from .webhooks import WEBHOOK_ROUTE, cronofy_webhook


def setup_routes(app: web.Application, settings: Settings) -> None:
    """The sandbox and the demo page only in the development shape: Settings refuses them elsewhere, and
    they are not even routed there, should a Settings ever be built around its checks."""
    view = AppGraphQLView.from_settings(settings)
    app.router.add_route("*", GRAPHQL_PATH, view)
    app.on_shutdown.append(view.close_websockets)
    app.router.add_post(WEBHOOK_ROUTE, cronofy_webhook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    if settings.graphiql:
        app.router.add_get(GRAPHIQL_ASSETS, graphiql_asset)
    if settings.development and not settings.allowed_redirect_uris:
        app.router.add_get(DEMO_CALLBACK_PATH, demo_callback)
    if settings.development and settings.uses_sandbox:
        app.add_subapp(
            SANDBOX_PATH,
            create_sandbox_app(
                SandboxConfig(
                    client_id=settings.client_id,
                    client_secret=settings.client_secret,
                    redirect_uris=settings.redirect_uris,
                )
            ),
        )
