"""A graphql-transport-ws client over aiohttp's WebSocket client, as Apollo's GraphQLWsLink and urql's
subscriptionExchange (the `graphql-ws` package) speak it, for tests of subscriptions over loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient

from gql_api.keys import RUNTIME

PROTOCOL = "graphql-transport-ws"
WAIT = 5.0

MEETING_CHANGED = """
subscription MeetingChanged($id: ID) {
  meetingChanged(id: $id) {
    kind meetingId
    meeting { id title status participants { email response calendarEvent { status lastError } } }
  }
}"""

CONNECTION_CHANGED = """
subscription ConnectionChanged {
  calendarConnectionChanged { kind connectionId connection { id status profileName lastSyncedAt } }
}"""


class Closed(Exception):
    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed {code}: {reason}")
        self.code = code
        self.reason = reason


class LiveSocket:
    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message))

    async def receive(self, timeout: float = WAIT) -> dict[str, Any]:
        """The next protocol message; Closed when the server closed the socket instead."""
        message = await self.ws.receive(timeout=timeout)
        if message.type == WSMsgType.TEXT:
            return dict(json.loads(message.data))
        if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
            code = self.ws.close_code if message.type != WSMsgType.CLOSE else message.data
            return _raise(Closed(code, message.extra or ""))
        raise AssertionError(f"unexpected WebSocket message {message.type}: {message.data!r}")

    async def init(self, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        await self.send({"type": "connection_init", **({"payload": payload} if payload is not None else {})})
        return await self.receive()

    async def subscribe(self, id: str, query: str | None = None, variables: dict[str, Any] | None = None, **more: Any):
        payload = {**({"query": query} if query is not None else {}), "variables": variables or {}, **more}
        await self.send({"id": id, "type": "subscribe", "payload": payload})

    async def next(self, id: str, timeout: float = WAIT) -> dict[str, Any]:
        """The payload of the next `next` message (for `id`)."""
        message = await self.receive(timeout)
        assert message.get("id") == id and message["type"] == "next", message
        return dict(message["payload"])

    async def nothing_more(self) -> None:
        """Nothing was sent to this socket before it answers a ping now."""
        await self.send({"type": "ping"})
        assert await self.receive() == {"type": "pong"}

    async def closed(self, timeout: float = WAIT) -> Closed:
        try:
            message = await self.receive(timeout)
        except Closed as closed:
            return closed
        raise AssertionError(f"expected the socket to close, got {message}")


def _raise(error: Exception) -> Any:
    raise error


def token_payload(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextlib.asynccontextmanager
async def live_socket(
    client: TestClient, token: str | None = None, *, origin: str | None = None, **options: Any
) -> AsyncIterator[LiveSocket]:
    """A socket to /graphql, acknowledged with `token` when one is given."""
    headers = {"Origin": origin} if origin else {}
    async with client.ws_connect("/graphql", protocols=[PROTOCOL], headers=headers, **options) as ws:
        socket = LiveSocket(ws)
        if token is not None:
            assert await socket.init(token_payload(token)) == {"type": "connection_ack"}
        yield socket


async def subscribed(app: web.Application, user_id: str, count: int = 1) -> None:
    """Wait until `user_id` has `count` subscriptions running on this app (a subscribe message is handled in
    its own task: a change published before it runs is not the subscription's)."""
    live = app[RUNTIME].services.live
    async with asyncio.timeout(WAIT):
        while live.subscriptions_of(user_id) < count:  # noqa: ASYNC110 (a test's wait for the server's state)
            await asyncio.sleep(0.01)
