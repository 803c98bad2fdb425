"""Liveness, readiness and metrics for the platform around the process."""

from __future__ import annotations

import hmac

from aiohttp import web

from ..domain.time import utc_now
from ..keys import METRICS, RUNTIME, SETTINGS
from ..observability.metrics import CONTENT_TYPE
from ..store import is_ready


async def healthz(request: web.Request) -> web.Response:
    """The process is up (nothing else is checked: a load balancer restarts what fails this)."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """The store answers: take the process out of the load balancer otherwise."""
    if await is_ready(request.app[RUNTIME].database):
        return web.json_response({"status": "ready"})
    return web.json_response({"status": "unavailable", "reason": "store unreachable"}, status=503)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition; the outbox gauges are read from MongoDB at scrape time. With METRICS_TOKEN
    set, only for `Authorization: Bearer <METRICS_TOKEN>` (the figures tell how the service is used)."""
    expected = request.app[SETTINGS].metrics_token
    if expected is not None and not _bearer_matches(request.headers.get("Authorization"), expected):
        return web.Response(
            status=401, text="Send Authorization: Bearer <METRICS_TOKEN>.", headers={"WWW-Authenticate": "Bearer"}
        )
    depth, oldest = await request.app[RUNTIME].services.meetings.outbox_stats()
    body = request.app[METRICS].exposition(outbox_depth=depth, oldest_due=oldest, now=utc_now())
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def _bearer_matches(authorization: str | None, expected: str) -> bool:
    """Constant-time, on bytes: header bytes that were not UTF-8 arrive as surrogates, which
    `hmac.compare_digest` refuses in a str."""
    scheme, _, token = (authorization or "").partition(" ")
    presented = token.strip().encode("utf-8", "surrogateescape")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented, expected.encode("utf-8", "surrogateescape"))
