"""Cronofy's `/v1` endpoints, called with a user's bearer access token.

GET    /v1/profiles, /v1/userinfo, /v1/calendars
POST   /v1/calendars/{calendar_id}/events     upsert the app's event (202)
DELETE /v1/calendars/{calendar_id}/events     delete the app's event (202)
GET    /v1/events                             read events; `next_page` links to /v1/events/pages/{token}
POST   /v1/channels, GET /v1/channels, DELETE /v1/channels/{channel_id}
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from . import consent, parse_channels, parse_events
from .keys import SANDBOX_PUSHER, SANDBOX_STATE
from .model import (
    MAX_CHANNELS,
    VERIFICATION,
    Account,
    Calendar,
    IssuedToken,
    Notification,
    PagedRead,
    Push,
    TooManyChannels,
    grants_scope,
)
from .problems import Errors
from .render import calendars_json, channel_json, profile_json, userinfo_json
from .state import SandboxState

EVENTS_PAGE_ROUTE = "cronofy_events_page"

routes = web.RouteTableDef()


def require_access_token(request: web.Request) -> IssuedToken:
    """The live access token of this request, or 401 with an empty body like Cronofy."""
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    issued = None
    if scheme.lower() == "bearer" and credential.strip():
        issued = request.app[SANDBOX_STATE].tokens.authenticate(credential.strip())
    if issued is None:
        raise web.HTTPUnauthorized(text="", headers={"WWW-Authenticate": "Bearer"})
    return issued


def require_scope(token: IssuedToken, scope: str, *alternatives: str) -> None:
    """403 when the token was granted none of these scopes (implied scopes count)."""
    if not any(grants_scope(token.scope, needed) for needed in (scope, *alternatives)):
        raise web.HTTPForbidden(text="")


class HTTPLocked(web.HTTPClientError):
    status_code = 423  # aiohttp has no class for it


def require_connected(account: Account) -> None:
    """423 Locked while the account's profile is disconnected: Cronofy has no valid credentials."""
    if not account.connected:
        raise HTTPLocked(text="")


@routes.get("/v1/calendars")
async def list_calendars(request: web.Request) -> web.Response:
    token = require_access_token(request)
    require_scope(token, "list_calendars")
    account = request.app[SANDBOX_STATE].accounts[token.sub]
    return web.json_response({"sub": account.sub, "calendars": calendars_json(account)})


# -- events ----------------------------------------------------------------------------


@routes.post("/v1/calendars/{calendar_id}/events")
async def upsert_event(request: web.Request) -> web.Response:
    state, account, calendar, body = await _calendar_write(request, "create_event")
    write, errors = parse_events.parse_upsert(body)
    if not calendar.writable:
        errors = {**parse_events.readonly_calendar_errors(), **errors}
    if errors:
        return _unprocessable(errors)
    assert write is not None
    state.calendars.upsert(account, calendar, write)
    return _accepted()


@routes.delete("/v1/calendars/{calendar_id}/events")
async def delete_event(request: web.Request) -> web.Response:
    state, account, calendar, body = await _calendar_write(request, "delete_event")
    event_id, errors = parse_events.parse_delete(body)
    if errors:
        return _unprocessable(errors)
    assert event_id is not None
    state.calendars.delete(account, calendar, event_id)
    return _accepted()


async def _calendar_write(request: web.Request, scope: str) -> tuple[SandboxState, Account, Calendar, Any]:
    """For a write to the calendar in the path: the state, the token's account, the calendar, the body.

    401 without a live access token, 403 without `scope`, 423 while disconnected, 404 for a
    calendar that is not the account's; the body is not read before all that passed.
    """
    token = require_access_token(request)
    require_scope(token, scope)
    state = request.app[SANDBOX_STATE]
    account = _connected_account(state, token)
    calendar = account.find_calendar(request.match_info["calendar_id"])  # already URL-decoded
    if calendar is None:
        raise web.HTTPNotFound()
    return state, account, calendar, await _json_body(request)


@routes.get("/v1/events")
async def read_events(request: web.Request) -> web.Response:
    token = require_access_token(request)
    _require_read_scope(token, parse_events.only_managed_requested(request.query))
    state = request.app[SANDBOX_STATE]
    account = _connected_account(state, token)
    query, errors = parse_events.parse_read_query(request.query)
    if errors:
        return _unprocessable(errors)
    assert query is not None
    return _events_page(request, state.calendars.read(account, query), 1)


@routes.get("/v1/events/pages/{page_token}", name=EVENTS_PAGE_ROUTE)
async def read_events_page(request: web.Request) -> web.Response:
    token = require_access_token(request)
    state = request.app[SANDBOX_STATE]
    found = state.pages.recall(request.match_info["page_token"], token.sub)
    if found is None:
        raise web.HTTPNotFound()
    read, number = found
    _require_read_scope(token, read.only_managed)
    _connected_account(state, token)
    return _events_page(request, read, number)


def _connected_account(state: SandboxState, token: IssuedToken) -> Account:
    account = state.accounts[token.sub]
    require_connected(account)
    return account


def _require_read_scope(token: IssuedToken, only_managed: bool) -> None:
    # Reading only your own managed events needs no read_events (§3.2).
    if only_managed:
        require_scope(token, "read_events", "create_event")
    else:
        require_scope(token, "read_events")


def _events_page(request: web.Request, read: PagedRead, number: int) -> web.Response:
    pages: dict[str, Any] = {"current": number, "total": read.total_pages}
    if number < read.total_pages:
        page_token = request.app[SANDBOX_STATE].pages.remember(read, number + 1)
        # An absolute URL on the host and mount point this request came in on (§6.6): the
        # named route knows any sub-app prefix, the request its scheme and host.
        relative = request.app.router[EVENTS_PAGE_ROUTE].url_for(page_token=page_token)
        pages["next_page"] = str(request.url.join(relative))
    return web.json_response({"pages": pages, "events": read.page(number)})


# -- identity --------------------------------------------------------------------------


@routes.get("/v1/profiles")
async def list_profiles(request: web.Request) -> web.Response:
    token = require_access_token(request)
    account = request.app[SANDBOX_STATE].accounts[token.sub]
    return web.json_response({"profiles": [profile_json(account, consent.relink_url(request, account))]})


@routes.get("/v1/userinfo")
async def userinfo(request: web.Request) -> web.Response:
    token = require_access_token(request)
    account = request.app[SANDBOX_STATE].accounts[token.sub]
    return web.json_response(userinfo_json(account, token.scope_string, consent.relink_url(request, account)))


# -- channels --------------------------------------------------------------------------


@routes.post("/v1/channels")
async def create_channel(request: web.Request) -> web.StreamResponse:
    token = require_access_token(request)
    body = await _json_body(request)
    # Only managed events' changes need no read_events (§3.2), like reading them.
    _require_read_scope(token, parse_channels.only_managed_requested(body))
    state = request.app[SANDBOX_STATE]
    account = state.accounts[token.sub]
    wanted, errors = parse_channels.parse_channel(body, {c.calendar_id for c in account.calendars})
    if errors:
        return _unprocessable(errors)
    assert wanted is not None
    try:
        channel, created = state.channels.create(
            account.sub, wanted.callback_url, wanted.calendar_ids, wanted.only_managed
        )
    except TooManyChannels:
        return _unprocessable(parse_channels.too_many_channels_errors(MAX_CHANNELS))
    response = web.json_response({"channel": channel_json(channel)})
    if created:
        # Cronofy verifies a new channel right after answering: send the answer first.
        await response.prepare(request)
        await response.write_eof()
        request.app[SANDBOX_PUSHER].deliver_later([Push(channel, Notification(VERIFICATION))])
    return response


@routes.get("/v1/channels")
async def list_channels(request: web.Request) -> web.Response:
    token = require_access_token(request)
    opened = request.app[SANDBOX_STATE].channels.of(token.sub)
    return web.json_response({"channels": [channel_json(channel) for channel in opened]})


@routes.delete("/v1/channels/{channel_id}")
async def close_channel(request: web.Request) -> web.Response:
    token = require_access_token(request)
    if not request.app[SANDBOX_STATE].channels.close(token.sub, request.match_info["channel_id"]):
        raise web.HTTPNotFound()
    return _accepted()


async def _json_body(request: web.Request) -> Any:
    """The JSON body, or None when it is missing or not JSON (the parsers then say so)."""
    try:
        return json.loads(await request.text())
    except (ValueError, UnicodeDecodeError):
        return None


def _accepted() -> web.Response:
    # Cronofy answers upserts and deletes with 202 and no body at all.
    return web.Response(status=202)


def _unprocessable(errors: Errors) -> web.Response:
    return web.json_response({"errors": errors}, status=422)
