"""`POST /webhooks/cronofy/{token}`: Cronofy's push notifications.

Checked in the order DESIGN.md §7 fixes: body size (413), signature (401, so nobody can probe for
tokens unsigned), the callback token (404), then parsing (400). Answered at once; the reading of
changes is queued in MongoDB and done in the background.
"""

from __future__ import annotations

import logging

from aiohttp import web

from .cronofy.push import SIGNATURE_HEADER, parse_notification, signature_valid
from .observability import Metrics
from .settings import Settings
from .view import SERVICES

log = logging.getLogger(__name__)

MAX_NOTIFICATION_BYTES = 64 * 1024  # real notifications are a few hundred bytes
WEBHOOK_ROUTE = "/webhooks/cronofy/{token}"
NOTIFICATION_TYPE = web.RequestKey("notification_type", str)


def cronofy_webhook(settings: Settings, metrics: Metrics):
    async def observed(request: web.Request) -> web.Response:
        response = await handle(request)
        metrics.webhook(request.get(NOTIFICATION_TYPE, "unparsed"), response.status)
        return response

    async def handle(request: web.Request) -> web.Response:
        if (request.content_length or 0) > MAX_NOTIFICATION_BYTES:
            return _answer(413, "too large")
        body = bytearray()  # the whole body, however it was chunked, but never more than the bound
        while chunk := await request.content.read(MAX_NOTIFICATION_BYTES + 1 - len(body)):
            body += chunk
            if len(body) > MAX_NOTIFICATION_BYTES:
                return _answer(413, "too large")
        body = bytes(body)
        if not signature_valid(request.headers.get(SIGNATURE_HEADER), body, settings.client_secret):
            log.warning("cronofy push refused: missing or wrong signature")
            return _answer(401, "bad signature")
        inbound = request.app[SERVICES].inbound
        connection = await inbound.connection_for(request.match_info["token"])
        if connection is None:
            return _answer(404, "unknown channel")
        try:
            notification = parse_notification(body)
        except ValueError:
            return _answer(400, "not a notification")
        request[NOTIFICATION_TYPE] = notification.type

        if notification.type == "change":
            await inbound.changed(connection, since=notification.changes_since)
            return _answer(202, "queued")
        if notification.type == "profile_disconnected":
            await inbound.disconnected(connection)
            return _answer(202, "noted")
        log.info("cronofy push %r for connection %s acknowledged", notification.type, connection.id)
        return _answer(200, "ok")  # verification, and types we do not act on

    return observed


def _answer(status: int, message: str) -> web.Response:
    return web.json_response({"status": message}, status=status)
