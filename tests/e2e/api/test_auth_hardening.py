"""Tokens that are wrong in unusual ways get UNAUTHENTICATED over HTTP, never a 500 (issue 12)."""

from __future__ import annotations

import dataclasses
import json
import logging
import time

import jwt
from aiohttp.test_utils import TestClient, TestServer

from gql_api import create_app
from tests.support.api import JWT_SECRET, Api
from tests.support.documents import CONNECTIONS
from tests.support.raw_http import exchange, request

CONNECTIONS_BODY = json.dumps({"query": "query { calendarConnections { id } }"}).encode()


def errors_of(body: dict) -> list[tuple[str, str]]:
    return [(error["extensions"]["code"], error["message"]) for error in body["errors"]]


def no_error_logged(records: list[logging.LogRecord]) -> bool:
    return all(record.levelno < logging.ERROR and record.exc_info is None for record in records)


async def test_bytes_that_are_not_utf8_in_the_authorization_header_are_unauthenticated(api, caplog):
    # given a request whose Authorization header holds bytes that are not UTF-8
    caplog.set_level(logging.DEBUG)
    raw = request(
        "POST",
        "/graphql",
        headers=b"Content-Type: application/json\r\nAuthorization: Bearer \xff\xfe\xc3(\r\n",
        body=CONNECTIONS_BODY,
    )

    # when it is sent
    answer = await exchange(api.client.server.port, raw)

    # then it is a clean UNAUTHENTICATED, with nothing logged as an error
    assert answer.status == 200, answer.head
    assert errors_of(json.loads(answer.body)) == [("UNAUTHENTICATED", "The bearer token is invalid.")]
    assert no_error_logged(caplog.records)


async def test_a_claim_of_the_wrong_shape_is_unauthenticated_over_http(api, caplog):
    # given a correctly signed token whose partners claim is a string, not a list
    caplog.set_level(logging.DEBUG)
    now = int(time.time())
    bearer = jwt.encode({"sub": "alice", "exp": now + 600, "partners": "bob"}, JWT_SECRET, algorithm="HS256")

    # when it is used
    body = await api.gql(CONNECTIONS, user=None, headers={"Authorization": f"Bearer {bearer}"})

    # then the token is invalid, no data, no error logged
    assert body["data"] is None
    assert errors_of(body) == [("UNAUTHENTICATED", "The bearer token is invalid.")]
    assert no_error_logged(caplog.records)


async def test_a_token_older_than_the_max_age_is_refused_over_http(settings, database, clock):
    # given AUTH_JWT_MAX_AGE_SECONDS=900 and an unexpired token issued two hours ago
    configured = dataclasses.replace(settings, auth_jwt_max_age_seconds=900)
    now = int(time.time())
    old = jwt.encode({"sub": "alice", "iat": now - 7200, "exp": now + 600}, JWT_SECRET, algorithm="HS256")
    fresh = jwt.encode({"sub": "alice", "iat": now - 10, "exp": now + 600}, JWT_SECRET, algorithm="HS256")

    async with TestClient(TestServer(create_app(configured, database=database, clock=clock))) as client:
        api = Api(client, configured)

        # when each is used
        refused = await api.gql(CONNECTIONS, user=None, headers={"Authorization": f"Bearer {old}"})
        accepted = await api.gql(CONNECTIONS, user=None, headers={"Authorization": f"Bearer {fresh}"})

    # then the old one is too old, the fresh one works
    assert errors_of(refused) == [("UNAUTHENTICATED", "The bearer token is too old.")]
    assert accepted == {"data": {"calendarConnections": []}}
