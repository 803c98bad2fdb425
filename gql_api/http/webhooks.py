"""`POST /webhooks/cronofy/{token}`: Cronofy's push notifications.

Checked in the order DESIGN.md §7 fixes: body size (413), signature (401, so nobody can probe for
tokens unsigned), the callback token (404), then parsing (400). Answered at once; the reading of
changes is queued in MongoDB and done in the background.
"""

from __future__ import annotations

import logging

from aiohttp import web

from ..cronofy.push import SIGNATURE_HEADER, parse_notification, signature_valid
from ..keys import METRICS, NOTIFICATION_TYPE, RUNTIME, SETTINGS
from ..settings import WEBHOOK_PATH

log = logging.getLogger(__name__)

MAX_NOTIFICATION_BYTES = 64 * 1024  # real notifications are a few hundred bytes
WEBHOOK_ROUTE = WEBHOOK_PATH + "{token}"


async def cronofy_webhook(request: web.Request) -> web.Response:
    response = await _handle(request)
    request.app[METRICS].webhook(request.get(NOTIFICATION_TYPE, "unparsed"), response.status)
    return response


async def _handle(request: web.Request) -> web.Response:
    if (request.content_length or 0) > MAX_NOTIFICATION_BYTES:
        return _answer(413, "too large")
    # Read whole by the middleware (http/middleware.py bodies_read_in_time), in bounded time and within
    # the app's client_max_size; a chunked body has no Content-Length to refuse it by, so measure it here.
    body = await request.read()
    if len(body) > MAX_NOTIFICATION_BYTES:
        return _answer(413, "too large")
    if not signature_valid(request.headers.get(SIGNATURE_HEADER), body, request.app[SETTINGS].client_secret):
        log.warning("cronofy push refused: missing or wrong signature")
        return _answer(401, "bad signature")
    changes = request.app[RUNTIME].services.changes
    connection = await changes.connection_for(request.match_info["token"])
    if connection is None:
        return _answer(404, "unknown channel")
    try:
        notification = parse_notification(body)
    except ValueError:
        return _answer(400, "not a notification")
    request[NOTIFICATION_TYPE] = notification.type

    if notification.type == "change":
        await changes.changed(connection, since=notification.changes_since)
        return _answer(202, "queued")
    if notification.type == "profile_disconnected":
        changes.disconnected(connection)
        return _answer(202, "noted")
    log.info("cronofy push %r for connection %s acknowledged", notification.type, connection.id)
    return _answer(200, "ok")  # verification, and types we do not act on


def _answer(status: int, message: str) -> web.Response:
    return web.json_response({"status": message}, status=status)
