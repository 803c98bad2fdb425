"""Request ids, JSON logs and Prometheus metrics.

Every log line is one JSON object; the access line carries the request id, the GraphQL operation
name, the duration and the status, and never variables, bodies or query strings (they can carry
codes, states and tokens). Metrics live in one registry per app, so tests and processes never mix.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID = web.RequestKey("request_id", str)
OPERATION = web.RequestKey("graphql_operation", str)  # set by the GraphQL layer, for the access line
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_OPERATION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_OPERATION_LABELS = 200  # client-chosen names: bound the label values a client can create
_CRONOFY_PATHS = [
    (re.compile(r"^/v1/calendars/[^/]+/events$"), "/v1/calendars/{calendar_id}/events"),
    (re.compile(r"^/v1/events/pages/[^/]+$"), "/v1/events/pages/{page}"),
    (re.compile(r"^/v1/channels/[^/]+$"), "/v1/channels/{channel_id}"),
]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.graphql_requests = Counter("graphql_requests", "GraphQL operations served, by outcome",
                                        ["operation", "outcome"], registry=self.registry)
        self.graphql_seconds = Histogram("graphql_request_seconds", "GraphQL operation latency",
                                         ["operation"], registry=self.registry)
        self.cronofy_calls = Counter("cronofy_calls", "Calls to Cronofy, by endpoint and HTTP status (0: no answer)",
                                     ["method", "endpoint", "status"], registry=self.registry)
        self.cronofy_seconds = Histogram("cronofy_call_seconds", "Cronofy call latency", ["method", "endpoint"],
                                         registry=self.registry)
        self.refreshes = Counter("cronofy_token_refreshes", "Access-token refreshes, by result", ["result"],
                                 registry=self.registry)
        self.webhooks = Counter("cronofy_webhooks", "Cronofy push notifications received, by type and answer",
                                ["type", "status"], registry=self.registry)
        self.outbox_depth = Gauge("outbox_pending_meetings", "Meetings with calendar work due or backing off",
                                  registry=self.registry)
        self.outbox_age = Gauge("outbox_oldest_due_seconds", "How long the oldest due calendar work has waited",
                                registry=self.registry)
        self._operations: set[str] = set()

    def operation_label(self, name: str | None) -> str:
        if not name:
            return "anonymous"
        if not _OPERATION_NAME.match(name):
            return "invalid"
        if name not in self._operations and len(self._operations) >= MAX_OPERATION_LABELS:
            return "other"
        self._operations.add(name)
        return name

    def observe_graphql(self, operation: str | None, outcome: str, seconds: float) -> None:
        label = self.operation_label(operation)
        self.graphql_requests.labels(label, outcome).inc()
        self.graphql_seconds.labels(label).observe(seconds)

    def observe_cronofy(self, method: str, path: str, status: int, seconds: float) -> None:
        endpoint = next((template for pattern, template in _CRONOFY_PATHS if pattern.match(path)), path)
        self.cronofy_calls.labels(method, endpoint, str(status)).inc()
        self.cronofy_seconds.labels(method, endpoint).observe(seconds)

    def refreshed(self, result: str) -> None:
        self.refreshes.labels(result).inc()

    def webhook(self, kind: str, status: int) -> None:
        self.webhooks.labels(kind if _OPERATION_NAME.match(kind) else "invalid", str(status)).inc()

    def exposition(self, *, outbox_depth: int, oldest_due: datetime | None, now: datetime) -> bytes:
        self.outbox_depth.set(outbox_depth)
        self.outbox_age.set(max(0.0, (now - oldest_due).total_seconds()) if oldest_due else 0.0)
        return generate_latest(self.registry)


CONTENT_TYPE = CONTENT_TYPE_LATEST
METRICS = web.AppKey("metrics", Metrics)


@web.middleware
async def request_ids(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                      ) -> web.StreamResponse:
    """Every request gets an id (a well-formed incoming X-Request-ID is kept), echoed in the answer."""
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    request[REQUEST_ID] = incoming if _CLIENT_REQUEST_ID.match(incoming) else uuid.uuid4().hex
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers[REQUEST_ID_HEADER] = request[REQUEST_ID]
        raise
    response.headers[REQUEST_ID_HEADER] = request[REQUEST_ID]
    return response


class AccessLogger(AbstractAccessLogger):
    """One line per request: the path without its query string (it carries OAuth codes and states),
    and without the values of path variables."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        path = _logged_path(request)
        self.logger.info(
            "%s %s %s", request.method, path, response.status,
            extra={"request_id": request.get(REQUEST_ID), "operation": request.get(OPERATION),
                   "method": request.method, "path": path, "status": response.status,
                   "duration_ms": round(time * 1000, 1), "remote": request.remote},
        )


def _logged_path(request: web.BaseRequest) -> str:
    """The route's template where it has variables: a webhook path carries its channel's secret token."""
    match_info = getattr(request, "match_info", None)
    resource = match_info.route.resource if match_info is not None and match_info.route else None
    if resource is not None and getattr(resource, "canonical", None) and match_info:
        return resource.canonical
    return request.path


_STANDARD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({key: value for key, value in vars(record).items()
                     if key not in _STANDARD_FIELDS and not key.startswith("_")})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(fmt: str, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
