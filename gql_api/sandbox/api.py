"""Cronofy's `/v1` endpoints, called with a user's bearer access token."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from . import oauth, parse_channels, parse_events
from .problems import Errors
from .keys import SANDBOX_PUSHER, SANDBOX_STATE
from .state import (
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

EVENTS_PAGE_ROUTE = "cronofy_events_page"


def require_access_token(request: web.Request) -> IssuedToken:
    """The live access token of this request, or 401 with an empty body like Cronofy."""
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    issued = None
    if scheme.lower() == "bearer" and credential.strip():
        issued = request.app[SANDBOX_STATE].authenticate(credential.strip())
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


async def list_calendars(request: web.Request) -> web.Response:
    token = require_access_token(request)
    require_scope(token, "list_calendars")
    account = request.app[SANDBOX_STATE].accounts[token.sub]
    return web.json_response({"sub": account.sub, "calendars": account.calendars_json()})


# -- events ----------------------------------------------------------------------------


async def upsert_event(request: web.Request) -> web.Response:
    token = require_access_token(request)
    require_scope(token, "create_event")
    state = request.app[SANDBOX_STATE]
    require_connected(state.accounts[token.sub])
    account, calendar = _own_calendar(request, token)
    write, errors = parse_events.parse_upsert(await _json_body(request))
    if not calendar.writable:
        errors = {**parse_events.readonly_calendar_errors(), **errors}
    if errors:
        return _unprocessable(errors)
    assert write is not None
    state.upsert_event(account, calendar, write)
    return _accepted()


async def delete_event(request: web.Request) -> web.Response:
    token = require_access_token(request)
    require_scope(token, "delete_event")
    state = request.app[SANDBOX_STATE]
    require_connected(state.accounts[token.sub])
    account, calendar = _own_calendar(request, token)
    event_id, errors = parse_events.parse_delete(await _json_body(request))
    if errors:
        return _unprocessable(errors)
    assert event_id is not None
    state.delete_event(account, calendar, event_id)
    return _accepted()


async def read_events(request: web.Request) -> web.Response:
    token = require_access_token(request)
    only_managed = parse_events.only_managed_requested(request.query)
    _require_read_scope(token, only_managed)
    require_connected(request.app[SANDBOX_STATE].accounts[token.sub])
    query, errors = parse_events.parse_read_query(request.query)
    if errors:
        return _unprocessable(errors)
    assert query is not None
    state = request.app[SANDBOX_STATE]
    read = state.read_events(state.accounts[token.sub], query)
    return _events_page(request, read, 1)


async def read_events_page(request: web.Request) -> web.Response:
    token = require_access_token(request)
    found = request.app[SANDBOX_STATE].paged_read(request.match_info["page_token"], token.sub)
    if found is None:
        raise web.HTTPNotFound()
    read, number = found
    _require_read_scope(token, read.only_managed)
    require_connected(request.app[SANDBOX_STATE].accounts[token.sub])
    return _events_page(request, read, number)


def _require_read_scope(token: IssuedToken, only_managed: bool) -> None:
    # Reading only your own managed events needs no read_events (§3.2).
    if only_managed:
        require_scope(token, "read_events", "create_event")
    else:
        require_scope(token, "read_events")


def _events_page(request: web.Request, read: PagedRead, number: int) -> web.Response:
    pages: dict[str, Any] = {"current": number, "total": read.total_pages}
    if number < read.total_pages:
        page_token = request.app[SANDBOX_STATE].page_token(read, number + 1)
        # An absolute URL on the host and mount point this request came in on (§6.6): the
        # named route knows any sub-app prefix, the request its scheme and host.
        relative = request.app.router[EVENTS_PAGE_ROUTE].url_for(page_token=page_token)
        pages["next_page"] = str(request.url.join(relative))
    return web.json_response({"pages": pages, "events": read.page(number)})


# -- identity --------------------------------------------------------------------------


async def list_profiles(request: web.Request) -> web.Response:
    token = require_access_token(request)
    account = request.app[SANDBOX_STATE].accounts[token.sub]
    return web.json_response({"profiles": [account.profile_json(oauth.relink_url(request, account))]})


async def userinfo(request: web.Request) -> web.Response:
    token = require_access_token(request)
    account = request.app[SANDBOX_STATE].accounts[token.sub]
    return web.json_response(account.userinfo_json(token.scope_string, oauth.relink_url(request, account)))


# -- channels --------------------------------------------------------------------------


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
        channel, created = state.create_channel(account, wanted.callback_url, wanted.calendar_ids, wanted.only_managed)
    except TooManyChannels:
        return _unprocessable(parse_channels.too_many_channels_errors(MAX_CHANNELS))
    response = web.json_response({"channel": channel.to_json()})
    if created:
        # Cronofy verifies a new channel right after answering: send the answer first.
        await response.prepare(request)
        await response.write_eof()
        request.app[SANDBOX_PUSHER].deliver_later([Push(channel, Notification(VERIFICATION))])
    return response


async def list_channels(request: web.Request) -> web.Response:
    token = require_access_token(request)
    opened = request.app[SANDBOX_STATE].open_channels(token.sub)
    return web.json_response({"channels": [channel.to_json() for channel in opened]})


async def close_channel(request: web.Request) -> web.Response:
    token = require_access_token(request)
    if not request.app[SANDBOX_STATE].close_channel(token.sub, request.match_info["channel_id"]):
        raise web.HTTPNotFound()
    return _accepted()


def _own_calendar(request: web.Request, token: IssuedToken) -> tuple[Account, Calendar]:
    """The token's account and the calendar named in the path (already URL-decoded), or 404."""
    account = request.app[SANDBOX_STATE].accounts[token.sub]
    calendar = account.find_calendar(request.match_info["calendar_id"])
    if calendar is None:
        raise web.HTTPNotFound()
    return account, calendar


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
