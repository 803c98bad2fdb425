"""Builds the sandbox's aiohttp application, run on its own or mounted as a sub-app.

One root serves what Cronofy splits over two hosts: the "app" host's consent page and the
"api" host's token, revoke and `/v1` endpoints. Routes are relative to that root, and the
only absolute URLs the sandbox writes (events' `next_page`, profiles' `profile_relink_url`) are
built from the request's own URL, so mounting anywhere works.

Push notifications go out through one aiohttp client session that the app opens on start-up
and closes on clean-up (`push.Pusher`), mounted or not.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from . import acting, api, consent, control, oauth
from .config import SandboxConfig
from .control import CONTROL_PREFIX
from .faults import Fault
from .journal import RecordedRequest
from .keys import SANDBOX_PUSHER, SANDBOX_STATE
from .limits import Refusal, counts_toward_limit
from .push import Pusher
from .state import SandboxState


def create_sandbox_app(config: SandboxConfig) -> web.Application:
    app = web.Application(middlewares=[record_and_inject_faults, json_not_found])
    state = SandboxState(config)
    pusher = Pusher(state)
    app[SANDBOX_STATE] = state
    app[SANDBOX_PUSHER] = pusher
    app.cleanup_ctx.append(pusher.session_context)

    # Each module lists its endpoints in its docstring and declares them on its `routes`.
    for module in (consent, oauth, api, control, acting):
        app.router.add_routes(module.routes)
    return app


@web.middleware
async def record_and_inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log each Cronofy-side request, serve queued faults, then apply the rate limits.

    The control API is exempt from all three. A queued fault answers first (and is not counted
    toward the rate limits); then the rate limits (`limits.py`) may answer 429; then the request
    is handled normally.
    """
    path = sandbox_path(request)
    if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
        return await handler(request)

    state = request.app[SANDBOX_STATE]
    recorded = RecordedRequest(method=request.method, path=path, at=state.now())
    state.requests.add(recorded)  # on arrival, so concurrent requests keep their order

    fault = state.faults.take(request.method, path)
    if fault is not None:
        if fault.delay_seconds:
            await asyncio.sleep(fault.delay_seconds)
        if fault.reset:
            recorded.status = 0
            return _drop_connection(request)
        if fault.status is not None:
            response: web.StreamResponse = _fault_response(fault)
            recorded.status = response.status
            return response

    if counts_toward_limit(path):
        refusal = state.limits.admit(state.config, state.now())
        if refusal is not None:
            response = _rate_limited_response(refusal, with_retry_after=state.config.rate_limit_retry_after)
            recorded.status = response.status
            return response

    try:
        response = await handler(request)
    except web.HTTPException as answer:
        recorded.status = answer.status
        raise
    except Exception:
        recorded.status = 500  # aiohttp answers 500 without leaking the error
        raise
    recorded.status = response.status
    return response


@web.middleware
async def json_not_found(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return web.json_response({"error": "not_found"}, status=404)


def sandbox_path(request: web.Request) -> str:
    """The request path relative to the sandbox root, whether mounted or not."""
    path = request.path
    prefix = _mount_prefix(request)
    if prefix and path.startswith(prefix):
        return path[len(prefix) :] or "/"
    return path


def _mount_prefix(request: web.Request) -> str:
    # match_info.apps runs from the outermost app to ours; the app just before ours holds
    # the resource that mounts us, and its prefix already includes any outer prefixes.
    sandbox = request.app
    apps = request.match_info.apps
    if sandbox not in apps or apps.index(sandbox) == 0:
        return ""
    parent = apps[apps.index(sandbox) - 1]
    for resource in parent.router.resources():
        info: dict[str, Any] = dict(resource.get_info())
        if info.get("app") is sandbox:
            return str(info.get("prefix", ""))
    return ""


def _fault_response(fault: Fault) -> web.Response:
    headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
    if fault.body is None:
        return web.Response(status=fault.status or 500, headers=headers)
    return web.json_response(fault.body, status=fault.status or 500, headers=headers)


def _rate_limited_response(refusal: Refusal, *, with_retry_after: bool) -> web.Response:
    # Cronofy answers 429 Too Many Requests with an empty body; Retry-After is the sandbox's option.
    headers = {"Retry-After": str(refusal.retry_after)} if with_retry_after else None
    return web.Response(status=429, headers=headers)


def _drop_connection(request: web.Request) -> web.Response:
    # Closing the transport makes the client see the connection vanish mid-request;
    # aiohttp then fails quietly to write the placeholder response below.
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=500)
