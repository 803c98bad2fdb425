"""Retries against the sandbox's fault plans, counted in attempts and waits (a recording sleep: no
real waiting). Idempotent calls retry on 429, 5xx, timeouts and resets; the token exchange and
refresh never do; other 4xx never do."""

from __future__ import annotations

import pytest

from gql_api.cronofy import (
    CronofyError,
    CronofyGateway,
    CronofyNotFound,
    CronofyRateLimited,
    CronofyServerError,
    CronofyUnavailable,
)
from tests.support.api import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI
from tests.support.browser import consent


class RecordingSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
async def sleeps():
    return RecordingSleep()


@pytest.fixture
async def gateway(sandbox, sleeps):
    gateway = CronofyGateway(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        api_url=sandbox.url,
        app_url=sandbox.url,
        timeout_seconds=0.5,
        max_attempts=4,
        retry_budget_seconds=20,
        sleep=sleeps,
    )
    yield gateway
    await gateway.aclose()


@pytest.fixture
async def grant(gateway):
    callback = await consent(gateway.authorization_url(redirect_uri=REDIRECT_URI, state="s"))
    return await gateway.exchange_code(code=callback["code"], redirect_uri=REDIRECT_URI)


async def attempts(sandbox, path: str) -> int:
    return sum(1 for r in await sandbox.requests() if r["path"] == path)


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500},
        {"status": 502},
        {"status": 503},
        {"status": 504},
        {"status": 429},
        {"reset": True},
        {"delay_seconds": 1.0},
    ],
)
async def test_a_transient_failure_is_retried_once_and_succeeds(sandbox, gateway, grant, sleeps, fault):
    await sandbox.fault(path="/v1/calendars", **fault)

    calendars = await gateway.list_calendars(access_token=grant.access_token)

    assert calendars
    assert await attempts(sandbox, "/v1/calendars") == 2
    assert len(sleeps.waits) == 1 and 0 <= sleeps.waits[0] <= 0.5 * 2  # full jitter below the first ceiling


async def test_backoff_grows_with_jitter_and_the_attempts_are_bounded(sandbox, gateway, grant, sleeps):
    await sandbox.fault(path="/v1/calendars", status=503, times=10)

    with pytest.raises(CronofyServerError):
        await gateway.list_calendars(access_token=grant.access_token)

    assert await attempts(sandbox, "/v1/calendars") == 4
    assert len(sleeps.waits) == 3
    for attempt, wait in enumerate(sleeps.waits, start=1):
        assert 0 <= wait <= min(8.0, 0.5 * 2**attempt)


async def test_retry_after_is_honoured_in_seconds(sandbox, gateway, grant, sleeps):
    await sandbox.fault(path="/v1/calendars", status=429, retry_after=3, times=2)

    await gateway.list_calendars(access_token=grant.access_token)

    assert sleeps.waits == [3.0, 3.0]


async def test_retry_after_as_an_http_date_is_honoured(sandbox, gateway, grant, sleeps):
    from email.utils import formatdate
    from time import time

    await sandbox.fault(path="/v1/calendars", status=429, retry_after=formatdate(time() + 5, usegmt=True))

    await gateway.list_calendars(access_token=grant.access_token)

    assert len(sleeps.waits) == 1 and 3 <= sleeps.waits[0] <= 5


async def test_a_long_retry_after_is_left_to_the_caller(sandbox, gateway, grant, sleeps):
    await sandbox.fault(path="/v1/calendars", status=429, retry_after=120)

    with pytest.raises(CronofyRateLimited) as raised:
        await gateway.list_calendars(access_token=grant.access_token)

    assert raised.value.retry_after == 120
    assert sleeps.waits == [] and await attempts(sandbox, "/v1/calendars") == 1


async def test_the_waiting_budget_bounds_the_retries(sandbox, sleeps, grant):
    tight = CronofyGateway(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        api_url=sandbox.url,
        app_url=sandbox.url,
        timeout_seconds=0.5,
        max_attempts=10,
        retry_budget_seconds=7,
        sleep=sleeps,
    )
    await sandbox.fault(path="/v1/calendars", status=429, retry_after=3, times=10)
    try:
        with pytest.raises(CronofyRateLimited):
            await tight.list_calendars(access_token=grant.access_token)
    finally:
        await tight.aclose()
    assert sleeps.waits == [3.0, 3.0]  # a third wait would pass the 7 s budget


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_the_code_exchange_and_refresh_are_never_retried(sandbox, gateway, grant, sleeps, status):
    await sandbox.fault(path="/oauth/token", status=status, times=2)
    callback = await consent(gateway.authorization_url(redirect_uri=REDIRECT_URI, state="s2"))

    with pytest.raises((CronofyUnavailable, CronofyRateLimited)):
        await gateway.exchange_code(code=callback["code"], redirect_uri=REDIRECT_URI)
    with pytest.raises((CronofyUnavailable, CronofyRateLimited)):
        await gateway.refresh(refresh_token=grant.refresh_token)

    assert await attempts(sandbox, "/oauth/token") == 1 + 2  # the first exchange, then one try each
    assert sleeps.waits == []


async def test_revocation_is_retried(sandbox, gateway, grant, sleeps):
    await sandbox.fault(path="/oauth/token/revoke", status=502)
    await gateway.revoke(refresh_token=grant.refresh_token)
    assert await attempts(sandbox, "/oauth/token/revoke") == 2


@pytest.mark.parametrize("status", [400, 403, 404, 422])
async def test_other_client_errors_are_not_retried(sandbox, gateway, grant, sleeps, status):
    await sandbox.fault(path="/v1/calendars", status=status, body={"errors": {}})
    with pytest.raises(CronofyError) as raised:
        await gateway.list_calendars(access_token=grant.access_token)
    assert not isinstance(raised.value, (CronofyUnavailable, CronofyRateLimited))
    assert await attempts(sandbox, "/v1/calendars") == 1 and sleeps.waits == []
    if status == 404:
        assert isinstance(raised.value, CronofyNotFound)
