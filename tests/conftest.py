"""Fixtures shared by every scope: the test clock, and the Cronofy sandbox on 127.0.0.1 reading it.

The API's fixtures are in tests/e2e/conftest.py; tests/integration/sandbox/conftest.py has its own
`sandbox` for the sandbox's own tests.
"""

from __future__ import annotations

import pytest

from tests.support.api import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI
from tests.support.clock import FakeClock
from tests.support.sandbox import Sandbox, sandbox_app, serving


@pytest.fixture
async def sandbox(clock: FakeClock):
    # One clock for both sides, so "last change wins" compares like with like when tests move time.
    app = sandbox_app(clock, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=(REDIRECT_URI,))
    async with serving(app) as http:
        yield Sandbox(http, clock, app)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
