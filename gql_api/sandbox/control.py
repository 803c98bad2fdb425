"""The control API under `/_control/`: lets tests and developers inspect and steer the sandbox."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .faults import Fault, InvalidFault
from .keys import SANDBOX_STATE

CONTROL_PREFIX = "/_control"


def add_control_routes(router: web.UrlDispatcher) -> None:
    router.add_get(f"{CONTROL_PREFIX}/state", show_state)
    router.add_get(f"{CONTROL_PREFIX}/events", list_events)
    router.add_get(f"{CONTROL_PREFIX}/requests", list_requests)
    router.add_delete(f"{CONTROL_PREFIX}/requests", clear_requests)
    router.add_post(f"{CONTROL_PREFIX}/expire-tokens", expire_tokens)
    router.add_post(f"{CONTROL_PREFIX}/config", update_config)
    router.add_get(f"{CONTROL_PREFIX}/faults", list_faults)
    router.add_post(f"{CONTROL_PREFIX}/faults", add_fault)
    router.add_delete(f"{CONTROL_PREFIX}/faults", clear_faults)
    router.add_post(f"{CONTROL_PREFIX}/reset", reset)


async def show_state(request: web.Request) -> web.Response:
    return web.json_response(request.app[SANDBOX_STATE].snapshot())


async def list_events(request: web.Request) -> web.Response:
    """Every calendar's events, deleted ones included; `?sub=` and `?calendar_id=` narrow it."""
    state = request.app[SANDBOX_STATE]
    listed = state.all_events(sub=request.query.get("sub"), calendar_id=request.query.get("calendar_id"))
    return web.json_response(listed)


async def list_requests(request: web.Request) -> web.Response:
    return web.json_response(request.app[SANDBOX_STATE].recorded_requests())


async def clear_requests(request: web.Request) -> web.Response:
    recorded = request.app[SANDBOX_STATE].requests
    cleared = len(recorded)
    recorded.clear()
    return web.json_response({"cleared": cleared})


async def expire_tokens(request: web.Request) -> web.Response:
    body = await _json_object(request)
    sub = body.get("sub")
    if sub is not None and not isinstance(sub, str):
        raise _bad_request("sub must be a string")
    expired = request.app[SANDBOX_STATE].expire_access_tokens(sub)
    return web.json_response({"expired": expired})


async def update_config(request: web.Request) -> web.Response:
    body = await _json_object(request)
    config = request.app[SANDBOX_STATE].config
    unknown = sorted(set(body) - {"access_token_ttl", "code_ttl", "rotate_refresh_tokens", "events_page_size"})
    if unknown:
        raise _bad_request(f"cannot change: {', '.join(unknown)}")
    for name in ("access_token_ttl", "code_ttl", "events_page_size"):
        if name in body and (type(body[name]) is not int or body[name] <= 0):
            raise _bad_request(f"{name} must be a positive integer")
    if "rotate_refresh_tokens" in body and not isinstance(body["rotate_refresh_tokens"], bool):
        raise _bad_request("rotate_refresh_tokens must be a boolean")
    # Validated all before changing any, so a bad request changes nothing.
    for name, value in body.items():
        setattr(config, name, value)
    return web.json_response(
        {
            "access_token_ttl": config.access_token_ttl,
            "code_ttl": config.code_ttl,
            "rotate_refresh_tokens": config.rotate_refresh_tokens,
            "events_page_size": config.events_page_size,
        }
    )


async def list_faults(request: web.Request) -> web.Response:
    faults = request.app[SANDBOX_STATE].faults.pending()
    return web.json_response([fault.to_json() for fault in faults])


async def add_fault(request: web.Request) -> web.Response:
    body = await _json_object(request)
    try:
        fault = Fault.from_json(body)
    except InvalidFault as problem:
        raise _bad_request(str(problem)) from problem
    request.app[SANDBOX_STATE].faults.add(fault)
    return web.json_response(fault.to_json())


async def clear_faults(request: web.Request) -> web.Response:
    faults = request.app[SANDBOX_STATE].faults
    cleared = len(faults.pending())
    faults.clear()
    return web.json_response({"cleared": cleared})


async def reset(request: web.Request) -> web.Response:
    request.app[SANDBOX_STATE].reset()
    return web.json_response({"reset": True})


async def _json_object(request: web.Request) -> dict[str, Any]:
    raw = await request.text()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as problem:
        raise _bad_request(f"body is not JSON: {problem}") from problem
    if not isinstance(body, dict):
        raise _bad_request("body must be a JSON object")
    return body


def _bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")
