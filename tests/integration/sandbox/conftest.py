"""Fixtures of the sandbox tests: a Cronofy sandbox on loopback with a fake clock.

These override tests/conftest.py's `sandbox` here: the tests in this directory drive the sandbox
app itself (its control API, its clock, its state), not the API's view of it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.clock import FakeClock
from tests.support.sandbox import START, Sandbox, sandbox_app, serving


@pytest.fixture
def sandbox_start() -> float:
    """Where the sandbox's clock starts; a module overrides this to start elsewhere."""
    return START


@pytest.fixture
async def sandbox(sandbox_start: float) -> AsyncIterator[Sandbox]:
    clock = FakeClock(sandbox_start)
    app = sandbox_app(clock)
    async with serving(app) as http:
        yield Sandbox(http, clock, app)
