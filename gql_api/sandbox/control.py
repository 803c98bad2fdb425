"""The control API under `/_control/`: lets tests and developers inspect and steer the sandbox.

    GET    /_control/state            accounts (calendars, events, open channels), tokens, codes
    GET    /_control/events           every event; ?sub= and ?calendar_id= narrow it
    GET    /_control/requests         the Cronofy-side requests received; DELETE clears them
    POST   /_control/expire-tokens    {"sub"?}: expire access tokens now
    POST   /_control/config           change settings, e.g. {"signing_secrets": ["old", "new"]},
                                      {"push_duplicates": N}, {"push_drops": N}, {"push_timeout": s},
                                      {"rate_limit_per_second": N|null, "rate_limit_per_minute": N|null,
                                       "rate_limit_retry_after": bool},
                                      {"redirect_uris": ["https://...", ...]} (registered for the client)
    GET    /_control/limits           the rate limits and `rate_limited`, how many requests got 429
    GET    /_control/faults           queued faults; POST queues one, DELETE clears them
    POST   /_control/silence          {"sub"}: the account's open channels lose every push from now
                                      on, as broken channels do (a channel opened afresh hears again)
    GET    /_control/pushes           every push delivery attempt; ?wait=SECONDS first waits for
                                      background pushes (a new channel's verification); DELETE clears
    POST   /_control/reset            back to a freshly started sandbox

Playing the user in their calendar (`act/...`) and sending any push: see `acting.py`.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .faults import Fault, InvalidFault
from .keys import SANDBOX_PUSHER, SANDBOX_STATE
from .render import control_events_json

# Longest a control request waits for background pushes (`GET /_control/pushes?wait=...`).
MAX_WAIT_SECONDS = 10.0

CONTROL_PREFIX = "/_control"

routes = web.RouteTableDef()


@routes.get(f"{CONTROL_PREFIX}/state")
async def show_state(request: web.Request) -> web.Response:
    return web.json_response(request.app[SANDBOX_STATE].snapshot())


@routes.get(f"{CONTROL_PREFIX}/events")
async def list_events(request: web.Request) -> web.Response:
    """Every calendar's events, deleted ones included; `?sub=` and `?calendar_id=` narrow it."""
    accounts = request.app[SANDBOX_STATE].accounts
    listed = control_events_json(accounts, sub=request.query.get("sub"), calendar_id=request.query.get("calendar_id"))
    return web.json_response(listed)


@routes.get(f"{CONTROL_PREFIX}/requests")
async def list_requests(request: web.Request) -> web.Response:
    return web.json_response(request.app[SANDBOX_STATE].requests.to_json())


@routes.delete(f"{CONTROL_PREFIX}/requests")
async def clear_requests(request: web.Request) -> web.Response:
    return web.json_response({"cleared": request.app[SANDBOX_STATE].requests.clear()})


@routes.post(f"{CONTROL_PREFIX}/expire-tokens")
async def expire_tokens(request: web.Request) -> web.Response:
    body = await json_object(request)
    sub = body.get("sub")
    if sub is not None and not isinstance(sub, str):
        raise bad_request("sub must be a string")
    expired = request.app[SANDBOX_STATE].tokens.expire_access_tokens(sub)
    return web.json_response({"expired": expired})


_CONFIGURABLE = (
    "access_token_ttl",
    "code_ttl",
    "rotate_refresh_tokens",
    "events_page_size",
    "signing_secrets",
    "push_timeout",
    "push_duplicates",
    "push_drops",
    "rate_limit_per_second",
    "rate_limit_per_minute",
    "rate_limit_retry_after",
    "redirect_uris",
)


@routes.post(f"{CONTROL_PREFIX}/config")
async def update_config(request: web.Request) -> web.Response:
    body = await json_object(request)
    config = request.app[SANDBOX_STATE].config
    unknown = sorted(set(body) - set(_CONFIGURABLE))
    if unknown:
        raise bad_request(f"cannot change: {', '.join(unknown)}")
    for name in ("access_token_ttl", "code_ttl", "events_page_size"):
        if name in body and (type(body[name]) is not int or body[name] <= 0):
            raise bad_request(f"{name} must be a positive integer")
    for name in ("push_duplicates", "push_drops"):
        if name in body and (type(body[name]) is not int or body[name] < 0):
            raise bad_request(f"{name} must be a non-negative integer")
    for name in ("rate_limit_per_second", "rate_limit_per_minute"):
        if name in body and body[name] is not None and (type(body[name]) is not int or body[name] <= 0):
            raise bad_request(f"{name} must be a positive integer or null")
    for name in ("rotate_refresh_tokens", "rate_limit_retry_after"):
        if name in body and not isinstance(body[name], bool):
            raise bad_request(f"{name} must be a boolean")
    if "push_timeout" in body and (
        type(body["push_timeout"]) not in (int, float) or not 0 < body["push_timeout"] <= MAX_WAIT_SECONDS
    ):
        raise bad_request(f"push_timeout must be a number of seconds above 0, at most {MAX_WAIT_SECONDS:g}")
    secrets = body.get("signing_secrets", ["unchanged"])
    if not isinstance(secrets, list) or not secrets or not all(isinstance(s, str) and s for s in secrets):
        raise bad_request("signing_secrets must be a non-empty list of non-empty strings")
    uris = body.get("redirect_uris", [])
    if not isinstance(uris, list) or not all(isinstance(uri, str) and uri for uri in uris):
        raise bad_request("redirect_uris must be a list of non-empty strings")
    # Validated all before changing any, so a bad request changes nothing.
    for name, value in body.items():
        setattr(config, name, _as_stored(name, value))
    shown = {name: getattr(config, name) for name in _CONFIGURABLE}
    shown["signing_secrets"] = config.active_signing_secrets
    shown["redirect_uris"] = list(config.redirect_uris)
    return web.json_response(shown)


def _as_stored(name: str, value: Any) -> Any:
    if name == "signing_secrets":
        return list(value)
    if name == "redirect_uris":
        return tuple(value)
    return value


@routes.get(f"{CONTROL_PREFIX}/limits")
async def show_limits(request: web.Request) -> web.Response:
    state = request.app[SANDBOX_STATE]
    return web.json_response(state.limits.to_json(state.config, state.now()))


@routes.get(f"{CONTROL_PREFIX}/faults")
async def list_faults(request: web.Request) -> web.Response:
    faults = request.app[SANDBOX_STATE].faults.pending()
    return web.json_response([fault.to_json() for fault in faults])


@routes.post(f"{CONTROL_PREFIX}/faults")
async def add_fault(request: web.Request) -> web.Response:
    body = await json_object(request)
    try:
        fault = Fault.from_json(body)
    except InvalidFault as problem:
        raise bad_request(str(problem)) from problem
    request.app[SANDBOX_STATE].faults.add(fault)
    return web.json_response(fault.to_json())


@routes.delete(f"{CONTROL_PREFIX}/faults")
async def clear_faults(request: web.Request) -> web.Response:
    return web.json_response({"cleared": request.app[SANDBOX_STATE].faults.clear()})


@routes.post(f"{CONTROL_PREFIX}/silence")
async def silence(request: web.Request) -> web.Response:
    body = await json_object(request)
    sub = body.get("sub")
    if not isinstance(sub, str) or not sub:
        raise bad_request("sub is required")
    silenced = request.app[SANDBOX_STATE].channels.silence(sub)
    return web.json_response({"silenced": silenced})


@routes.post(f"{CONTROL_PREFIX}/reset")
async def reset(request: web.Request) -> web.Response:
    await request.app[SANDBOX_PUSHER].cancel_background()
    request.app[SANDBOX_STATE].reset()
    return web.json_response({"reset": True})


@routes.get(f"{CONTROL_PREFIX}/pushes")
async def list_pushes(request: web.Request) -> web.Response:
    """Every push delivery attempt. `?wait=SECONDS` first waits (bounded) for background pushes,
    such as a new channel's verification, to be answered."""
    raw_wait = request.query.get("wait")
    if raw_wait is not None:
        try:
            wait = float(raw_wait)
        except ValueError:
            raise bad_request("wait must be a number of seconds") from None
        if not 0 <= wait <= MAX_WAIT_SECONDS:
            raise bad_request(f"wait must be between 0 and {MAX_WAIT_SECONDS:g} seconds")
        await request.app[SANDBOX_PUSHER].wait_for_background(wait)
    return web.json_response(request.app[SANDBOX_STATE].pushes.to_json())


@routes.delete(f"{CONTROL_PREFIX}/pushes")
async def clear_pushes(request: web.Request) -> web.Response:
    return web.json_response({"cleared": request.app[SANDBOX_STATE].pushes.clear()})


async def json_object(request: web.Request) -> dict[str, Any]:
    raw = await request.text()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as problem:
        raise bad_request(f"body is not JSON: {problem}") from problem
    if not isinstance(body, dict):
        raise bad_request("body must be a JSON object")
    return body


def bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")
