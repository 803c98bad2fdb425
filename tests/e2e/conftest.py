"""The API as a client meets it: the real app on 127.0.0.1, on an in-memory MongoDB, talking to the sandbox."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer
from mongomock_motor import AsyncMongoMockClient

from gql_api import Settings, create_app
from tests.support.api import CLIENT_ID, CLIENT_SECRET, JWT_SECRET, KEYS, REDIRECT_URI, Api
from tests.support.clock import FakeClock
from tests.support.net import free_port
from tests.support.sandbox import Sandbox


@pytest.fixture
def database():
    return AsyncMongoMockClient(tz_aware=True)["gql_api_test"]


@pytest.fixture
def api_port() -> int:
    """Chosen before the app exists: its public URL (for Cronofy's pushes) must name it."""
    return free_port()


@pytest.fixture
def settings(sandbox: Sandbox, api_port: int) -> Settings:
    return Settings(
        public_base_url=f"http://127.0.0.1:{api_port}",
        cronofy_client_id=CLIENT_ID,
        cronofy_client_secret=CLIENT_SECRET,
        cronofy_api_url=sandbox.url,
        cronofy_app_url=sandbox.url,
        cronofy_timeout_seconds=2.0,
        cronofy_max_attempts=1,  # the outbox's own retries are under test here; the gateway's have theirs
        cronofy_rate_per_second=100_000,  # the rate budget has its own tests (integration/cronofy/test_rate_budget.py)
        cronofy_rate_per_minute=1_000_000,
        token_encryption_keys=KEYS,
        auth_jwt_secret=JWT_SECRET,
        allowed_redirect_uris=(REDIRECT_URI,),
        worker_enabled=False,
        # the clock of these tests stands still: one minute would hold every test's changes
        # (the limit has its own tests, tests/e2e/api/test_rate_limits.py)
        mutations_per_user_per_minute=0,
        # reconciliation every 15 minutes (the first within 15 minutes of a copy written): tests move the clock
        sync_reconcile_interval_seconds=900,
    )


@pytest.fixture
async def api(settings: Settings, database, clock: FakeClock, api_port: int):
    app = create_app(settings, database=database, clock=clock)
    async with TestClient(TestServer(app, host="127.0.0.1", port=api_port)) as client:
        yield Api(client, settings)
