"""With METRICS_TOKEN set, /metrics answers only its bearer (issue 12, item 13)."""

from __future__ import annotations

import dataclasses

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gql_api import Settings, create_app
from gql_api.settings import ConfigError
from tests.support.raw_http import exchange, request

TOKEN = "metrics-scraper-token-0123456789"


@pytest.fixture
async def client(settings, database, clock):
    configured = dataclasses.replace(settings, metrics_token=TOKEN)
    async with TestClient(TestServer(create_app(configured, database=database, clock=clock))) as client:
        yield client


@pytest.mark.parametrize(
    "authorization",
    [None, "", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN, "Bearer", f"bearer  {TOKEN[1:]}"],
    ids=["none", "empty", "longer", "shorter", "basic", "no-scheme", "no-token", "near-miss"],
)
async def test_metrics_without_the_token_is_401(client, authorization):
    # given METRICS_TOKEN set
    # when /metrics is asked for without it, or with something close to it
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await client.get("/metrics", headers=headers)

    # then it is refused, and nothing of the figures is shown
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "cronofy_calls" not in await response.text()


async def test_metrics_with_the_token_is_served(client):
    # given METRICS_TOKEN set
    # when /metrics is asked for with it (the scheme in any case)
    response = await client.get("/metrics", headers={"Authorization": f"BEARER {TOKEN}"})

    # then it is served
    assert response.status == 200 and "graphql_requests" in await response.text()


async def test_bytes_that_are_not_utf8_in_the_header_are_a_clean_401(client):
    # given METRICS_TOKEN set, and a header with bytes that are not UTF-8 (hmac.compare_digest refuses such str)
    raw = request("GET", "/metrics", headers=b"Authorization: Bearer \xff\xfe" + TOKEN.encode() + b"\r\n")

    # when it is sent
    answer = await exchange(client.server.port, raw)

    # then it is a 401, not a 500
    assert answer.status == 401, answer.head


async def test_metrics_stay_open_without_a_token(api):
    # given no METRICS_TOKEN
    # when /metrics is asked for without credentials
    # then it is served, as before
    assert (await api.client.get("/metrics")).status == 200


def test_a_short_metrics_token_is_refused():
    # given a METRICS_TOKEN anyone could guess
    # when the settings are read
    # then they are refused, naming it
    with pytest.raises(ConfigError, match="METRICS_TOKEN must be at least 16 characters"):
        Settings.from_env({"METRICS_TOKEN": "letmein"})
