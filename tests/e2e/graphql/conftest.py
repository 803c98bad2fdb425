"""Fixtures for the /graphql protections: the real app over HTTP, configured per test."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gql_api import Settings, create_app
from tests.support.api import Api
from tests.support.clock import FakeClock

MakeApi = Callable[..., Awaitable[Api]]


@pytest.fixture
async def api_with(settings: Settings, database: Any, clock: FakeClock) -> AsyncIterator[MakeApi]:
    """`await api_with(graphql_max_depth=3)`: the app with these settings changed, on 127.0.0.1."""
    clients: list[TestClient] = []

    async def make(**changes: Any) -> Api:
        configured = dataclasses.replace(settings, **changes)
        client = TestClient(TestServer(create_app(configured, database=database, clock=clock), host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return Api(client, configured)

    yield make
    for client in clients:
        await client.close()
