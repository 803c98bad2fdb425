"""Every typed key of the aiohttp application and its requests, in one place."""

from __future__ import annotations

from aiohttp import web

from .auth import Authenticator
from .bootstrap import Runtime
from .observability.metrics import Metrics
from .settings import Settings

SETTINGS = web.AppKey("settings", Settings)
RUNTIME = web.AppKey("runtime", Runtime)
METRICS = web.AppKey("metrics", Metrics)
AUTHENTICATOR = web.AppKey("authenticator", Authenticator)

REQUEST_ID = web.RequestKey("request_id", str)
OPERATION = web.RequestKey("graphql_operation", str)  # set by the GraphQL layer, for the access line
NOTIFICATION_TYPE = web.RequestKey("notification_type", str)  # a webhook's, for the metrics
