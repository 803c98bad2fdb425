"""The GraphQL endpoint: Strawberry's aiohttp view, extended only through its documented hooks.

- `get_context`: authenticates once per request and hands the services to the resolvers;
- `get_sub_response` and `process_result`: GraphQL over HTTP's media types, application/graphql-response+json
  (with its status codes) when the client asks for it, else application/json;
- `encode_json` / `decode_json`: orjson when installed; refuse JSON that is not an object or a list, or
  that holds a lone surrogate;
- `request_adapter_class`: media types compared case-insensitively;
- `should_render_graphql_ide`: not for a GET that names a persisted document (APQ over GET with
  `Accept: */*`, as Apollo Client 3 sends it); `render_graphql_ide`: GraphiQL from files this server
  serves (graphiql.py), never from a CDN;
- subscriptions over WebSockets (live.py): `graphql-transport-ws` only (the legacy `graphql-ws` protocol
  is not offered), `on_ws_connect` authenticates a socket, `create_websocket_response` adds a heartbeat and
  bounds messages, `is_websocket_origin_allowed` takes the CORS allow-list (and loopback pages in the
  development shape), `graphql_transport_ws_handler_class` reads persisted documents.

Persisted documents (documents.py) are the view's, one `PersistedDocuments` per process, handed to each
operation in the context with the `documentId`/`doc_id` the request named.

The HTTP rules around it (JSON-only bodies, CORS, request ids, the response's content type) are aiohttp
middleware: `gql_api/http/middleware.py`.
"""

from __future__ import annotations

import asyncio
import json
import re
import weakref
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from cross_web import AiohttpHTTPRequestAdapter
from strawberry.aiohttp.views import GraphQLView
from strawberry.http import GraphQLHTTPResponse
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from ..auth import AuthenticationError
from ..keys import AUTHENTICATOR, RUNTIME
from ..settings import Settings, is_loopback_host
from . import ide
from .context import Context
from .documents import DOCUMENT_ID_FIELDS, PERSISTED_QUERY_NOT_FOUND, PersistedDocuments, document_id_in
from .extensions.authentication import UNAUTHENTICATED
from .extensions.masking import INTERNAL_ERROR_CODE
from .limits import GraphQLLimits
from .live import SubscriptionHandler, open_session
from .schema import build_schema

try:  # the `speed` extra
    import orjson
except ImportError:  # pragma: no cover - exercised where orjson is absent
    orjson = None  # type: ignore[assignment]

JSON = "application/json"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
MEDIA_TYPE = web.RequestKey("graphql_media_type", str)  # negotiated from Accept, applied by the middleware
ANSWERED = web.RequestKey("graphql_answered", bool)  # the answer is a GraphQL result (middleware: leave it)
_SUB_RESPONSE = web.RequestKey("graphql_sub_response", web.Response)
_SURROGATE = re.compile("[\ud800-\udfff]")  # a decoded JSON string keeps one only when it was unpaired
CONNECTION_INIT_SECONDS = 10  # a socket must authenticate this soon (graphql-ws clients do at once), else 4408
MAX_MESSAGE_BYTES = 256 * 1024  # a subscribe message, as large as an HTTP request may be
GOING_AWAY = 1001  # sockets open when the server stops (graphql-ws clients connect again)


class RequestAdapter(AiohttpHTTPRequestAdapter):
    """Strawberry looks for "application/json" in the Content-Type as written, but media types are
    case-insensitive (RFC 9110 §8.3.1): `Application/JSON; charset=UTF-8` is JSON. Lowered here rather
    than by rewriting the request (`request.clone`): a clone would carry the request keys the access line
    reads no further, and re-encodes every header, which fails on bytes that were not UTF-8."""

    @property
    def content_type(self) -> str | None:
        content_type = super().content_type
        return content_type.lower() if content_type is not None else None


class AppGraphQLView(GraphQLView[Context, None]):
    request_adapter_class = RequestAdapter
    graphql_transport_ws_handler_class = SubscriptionHandler
    documents: PersistedDocuments | None = None  # from_settings sets this process's own
    development = False
    heartbeat_seconds = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> AppGraphQLView:
        """Everything configurable is decided here, once: the limits' rules, introspection, GraphiQL, and
        the persisted documents (a trusted manifest, or this process's APQ cache)."""
        view = cls(
            build_schema(GraphQLLimits.from_settings(settings), introspection=settings.graphql_introspection),
            graphql_ide="graphiql" if settings.graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=CONNECTION_INIT_SECONDS),
            # Strawberry's cap on a socket's operations in flight (tasks not yet admitted by ours, in services/
            # live.py): one above ours, so that ours answers, with its code.
            max_subscriptions_per_connection=settings.subscriptions_per_user + 1,
            allowed_origins=settings.cors_allowed_origins,
        )
        view.documents = PersistedDocuments.from_path(settings.graphql_trusted_documents)
        view.development = settings.development
        view.heartbeat_seconds = settings.websocket_heartbeat_seconds
        return view

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.websockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()

    # --- WebSockets (subscriptions) ---------------------------------------------------------------

    def is_websocket_origin_allowed(self, request: web.Request, origin: str) -> bool:
        """A page on another origin opens a socket only from CORS_ALLOWED_ORIGINS, as it calls over HTTP; in the
        development shape, a page on any loopback origin too (a SPA's dev server on localhost:3000)."""
        if super().is_websocket_origin_allowed(request, origin):
            return True
        try:
            host = urlsplit(origin).hostname
        except ValueError:
            return False
        return self.development and host is not None and is_loopback_host(host)

    async def create_websocket_response(self, request: web.Request, subprotocol: str | None) -> web.WebSocketResponse:
        """aiohttp's ping every WEBSOCKET_HEARTBEAT_SECONDS (proxies drop idle connections; a peer gone without a
        word is noticed), and messages no larger than an HTTP request's body."""
        websocket = web.WebSocketResponse(
            protocols=[subprotocol] if subprotocol else [],
            heartbeat=self.heartbeat_seconds or None,
            max_msg_size=MAX_MESSAGE_BYTES,
        )
        await websocket.prepare(request)
        self.websockets.add(websocket)
        return websocket

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        context.session = await open_session(context, context.request.app[AUTHENTICATOR], context.services.live)
        acknowledged: UnsetType = UNSET
        return acknowledged

    async def close_websockets(self, app: web.Application) -> None:
        """On shutdown: every open socket is told the server goes away (clients connect again, elsewhere)."""
        closing = [ws.close(code=GOING_AWAY, message=b"The server is shutting down.") for ws in list(self.websockets)]
        await asyncio.gather(*closing, return_exceptions=True)

    async def render_graphql_ide(self, request: web.Request) -> web.Response:
        html, headers = ide.page()
        return web.Response(text=html, content_type="text/html", headers=headers)

    def should_render_graphql_ide(self, request: Any) -> bool:
        params = request.query_params
        named = params.get("extensions") or any(params.get(name) for name in DOCUMENT_ID_FIELDS)
        return super().should_render_graphql_ide(request) and not named

    async def get_context(self, request: web.Request, response: web.StreamResponse) -> Context:
        user, auth_error = None, None
        try:
            user = request.app[AUTHENTICATOR].authenticate(request.headers.get("Authorization"))
        except AuthenticationError as error:
            auth_error = str(error)
        return Context(
            request=request,
            response=response,
            services=request.app[RUNTIME].services,
            user=user,
            auth_error=auth_error,
            documents=self.documents,
            # a socket's subscribe messages name their own documents (live.py)
            document_id=None if isinstance(response, web.WebSocketResponse) else await self._document_id(request),
        )

    async def _document_id(self, request: web.Request) -> object:
        """`documentId` (or Relay's `doc_id`) from the query string or the JSON body. The body was read
        already (middleware); it is decoded a second time only when it holds one of those names."""
        if request.method == "GET":
            return document_id_in(request.query)
        if not request.body_exists:
            return None
        body = await request.read()
        if not any(f'"{name}"'.encode() in body for name in DOCUMENT_ID_FIELDS):
            return None
        try:
            return document_id_in(self.decode_json(body))
        except json.JSONDecodeError:
            return None  # Strawberry answers it when it parses the body

    async def get_sub_response(self, request: web.Request) -> web.Response:
        response = web.Response()
        request[MEDIA_TYPE] = preferred_media_type(request.headers.get("Accept"))
        request[_SUB_RESPONSE] = response
        response.headers["Vary"] = "Accept"
        return response

    async def process_result(self, request: web.Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        """application/json: 200 for every well-formed GraphQL response (Strawberry's behaviour).
        application/graphql-response+json: the spec's status codes, and no `data` when nothing ran."""
        body = await super().process_result(request, result)
        request[ANSWERED] = True
        response = request.get(_SUB_RESPONSE)
        if request.get(MEDIA_TYPE) == GRAPHQL_RESPONSE_JSON and response is not None:
            status = graphql_response_status(body)
            if status != 200:
                body.pop("data", None)
                response.set_status(status)
            if status == 401:
                response.headers["WWW-Authenticate"] = "Bearer"
        return body

    def encode_json(self, data: object) -> str:
        """orjson when installed (about 3x faster on our payloads); a str either way, since bytes would
        go out as binary WebSocket frames (strawberry-graphql.md §1.2)."""
        if orjson is not None:
            return orjson.dumps(data).decode()
        return json.dumps(data, separators=(",", ":"))

    def decode_json(self, data: str | bytes) -> object:
        """Strawberry turns a JSONDecodeError into 400; anything else json.loads raises would be a 500:
        a RecursionError for deeply nested arrays, a ValueError for an integer of 5,000 digits or bytes
        that are not UTF-8. A body that is JSON but not an object (or a batch's list) is refused too, and
        so is one with a lone surrogate (`"\\ud800"`): JSON allows the escape, but the string is no
        Unicode text, and encoding it later (to MongoDB, to the response) would fail mid-operation."""
        try:
            parsed = json.loads(data)
        except (ValueError, RecursionError) as error:
            raise json.JSONDecodeError(f"not acceptable JSON ({type(error).__name__})", "", 0) from None
        if not isinstance(parsed, (dict, list)):
            raise json.JSONDecodeError("expected a JSON object", "", 0)
        if _holds_lone_surrogate(parsed):
            raise json.JSONDecodeError("a string holds a lone surrogate (\\ud800-\\udfff)", "", 0)
        return parsed


def _holds_lone_surrogate(value: object) -> bool:
    """Any string in the decoded JSON (keys too) with an unpaired surrogate; iterative, since json.loads
    accepts nesting deeper than a recursive walk would."""
    pending = [value]
    while pending:
        current = pending.pop()
        if isinstance(current, str):
            if _SURROGATE.search(current):
                return True
        elif isinstance(current, dict):
            pending.extend(current.keys())
            pending.extend(current.values())
        elif isinstance(current, list):
            pending.extend(current)
    return False


def preferred_media_type(accept: str | None) -> str:
    """application/graphql-response+json when the client names it with a quality at least that of
    application/json; application/json otherwise, including no Accept and */*."""
    if not accept:
        return JSON
    qualities: dict[str, float] = {}
    for part in accept.split(","):
        media_type, *parameters = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media_type = media_type.lower()
        qualities[media_type] = max(quality, qualities.get(media_type, 0.0))
    wanted = qualities.get(GRAPHQL_RESPONSE_JSON, 0.0)
    json_quality = qualities.get(JSON, max(qualities.get("application/*", 0.0), qualities.get("*/*", 0.0)))
    return GRAPHQL_RESPONSE_JSON if wanted > 0 and wanted >= json_quality else JSON


def graphql_response_status(body: Mapping[str, Any]) -> int:
    """GraphQL over HTTP, for application/graphql-response+json: 200 once execution ran (even when a
    field error nulled all data); 400 for a request that never ran (syntax, validation, limits,
    variables), 401 when it was refused for want of a valid token, 500 when it failed unexpectedly."""
    errors = body.get("errors") or []
    if body.get("data") is not None or not errors or any(error.get("path") for error in errors):
        return 200
    codes = {(error.get("extensions") or {}).get("code") for error in errors}
    if PERSISTED_QUERY_NOT_FOUND in codes:
        return 200  # as Apollo Server answers it: the APQ links read it as a GraphQL result, then send the query
    if INTERNAL_ERROR_CODE in codes:
        return 500
    if UNAUTHENTICATED in codes:
        return 401
    return 400
