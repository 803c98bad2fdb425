"""The GraphQL endpoint: Strawberry's aiohttp view with our context (auth happens here, once), and the
HTTP rules of /graphql: JSON bodies only, CORS for an allow-list of origins, and the media types of
GraphQL over HTTP (application/graphql-response+json with its status codes, or application/json)."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from aiohttp import web

try:  # the `speed` extra
    import orjson
except ImportError:  # pragma: no cover - exercised where orjson is absent
    orjson = None
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from multidict import CIMultiDict
from strawberry.aiohttp.views import GraphQLView
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type

from .auth import AuthenticationError, Authenticator
from .context import Context
from .graphql_limits import GraphQLLimits
from .schema import INTERNAL_ERROR_CODE, build_schema, request_id
from .services import Services
from .settings import Settings

SERVICES = web.AppKey("services", Services)
AUTHENTICATOR = web.AppKey("authenticator", Authenticator)

JSON = "application/json"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
CORS_METHODS = "GET, POST"
CORS_HEADERS = "Authorization, Content-Type"
CORS_EXPOSED_HEADERS = "X-Request-ID"
CORS_MAX_AGE = "600"

_MEDIA_TYPE = web.ResponseKey("graphql_media_type", str)


class AppGraphQLView(GraphQLView[Context, None]):
    def __init__(self, schema: Any, *, cors_allowed_origins: Collection[str] = (), **options: Any) -> None:
        super().__init__(schema, **options)
        self.cors_allowed_origins = frozenset(origin.lower() for origin in cors_allowed_origins)

    @classmethod
    def from_settings(cls, settings: Settings) -> AppGraphQLView:
        """Everything configurable is decided here, once: the limits' rules, introspection, GraphiQL, CORS."""
        return cls(
            build_schema(GraphQLLimits.from_settings(settings), introspection=settings.graphql_introspection),
            graphql_ide="graphiql" if settings.graphiql else None,
            cors_allowed_origins=settings.cors_allowed_origins,
        )

    async def get_context(self, request: web.Request, response: web.StreamResponse) -> Context:
        user, auth_error = None, None
        try:
            user = request.app[AUTHENTICATOR].authenticate(request.headers.get("Authorization"))
        except AuthenticationError as error:
            auth_error = str(error)
        return Context(request=request, response=response, services=request.app[SERVICES], user=user,
                       auth_error=auth_error)

    # --- HTTP ----------------------------------------------------------------------------------

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        request_id(request)
        origin = request.headers.get("Origin")
        if request.method == "OPTIONS":
            return self._options(request, origin)
        try:
            response = await super().__call__(request)
        except web.HTTPException as error:  # aiohttp's own, e.g. 413 for a body over client_max_size
            self._add_cors_headers(error.headers, origin)
            raise
        if not response.prepared:  # a WebSocket has sent its headers already
            self._add_cors_headers(response.headers, origin)
        return response

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData | list[GraphQLRequestData]:
        """POST bodies are JSON, nothing else: no forms, no multipart (the shapes of cross-site requests)."""
        if request.method == "POST":
            content_type, _ = parse_content_type(request.content_type or "")
            if not content_type:
                raise HTTPException(400, "Missing Content-Type: send the operation as application/json.")
            if content_type.lower() != JSON:
                raise HTTPException(415, "Unsupported Media Type: send the operation as application/json.")
        return await super().parse_http_body(request)

    def parse_json(self, data: str | bytes) -> Any:
        parsed = super().parse_json(data)
        if not isinstance(parsed, (dict, list)):  # Strawberry would fail on anything else with a 500
            raise HTTPException(400, "Expected a JSON object.")
        return parsed

    def encode_json(self, data: object) -> str:
        """orjson when installed (about 3x faster on our payloads); a str either way, since bytes would
        go out as binary WebSocket frames (strawberry-graphql.md §1.2)."""
        if orjson is not None:
            return orjson.dumps(data).decode()
        return super().encode_json(data)  # type: ignore[return-value]

    def decode_json(self, data: str | bytes) -> object:
        """Strawberry turns a JSONDecodeError into 400; anything else json.loads raises would be a 500:
        a RecursionError for deeply nested arrays, a ValueError for an integer of 5,000 digits or bytes
        that are not UTF-8."""
        try:
            return json.loads(data)
        except (ValueError, RecursionError) as error:
            raise json.JSONDecodeError(f"not acceptable JSON ({type(error).__name__})", "", 0) from None

    async def get_sub_response(self, request: web.Request) -> web.Response:
        response = web.Response()
        response[_MEDIA_TYPE] = preferred_media_type(request.headers.get("Accept"))
        response.headers["Vary"] = "Accept"
        return response

    def create_response(self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
                        sub_response: web.Response) -> web.Response:
        """application/json: 200 for every well-formed GraphQL response (Strawberry's behaviour).
        application/graphql-response+json: the spec's status codes, and no `data` when nothing ran."""
        media_type = sub_response.get(_MEDIA_TYPE, JSON)
        if media_type == GRAPHQL_RESPONSE_JSON and isinstance(response_data, dict):
            status = graphql_response_status(response_data)
            if status != 200:
                response_data.pop("data", None)
                sub_response.set_status(status)
            if status == 401:
                sub_response.headers["WWW-Authenticate"] = "Bearer"
        response = super().create_response(response_data, sub_response)
        response.content_type = media_type
        return response

    # --- CORS ----------------------------------------------------------------------------------

    def _origin_allowed(self, origin: str | None) -> bool:
        return origin is not None and origin.lower() in self.cors_allowed_origins

    def _add_cors_headers(self, headers: CIMultiDict[str], origin: str | None) -> None:
        _vary(headers, "Origin")
        if self._origin_allowed(origin):
            headers["Access-Control-Allow-Origin"] = origin  # type: ignore[assignment]
            headers["Access-Control-Expose-Headers"] = CORS_EXPOSED_HEADERS

    def _options(self, request: web.Request, origin: str | None) -> web.Response:
        """A CORS preflight for an allowed origin gets the methods and headers; any other gets 403."""
        if origin is None or "Access-Control-Request-Method" not in request.headers:
            return web.Response(status=204, headers={"Allow": "GET, POST, OPTIONS"})
        headers: CIMultiDict[str] = CIMultiDict()
        _vary(headers, "Origin")
        if not self._origin_allowed(origin):
            return web.Response(status=403, text="This origin may not call the API from a browser.", headers=headers)
        headers.update({
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": CORS_METHODS,
            "Access-Control-Allow-Headers": CORS_HEADERS,
            "Access-Control-Max-Age": CORS_MAX_AGE,
        })
        return web.Response(status=204, headers=headers)


def _vary(headers: CIMultiDict[str], name: str) -> None:
    present = [value.strip() for value in headers.get("Vary", "").split(",") if value.strip()]
    if name.lower() not in (value.lower() for value in present):
        headers["Vary"] = ", ".join([*present, name])


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
    if INTERNAL_ERROR_CODE in codes:
        return 500
    if "UNAUTHENTICATED" in codes:
        return 401
    return 400
