"""HTTP rules around the handlers: a request id on every request, loopback Host names only in development,
a bounded time to send a body, and for /graphql JSON-only bodies, CORS for an allow-list of origins, the
negotiated GraphQL-over-HTTP media type on the answer, and GraphQL-shaped bodies for every error answer."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware
from multidict import CIMultiDict

from ..graphql.view import ANSWERED, JSON, MEDIA_TYPE, preferred_media_type
from ..keys import REQUEST_ID
from ..observability.logging import request_id_var
from ..settings import is_loopback_host

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

REQUEST_ID_HEADER = "X-Request-ID"
GRAPHQL_PATH = "/graphql"
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
CORS_METHODS = "GET, POST"
CORS_HEADERS = "Authorization, Content-Type"
CORS_EXPOSED_HEADERS = REQUEST_ID_HEADER
CORS_MAX_AGE = "600"
# HTTP errors of /graphql as GraphQL error codes (`extensions.code`), for clients that branch on codes.
HTTP_ERROR_CODES = {
    400: "BAD_REQUEST",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    408: "REQUEST_TIMEOUT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    421: "MISDIRECTED_REQUEST",
}
# Strawberry's own refusals that deserve a code (and words) of their own.
BATCHING_NOT_SUPPORTED = "BATCHING_NOT_SUPPORTED"
_STRAWBERRY_REASONS = {
    "Batching is not enabled": (
        BATCHING_NOT_SUPPORTED,
        "Batched requests (a JSON array of operations) are not supported: send one operation per request.",
    ),
}


@web.middleware
async def request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every request gets an id (a well-formed incoming X-Request-ID is kept), echoed in the answer and
    bound for every log line written while serving it."""
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    request[REQUEST_ID] = incoming if _CLIENT_REQUEST_ID.match(incoming) else uuid.uuid4().hex
    token = request_id_var.set(request[REQUEST_ID])
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers[REQUEST_ID_HEADER] = request[REQUEST_ID]
        raise
    finally:
        request_id_var.reset(token)
    response.headers[REQUEST_ID_HEADER] = request[REQUEST_ID]
    return response


@web.middleware
async def graphql_error_bodies(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error answer of /graphql has a GraphQL body, `{"errors": [{"message", "extensions": {"code"}}]}`,
    in the negotiated media type: Strawberry's own 4xx (batching, no query, a mutation over GET, bad JSON)
    and those of the rules around it (content type, body size, Host, CORS preflight) are plain text, which
    GraphQL clients (Apollo's links, urql) cannot show. Answers the view made from a GraphQL result
    (`ANSWERED`) are left alone. Sits inside `request_ids` and outside every other rule."""
    if request.path != GRAPHQL_PATH:
        return await handler(request)
    try:
        response = await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return _graphql_error(request, error.status, error.text or error.reason, error.headers)
    if (
        response.status >= 400
        and not response.prepared
        and isinstance(response, web.Response)
        and not request.get(ANSWERED)
    ):
        return _graphql_error(request, response.status, response.text or response.reason, response.headers)
    return response


def graphql_error_body(status: int, message: str) -> str:
    code, message = _STRAWBERRY_REASONS.get(message.strip(), (HTTP_ERROR_CODES.get(status, "BAD_REQUEST"), message))
    return json.dumps({"errors": [{"message": message.strip(), "extensions": {"code": code}}]})


def _graphql_error(request: web.Request, status: int, message: str, headers: Any) -> web.Response:
    answer = web.Response(
        status=status,
        text=graphql_error_body(status, message),
        content_type=request.get(MEDIA_TYPE) or preferred_media_type(request.headers.get("Accept")),
    )
    for name, value in headers.items():
        if name.lower() not in ("content-type", "content-length"):
            answer.headers.add(name, value)
    return answer


@web.middleware
async def loopback_hosts_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Development only: answer only requests addressed to this machine by a loopback name or address
    (any port). A page on any web site can point a name of its own at 127.0.0.1 (DNS rebinding) and so
    reach the dev server, with its open sandbox and dev auth, as a same-origin page; its requests carry
    that name in Host. 421 Misdirected Request says "not the server for this authority", which is
    exactly it (a 403 would suggest that credentials could help)."""
    if not _loopback_authority(request.headers.get("Host", "")):
        log.info("refused a request for a non-loopback Host in development (DNS rebinding?)")
        return web.Response(
            status=421,
            text="Misdirected Request: the development server answers only to localhost, 127.0.0.1 and [::1].",
        )
    return await handler(request)


def _loopback_authority(authority: str) -> bool:
    """A Host header (`name`, `name:port`, `[v6]`, `[v6]:port`) naming a loopback host."""
    if authority.startswith("["):
        inside, bracket, rest = authority[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return False
        host, port = inside, rest[1:]
    else:
        host, _, port = authority.partition(":")
    if port and not (port.isascii() and port.isdigit()):
        return False
    return is_loopback_host(host)


def bodies_read_in_time(seconds: float) -> Middleware:
    """A request's body is read here, whole, within `seconds` (REQUEST_BODY_TIMEOUT_SECONDS); handlers then
    read the cached body. A client that trickles its body (or sends less than its Content-Length) would
    otherwise hold a connection and a handler as long as it likes: it gets 408 and the connection is
    closed. The size bound (413) is the app's client_max_size, applied by the same read."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.body_exists:
            try:
                async with asyncio.timeout(seconds):
                    await request.read()
            except TimeoutError:
                log.info("request body not received within %gs: 408", seconds)
                return await _timed_out(request)
        return await handler(request)

    return middleware


async def _timed_out(request: web.Request) -> web.StreamResponse:
    """408, sent at once, then the connection closed. Left to aiohttp, a response to a request whose
    body is unread is followed by up to 10 s of "lingering" (reading the rest of the body, so the client
    can read the answer): exactly what the slow client wants. All it sent is read already, so closing
    sends the answer and a FIN."""
    message = "Request Timeout: the request body did not arrive in time."
    if request.path == GRAPHQL_PATH:  # sent from here, past graphql_error_bodies
        response = web.Response(status=408, text=graphql_error_body(408, message), content_type=JSON)
    else:
        response = web.Response(status=408, text=message)
    if REQUEST_ID in request:  # sent from here, before request_ids could add it on the way out
        response.headers[REQUEST_ID_HEADER] = request[REQUEST_ID]
    response.force_close()
    await response.prepare(request)
    await response.write_eof()
    if request.transport is not None:
        request.transport.close()
    return response


@web.middleware
async def json_bodies_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """POST bodies to /graphql are JSON, nothing else: no forms, no multipart (the shapes of cross-site
    requests). Media types are case-insensitive."""
    if request.path == GRAPHQL_PATH and request.method == "POST":
        if not request.headers.get("Content-Type", "").strip():
            return web.Response(status=400, text="Missing Content-Type: send the operation as application/json.")
        if request.content_type.lower() != JSON:
            return web.Response(status=415, text="Unsupported Media Type: send the operation as application/json.")
    return await handler(request)


@web.middleware
async def graphql_media_type(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A GraphQL result of /graphql in the media type the view negotiated from Accept (only a result: the
    GraphiQL page stays text/html, and error bodies get theirs from graphql_error_bodies)."""
    response = await handler(request)
    media_type = request.get(MEDIA_TYPE)
    answered = request.get(ANSWERED)
    if (
        media_type
        and answered
        and request.path == GRAPHQL_PATH
        and not response.prepared
        and isinstance(response, web.Response)
    ):
        response.content_type = media_type
    return response


def cors(allowed_origins: Collection[str]) -> Middleware:
    """CORS for /graphql: browsers on an allowed origin may call it (with the Authorization header, no
    cookies); a preflight from any other origin gets 403.

    Never `Access-Control-Allow-Credentials`, deliberately: the API authenticates by the bearer token in
    the Authorization header and never reads a cookie, so credentials could only add ambient authority
    (CSRF) and nothing a client needs. A page whose client sends `credentials: 'include'` is refused the
    answer by its browser; it should send the default `same-origin` (or `omit`)."""
    allowed = frozenset(origin.lower() for origin in allowed_origins)

    def allowed_origin(origin: str | None) -> bool:
        return origin is not None and origin.lower() in allowed

    def add_headers(headers: CIMultiDict[str], origin: str | None) -> None:
        _vary(headers, "Origin")
        if origin is not None and allowed_origin(origin):
            headers["Access-Control-Allow-Origin"] = origin
            headers["Access-Control-Expose-Headers"] = CORS_EXPOSED_HEADERS

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != GRAPHQL_PATH:
            return await handler(request)
        origin = request.headers.get("Origin")
        if request.method == "OPTIONS":
            return _preflight(request, origin, allowed_origin(origin))
        try:
            response = await handler(request)
        except web.HTTPException as error:  # aiohttp's own, e.g. 413 for a body over client_max_size
            add_headers(error.headers, origin)
            raise
        if not response.prepared:  # a WebSocket has sent its headers already
            add_headers(response.headers, origin)
        return response

    return middleware


def _preflight(request: web.Request, origin: str | None, allowed: bool) -> web.Response:
    """A CORS preflight for an allowed origin gets the methods and headers; any other gets 403."""
    if origin is None or "Access-Control-Request-Method" not in request.headers:
        return web.Response(status=204, headers={"Allow": "GET, POST, OPTIONS"})
    headers: CIMultiDict[str] = CIMultiDict()
    _vary(headers, "Origin")
    if not allowed:
        return web.Response(status=403, text="This origin may not call the API from a browser.", headers=headers)
    headers.update(
        {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": CORS_METHODS,
            "Access-Control-Allow-Headers": CORS_HEADERS,
            "Access-Control-Max-Age": CORS_MAX_AGE,
        }
    )
    return web.Response(status=204, headers=headers)


def _vary(headers: Any, name: str) -> None:
    present = [value.strip() for value in headers.get("Vary", "").split(",") if value.strip()]
    if name.lower() not in (value.lower() for value in present):
        headers["Vary"] = ", ".join([*present, name])
