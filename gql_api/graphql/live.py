"""GraphQL subscriptions over WebSockets (`graphql-transport-ws`, at /graphql): who is on a socket, for how
long, what a socket may run, and the subscriptions' async iterators.

- **Authentication** comes in `connection_init`'s payload, as Apollo's and urql's examples send it:
  `{"Authorization": "Bearer <token>"}` (any letter case), `{"token": "<token>"}` or `{"authToken": ...}`,
  `{"headers": {"Authorization": ...}}`; else the handshake's own `Authorization` header (non-browser
  clients). A missing or refused token closes the socket with 4403 and the reason; so does the token's
  expiry, at the moment HTTP would refuse it too (its `exp`, or `iat` + AUTH_JWT_MAX_AGE_SECONDS, plus the
  same 30 s of clock skew).
- **Limits**: a socket counts against SUBSCRIPTIONS_PER_USER and SUBSCRIPTIONS_PER_PROCESS from its
  `connection_init` (beyond the user's: closed with 1008, policy violation; beyond the process's: 1013, try
  again later), and so does each subscription (beyond: an `error` for that subscription, code
  SUBSCRIPTION_LIMIT_REACHED).
- **Documents**: a subscribe message may name a persisted document (`documentId`, Relay's `doc_id`, or
  `extensions.persistedQuery`) like an HTTP request; with GRAPHQL_TRUSTED_DOCUMENTS only the manifest's run.
  Only subscriptions run over a socket: queries and mutations go over HTTP, with its limits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

from graphql import GraphQLError
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage

from ..auth import AuthenticationError, Authenticator
from ..domain.identity import User
from ..services.live import LiveUpdates, Socket, SubscriptionLimitReached, Watch
from .context import Context, Info
from .documents import BAD_REQUEST, Refused, document_id_in

log = logging.getLogger(__name__)

T = TypeVar("T")
U = TypeVar("U")

FORBIDDEN = 4403  # graphql-transport-ws: the server refuses the connection (graphql-ws clients retry it)
POLICY_VIOLATION = 1008  # this user's sockets are at their limit (graphql-ws clients do not retry it)
TRY_AGAIN_LATER = 1013  # this process is full: another may not be (graphql-ws clients retry it)
SUBSCRIPTION_LIMIT_REACHED = "SUBSCRIPTION_LIMIT_REACHED"
TOKEN_KEYS = ("token", "authtoken", "accesstoken")
NO_TOKEN = 'Authentication required: send {"Authorization": "Bearer <token>"} in connection_init\'s payload.'


def authorization_in(params: object) -> str | None:
    """The `Authorization` value a connection_init payload carries, as `Bearer <token>`; None if none."""
    if not isinstance(params, Mapping):
        return None
    lowered = {str(key).lower(): value for key, value in params.items()}
    value = lowered.get("authorization")
    if value is None:
        value = next((lowered[key] for key in TOKEN_KEYS if lowered.get(key) is not None), None)
        if isinstance(value, str) and not value.lower().startswith("bearer "):
            value = f"Bearer {value}"
    if value is None and isinstance(lowered.get("headers"), Mapping):
        return authorization_in(lowered["headers"])
    return value if isinstance(value, str) else None


class SocketSession:
    """What the view knows of one authenticated socket: its place in the limits and the token's expiry."""

    def __init__(self, socket: Socket) -> None:
        self.socket = socket
        self.expiry: asyncio.TimerHandle | None = None
        self.closing: asyncio.Future[None] | None = None

    def end(self) -> None:
        if self.expiry is not None:
            self.expiry.cancel()
        self.socket.end()


async def open_session(context: Context, authenticator: Authenticator, live: LiveUpdates) -> SocketSession:
    """Authenticate a socket's connection_init and count it; on refusal, close it with its code and reason,
    then raise ConnectionRejectionError (Strawberry would close it with 4403 "Forbidden", were it still open)."""
    websocket = context.response
    authorization = authorization_in(context.connection_params) or context.request.headers.get("Authorization")
    try:
        user, until = authenticator.authenticate_until(authorization)
    except AuthenticationError as error:
        await _close(websocket, FORBIDDEN, str(error) if authorization else NO_TOKEN)
        raise ConnectionRejectionError from None
    try:
        socket = live.connect(user)
    except SubscriptionLimitReached as full:
        await _close(websocket, POLICY_VIOLATION if full.scope == "user" else TRY_AGAIN_LATER, str(full))
        raise ConnectionRejectionError from None
    session = SocketSession(socket)
    session.expiry = asyncio.get_running_loop().call_later(max(0.0, until - time.time()), _expire, session, websocket)
    context.user = user
    context.auth_error = None
    return session


def _expire(session: SocketSession, websocket: Any) -> None:
    log.info("a WebSocket's bearer token expired: closing it")
    session.closing = asyncio.ensure_future(_close(websocket, FORBIDDEN, "The bearer token has expired."))


async def _close(websocket: Any, code: int, reason: str) -> None:
    await websocket.close(code=code, message=reason.encode()[:120])


class SubscriptionHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """Strawberry's graphql-transport-ws handler, with persisted documents in subscribe messages, and the
    socket's session ended (its limits freed, its expiry timer cancelled) when the socket closes."""

    async def handle(self) -> None:
        try:
            await super().handle()
        finally:
            if self.context.session is not None:
                self.context.session.end()

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if not self.connection_acknowledged or message.get("id") in self.operations:
            await super().handle_subscribe(message)  # 4401, 4409
            return
        payload = message.get("payload")
        if not isinstance(payload, dict) or not isinstance(message.get("id"), str):
            await self.handle_invalid_message("Failed to parse message")
            return
        try:
            query = self._document(payload)
        except Refused as refused:
            await self.send_message({"id": message["id"], "type": "error", "payload": [refused.formatted]})
            return
        await super().handle_subscribe({**message, "payload": {**payload, "query": query}})

    def _document(self, payload: Mapping[str, Any]) -> str:
        documents = self.context.documents
        query, extensions = payload.get("query"), payload.get("extensions")
        if query is not None and not isinstance(query, str):
            raise Refused("`query` must be a string.", BAD_REQUEST)
        query = query or None  # graphql-ws clients always send one: "" beside a documentId
        if documents is not None:
            query, _ = documents.resolve(
                query, extensions if isinstance(extensions, dict) else None, document_id_in(payload)
            )
        if not query:
            raise Refused("No GraphQL query found in the subscribe message.", BAD_REQUEST)
        return query


class Updates(Generic[T, U]):
    """A subscription's async iterator: the watch's updates, each as its GraphQL type; closing it ends the
    watch (graphql-core closes it when the subscription completes or its socket goes)."""

    def __init__(self, watch: Watch[T], present: Callable[[T], U]) -> None:
        self._watch = watch
        self._present = present

    def __aiter__(self) -> Updates[T, U]:
        return self

    async def __anext__(self) -> U:
        return self._present(await self._watch.__anext__())

    async def aclose(self) -> None:
        await self._watch.aclose()


async def watching(
    info: Info, open_watch: Callable[[LiveUpdates, User, Socket | None], Awaitable[Watch[T]]], present: Callable[[T], U]
) -> AsyncIterator[U]:
    """The subscription's iterator; beyond the limits, an `error` for it with code SUBSCRIPTION_LIMIT_REACHED."""
    context = info.context
    session = context.session
    try:
        watch = await open_watch(context.services.live, context.viewer, session.socket if session else None)
    except SubscriptionLimitReached as reached:
        raise GraphQLError(
            str(reached),
            extensions={"code": SUBSCRIPTION_LIMIT_REACHED, "scope": reached.scope, "limit": reached.limit},
        ) from None
    return Updates(watch, present)
