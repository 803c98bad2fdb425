"""The control API's `act/...` endpoints: play the user in their calendar, and push like Cronofy.

Each answers once the pushes it caused have been delivered (or have failed), with their
delivery records: `{"pushes": [...], ...}`. An unknown calendar, event, attendee, account or
channel is 404; acting on a deleted event is 409; a malformed body is 400.

    POST /_control/act/move        {"calendar_id", "event_id", "start", "end"}
    POST /_control/act/edit        {"calendar_id", "event_id", "summary"?, "description"?, "location"?}
    POST /_control/act/delete      {"calendar_id", "event_id"}
    POST /_control/act/respond     {"calendar_id", "event_id", "email", "status"}
    POST /_control/act/disconnect  {"sub"}
    POST /_control/push            {"channel_id", "type", "changes_since"?}

`event_id` is the app's id of a managed event, or the `event_uid` of any event (the only id an
external one has); `event_uid` may be given instead.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from typing import Any

from aiohttp import web

from . import parse_events, times
from .calendars import User
from .control import CONTROL_PREFIX, bad_request, json_object
from .keys import SANDBOX_PUSHER, SANDBOX_STATE
from .model import Conflict, Event, NotFound, Notification, Push
from .render import control_event_json, time_json

RESPONSES = ("accepted", "declined", "tentative", "needs_action")

Handler = Callable[[web.Request], Awaitable[web.Response]]

routes = web.RouteTableDef()


def _answering_lookups(handler: Handler) -> Handler:
    """404 for an unknown calendar, event, attendee, account or channel; 409 for a deleted event.

    Answered, not raised: the sandbox's 404 middleware would replace the message.
    """

    @functools.wraps(handler)
    async def answering(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except NotFound as missing:
            return web.json_response({"error": str(missing)}, status=404)
        except Conflict as conflict:
            return web.json_response({"error": str(conflict)}, status=409)

    return answering


@routes.post(f"{CONTROL_PREFIX}/act/move")
@_answering_lookups
async def move(request: web.Request) -> web.Response:
    body = await json_object(request)
    calendar_id, event_ref = _event_ref(body)
    start, start_tzid = _time(body, "start")
    end, _ = _time(body, "end")
    if start.all_day != end.all_day:
        raise bad_request("start and end must both be times or both be dates")
    if end.value < start.value or (end.all_day and end.value == start.value):
        raise bad_request("end must not be before start (and an all-day end date is exclusive)")
    return await _acted(request, lambda user: user.move(calendar_id, event_ref, start, end, start_tzid))


@routes.post(f"{CONTROL_PREFIX}/act/edit")
@_answering_lookups
async def edit(request: web.Request) -> web.Response:
    body = await json_object(request)
    calendar_id, event_ref = _event_ref(body)
    summary = body.get("summary")
    if summary is not None and (not isinstance(summary, str) or not summary or len(summary) > parse_events.MAX_SUMMARY):
        raise bad_request(f"summary must be a non-empty string of at most {parse_events.MAX_SUMMARY} characters")
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        raise bad_request("description must be a string")
    location = _location(body)
    if summary is None and description is None and location is None:
        raise bad_request("give at least one of summary, description and location")
    return await _acted(
        request,
        lambda user: user.edit(calendar_id, event_ref, summary=summary, description=description, location=location),
    )


@routes.post(f"{CONTROL_PREFIX}/act/delete")
@_answering_lookups
async def delete(request: web.Request) -> web.Response:
    body = await json_object(request)
    calendar_id, event_ref = _event_ref(body)
    return await _acted(request, lambda user: user.delete(calendar_id, event_ref))


@routes.post(f"{CONTROL_PREFIX}/act/respond")
@_answering_lookups
async def respond(request: web.Request) -> web.Response:
    body = await json_object(request)
    calendar_id, event_ref = _event_ref(body)
    email, status = body.get("email"), body.get("status")
    if not isinstance(email, str) or not email:
        raise bad_request("email is required")
    if status not in RESPONSES:
        raise bad_request(f"status must be one of {', '.join(RESPONSES)}")
    return await _acted(request, lambda user: user.respond(calendar_id, event_ref, email, status))


@routes.post(f"{CONTROL_PREFIX}/act/disconnect")
@_answering_lookups
async def disconnect(request: web.Request) -> web.Response:
    body = await json_object(request)
    sub = body.get("sub")
    if not isinstance(sub, str) or not sub:
        raise bad_request("sub is required")
    return await _answer(request, request.app[SANDBOX_STATE].user.disconnect(sub))


@routes.post(f"{CONTROL_PREFIX}/push")
@_answering_lookups
async def push(request: web.Request) -> web.Response:
    """Send any notification to one channel, e.g. `profile_initial_sync_completed` or a new type."""
    body = await json_object(request)
    channel_id, kind, changes_since = body.get("channel_id"), body.get("type"), body.get("changes_since")
    if not isinstance(channel_id, str) or not channel_id:
        raise bad_request("channel_id is required")
    if not isinstance(kind, str) or not kind:
        raise bad_request("type is required")
    if changes_since is not None and not isinstance(changes_since, str):
        raise bad_request("changes_since must be a string (a Time such as 2026-08-25T20:06:29Z)")
    state = request.app[SANDBOX_STATE]
    channel = state.channels.find(channel_id)
    if kind == "change" and changes_since is None:
        changes_since = time_json(state.now())
    return await _answer(request, [Push(channel, Notification(kind, changes_since))])


# -- shared ------------------------------------------------------------------------------


async def _acted(request: web.Request, act: Callable[[User], tuple[Event, list[Push]]]) -> web.Response:
    state = request.app[SANDBOX_STATE]
    event, pushes = act(state.user)
    account, _ = state.accounts.find_calendar(event.calendar_id)
    return await _answer(request, pushes, event=control_event_json(account, event))


async def _answer(request: web.Request, pushes: Sequence[Push], **shown: Any) -> web.Response:
    """Deliver the pushes, then answer with their delivery records (and whatever else is `shown`)."""
    records = await request.app[SANDBOX_PUSHER].deliver(pushes)
    return web.json_response({"pushes": [asdict(record) for record in records], **shown})


def _event_ref(body: dict[str, Any]) -> tuple[str, str]:
    calendar_id = body.get("calendar_id")
    event_ref = body.get("event_id", body.get("event_uid"))
    if not isinstance(calendar_id, str) or not calendar_id:
        raise bad_request("calendar_id is required")
    if not isinstance(event_ref, str) or not event_ref:
        raise bad_request("event_id (or event_uid) is required")
    return calendar_id, event_ref


def _time(body: dict[str, Any], name: str) -> tuple[times.EventTime, str | None]:
    if body.get(name) is None:
        raise bad_request(f"{name} is required")
    parsed, tzid, problem = times.parse_event_time(body[name])
    if parsed is None:
        raise bad_request(f"{name}: {problem[1] if problem else 'invalid'}")
    return parsed, tzid


def _location(body: dict[str, Any]) -> dict[str, str] | None:
    if "location" not in body:
        return None
    location = body["location"]
    if location is None:
        return {}
    if isinstance(location, str):
        return {"description": location}
    if isinstance(location, dict) and all(
        isinstance(location[part], str) for part in ("description", "lat", "long") if part in location
    ):
        return {part: location[part] for part in ("description", "lat", "long") if part in location}
    raise bad_request('location must be a string, {"description": ...} or null')
