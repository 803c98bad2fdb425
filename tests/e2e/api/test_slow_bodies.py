"""A client that trickles its body gets 408 and loses the connection within REQUEST_BODY_TIMEOUT_SECONDS
(issue 12, item 10): before, a partial body held a connection for as long as the client liked."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging

import pytest
from aiohttp.test_utils import TestServer

from gql_api import Settings, create_app
from gql_api.keys import SETTINGS
from tests.support.api import Api
from tests.support.raw_http import exchange, request

TIMEOUT = 0.5
BODY = json.dumps({"query": "query { calendarConnections { id } }"}).encode()


@pytest.fixture
async def server(settings, database, clock):
    """The app with a short body timeout."""
    quick = dataclasses.replace(settings, request_body_timeout_seconds=TIMEOUT)
    server = TestServer(create_app(quick, database=database, clock=clock), host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


def headers(server: TestServer) -> bytes:
    token = Api(None, server.app[SETTINGS]).token("alice")  # type: ignore[arg-type]
    return f"Content-Type: application/json\r\nAuthorization: Bearer {token}\r\n".encode()


@pytest.mark.parametrize("path", ["/graphql", "/webhooks/cronofy/some-channel-token"])
async def test_a_body_that_stops_halfway_gets_408_and_the_connection_closed(server, path, caplog):
    # given a request that announces its body, sends half of it and then nothing
    caplog.set_level(logging.DEBUG)
    half = request("POST", path, headers=headers(server), body=BODY)[: -len(BODY) // 2]

    # when it waits for an answer (far longer than the timeout)
    answer = await exchange(server.port, half, wait=10 * TIMEOUT + 5)

    # then it gets 408 soon after the timeout, and the server closes the connection
    assert answer.status == 408, answer.head
    assert answer.closed and "Connection: close" in answer.head
    assert TIMEOUT <= answer.seconds < TIMEOUT + 2
    assert "X-Request-ID: " in answer.head
    assert all(record.levelno < logging.WARNING and record.exc_info is None for record in caplog.records)


async def test_a_body_trickled_a_byte_at_a_time_is_cut_off_at_the_timeout(server):
    # given a client that sends its body one byte every 0.1 s (it would take several seconds)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    whole = request("POST", "/graphql", headers=headers(server), body=BODY)
    head, body = whole[: -len(BODY)], whole[-len(BODY) :]
    writer.write(head)
    loop = asyncio.get_running_loop()
    started = loop.time()

    # when it trickles
    async def trickle() -> None:
        for byte in body:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.1)

    sender = asyncio.create_task(trickle())
    try:
        answer = await asyncio.wait_for(reader.read(), timeout=TIMEOUT + 5)
    finally:
        sender.cancel()
        writer.close()

    # then it is answered 408 at the timeout, although bytes kept coming
    assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
    assert loop.time() - started < TIMEOUT + 2


async def test_a_body_sent_in_time_is_served(server):
    # given a whole request sent at once
    # when it is answered
    answer = await exchange(server.port, request("POST", "/graphql", headers=headers(server), body=BODY))

    # then the handler read the body the middleware had read
    assert answer.status == 200 and json.loads(answer.body) == {"data": {"calendarConnections": []}}


def test_the_body_timeout_is_read_from_the_environment():
    # given REQUEST_BODY_TIMEOUT_SECONDS, and nothing
    # when the settings are read
    # then it is that, and 10 seconds by default
    assert Settings.from_env({"REQUEST_BODY_TIMEOUT_SECONDS": "2.5"}).request_body_timeout_seconds == 2.5
    assert Settings.from_env({}).request_body_timeout_seconds == 10.0
