"""Liveness, readiness and metrics for the platform around the process."""

from __future__ import annotations

from aiohttp import web

from ..domain.time import utc_now
from ..keys import METRICS, RUNTIME
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
    """Prometheus exposition; the outbox gauges are read from MongoDB at scrape time."""
    depth, oldest = await request.app[RUNTIME].services.meetings.outbox_stats()
    body = request.app[METRICS].exposition(outbox_depth=depth, oldest_due=oldest, now=utc_now())
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
