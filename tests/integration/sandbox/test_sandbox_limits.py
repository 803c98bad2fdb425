"""The Cronofy sandbox's application rate limits over real HTTP (reference §8.2).

The sandbox counts in fixed windows aligned to its clock (second N is [N, N+1), minute M is
[60M, 60M+60)), and every counted request bumps both counters, refused ones included. The clock
here starts on a minute boundary so the windows are easy to see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiohttp import web

from tests.support.clock import FakeClock
from tests.support.sandbox import CLIENT_ID, CLIENT_SECRET, allow, exchange, sandbox_app, serving
from tests.support.sandbox import Sandbox as PlainSandbox

SCOPE = "list_calendars read_events"
START = 1_700_000_040.0  # 2023-11-14T22:14:00Z, the start of a minute (and of a second)
assert START % 60 == 0


@dataclass
class Sandbox(PlainSandbox):
    async def limits(self) -> dict[str, Any]:
        response = await self.http.get("_control/limits")
        assert response.status_code == 200, response.text
        return response.json()

    async def call(self) -> httpx.Response:
        """One counted API request (no token, so normally a 401)."""
        return await self.http.get("v1/calendars")

    async def statuses(self, count: int) -> list[int]:
        return [(await self.call()).status_code for _ in range(count)]

    async def log(self) -> list[tuple[str, str, int]]:
        response = await self.http.get("_control/requests")
        return [(r["method"], r["path"], r["status"]) for r in response.json()]


@pytest.fixture
def sandbox_start() -> float:
    return START


@pytest.fixture
def sandbox(sandbox: PlainSandbox) -> Sandbox:
    """conftest.py's sandbox, its clock started at this module's START."""
    return Sandbox(sandbox.http, sandbox.clock, sandbox.app)


async def link(http: httpx.AsyncClient) -> httpx.Response:
    """Press Allow on the consent form (browser pages), then exchange the code (API)."""
    return await exchange(http, await allow(http, scope=SCOPE, profile="limited.user@example.com"))


# -- default -----------------------------------------------------------------------------


async def test_unlimited_by_default(sandbox: Sandbox) -> None:
    statuses = await sandbox.statuses(60)

    assert set(statuses) == {401}
    assert await sandbox.limits() == {
        "rate_limit_per_second": None,
        "rate_limit_per_minute": None,
        "rate_limit_retry_after": False,
        "rate_limited": 0,
        "this_second": 60,  # counted all the same
        "this_minute": 60,
    }


# -- per second, per minute --------------------------------------------------------------


async def test_the_sixth_request_in_a_second_is_429_with_an_empty_body(sandbox: Sandbox) -> None:
    await sandbox.configure(rate_limit_per_second=5)

    first = await sandbox.statuses(5)
    sandbox.clock.advance(0.5)
    refused = await sandbox.call()
    sandbox.clock.advance(0.49)
    still_refused = await sandbox.call()
    sandbox.clock.advance(0.01)  # START + 1: the next second
    next_second = await sandbox.statuses(5)
    over_again = await sandbox.call()

    assert first == [401] * 5
    for response in (refused, still_refused, over_again):
        assert (response.status_code, response.content) == (429, b"")
        assert "retry-after" not in response.headers  # only when asked for
    assert next_second == [401] * 5
    assert (await sandbox.limits())["rate_limited"] == 3


async def test_the_eighth_request_in_a_minute_is_429_even_spread_over_seconds(sandbox: Sandbox) -> None:
    await sandbox.configure(rate_limit_per_minute=7)

    spread = []
    for _ in range(7):
        spread.append((await sandbox.call()).status_code)
        sandbox.clock.advance(1)
    eighth = await sandbox.call()  # START + 7
    sandbox.clock.advance(52.5)
    late_in_the_minute = await sandbox.call()  # START + 59.5
    sandbox.clock.advance(0.5)
    next_minute = await sandbox.call()  # START + 60

    assert spread == [401] * 7
    assert (eighth.status_code, eighth.content) == (429, b"")
    assert late_in_the_minute.status_code == 429
    assert next_minute.status_code == 401
    limits = await sandbox.limits()
    assert (limits["rate_limited"], limits["this_minute"]) == (2, 1)


async def test_both_limits_apply_together(sandbox: Sandbox) -> None:
    await sandbox.configure(rate_limit_per_second=3, rate_limit_per_minute=5)

    second_0 = await sandbox.statuses(3)
    sandbox.clock.advance(1)
    second_1 = await sandbox.statuses(3)  # 4th and 5th of the minute pass, the 6th is over its limit

    assert second_0 == [401, 401, 401]
    assert second_1 == [401, 401, 429]


async def test_refused_requests_count_too(sandbox: Sandbox) -> None:
    # Deterministic choice (see limits.py): counters are bumped, then compared.
    await sandbox.configure(rate_limit_per_second=2, rate_limit_per_minute=5)

    hammering = await sandbox.statuses(4)  # 2 pass, 2 refused by the per-second limit: 4 of 5 spent
    sandbox.clock.advance(1)
    later = await sandbox.statuses(2)  # the 5th of the minute passes, the 6th is over it

    assert hammering == [401, 401, 429, 429]
    assert later == [401, 429]
    assert (await sandbox.limits())["rate_limited"] == 3


# -- Retry-After --------------------------------------------------------------------------


async def test_retry_after_gives_whole_seconds_until_the_window_frees(sandbox: Sandbox) -> None:
    echoed = await sandbox.configure(rate_limit_per_second=1, rate_limit_per_minute=3, rate_limit_retry_after=True)
    assert echoed["rate_limit_retry_after"] is True

    await sandbox.call()
    sandbox.clock.advance(0.25)
    per_second = await sandbox.call()  # START + 0.25: second ends in 0.75 s
    sandbox.clock.advance(1)
    await sandbox.call()  # 3rd of the minute
    sandbox.clock.advance(19.25)
    per_minute = await sandbox.call()  # START + 20.5: minute ends in 39.5 s, rounded up
    both = await sandbox.call()  # over both: the later window counts

    assert (per_second.status_code, per_second.headers["retry-after"], per_second.content) == (429, "1", b"")
    assert (per_minute.status_code, per_minute.headers["retry-after"]) == (429, "40")
    assert (both.status_code, both.headers["retry-after"]) == (429, "40")
    sandbox.clock.advance(39.4)
    assert (await sandbox.call()).status_code == 429
    sandbox.clock.advance(0.1)
    assert (await sandbox.call()).status_code == 401  # START + 60: the minute has freed up


# -- what counts -------------------------------------------------------------------------


async def test_token_issuance_counts_but_the_browser_pages_do_not(sandbox: Sandbox) -> None:
    await sandbox.configure(rate_limit_per_second=1)

    consent_pages = [(await sandbox.http.get("oauth/authorize")).status_code for _ in range(3)]
    relink_page = await sandbox.http.get("relink/google")
    token = await link(sandbox.http)  # consent POST is free; the token exchange is the 1 allowed
    revoke = await sandbox.http.post(
        "oauth/token/revoke", json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "token": "x"}
    )
    control = [(await sandbox.http.get("_control/state")).status_code for _ in range(3)]

    assert 429 not in consent_pages and relink_page.status_code != 429
    assert token.status_code == 200, token.text
    assert (revoke.status_code, revoke.content) == (429, b"")
    assert control == [200, 200, 200]
    assert (await sandbox.limits())["this_second"] == 2


async def test_a_queued_fault_answers_before_the_rate_limit_and_is_not_counted(sandbox: Sandbox) -> None:
    await sandbox.configure(rate_limit_per_second=1)
    await sandbox.http.post("_control/faults", json={"path": "/v1/calendars", "status": 503, "times": 2})

    statuses = await sandbox.statuses(4)

    assert statuses == [503, 503, 401, 429]


async def test_the_request_log_records_the_429s(sandbox: Sandbox) -> None:
    await sandbox.configure(rate_limit_per_second=2)

    await sandbox.statuses(3)
    await sandbox.http.delete("v1/channels/chn_1")

    assert await sandbox.log() == [
        ("GET", "/v1/calendars", 401),
        ("GET", "/v1/calendars", 401),
        ("GET", "/v1/calendars", 429),
        ("DELETE", "/v1/channels/chn_1", 429),
    ]


async def test_limits_apply_when_mounted_as_a_sub_app() -> None:
    clock = FakeClock(START)
    parent = web.Application()
    parent.add_subapp("/sandbox/cronofy", sandbox_app(clock, rate_limit_per_second=1))
    async with serving(parent, "/sandbox/cronofy/") as http:
        consent_pages = [(await http.get("oauth/authorize")).status_code for _ in range(2)]
        api = [(await http.get("v1/calendars")).status_code for _ in range(2)]
        log = (await http.get("_control/requests")).json()

    assert 429 not in consent_pages
    assert api == [401, 429]
    assert [(r["path"], r["status"]) for r in log][-2:] == [("/v1/calendars", 401), ("/v1/calendars", 429)]


# -- control API -------------------------------------------------------------------------


async def test_control_config_round_trip(sandbox: Sandbox) -> None:
    echoed = await sandbox.configure(rate_limit_per_second=50, rate_limit_per_minute=500)
    assert (
        echoed.items()
        >= {
            "rate_limit_per_second": 50,
            "rate_limit_per_minute": 500,
            "rate_limit_retry_after": False,
            "access_token_ttl": 3600,  # the rest is unchanged
        }.items()
    )
    limits = await sandbox.limits()
    assert (limits["rate_limit_per_second"], limits["rate_limit_per_minute"]) == (50, 500)

    echoed = await sandbox.configure(rate_limit_per_second=None)
    assert (echoed["rate_limit_per_second"], echoed["rate_limit_per_minute"]) == (None, 500)


@pytest.mark.parametrize(
    "settings",
    [
        {"rate_limit_per_second": 0},
        {"rate_limit_per_second": -1},
        {"rate_limit_per_minute": 1.5},
        {"rate_limit_per_minute": "500"},
        {"rate_limit_per_second": True},
        {"rate_limit_retry_after": "yes"},
        {"rate_limit_retry_after": None},
        {"rate_limit_per_second": 5, "rate_limit_per_minute": 0},  # nothing changes
    ],
)
async def test_control_config_refuses_bad_limits_and_changes_nothing(sandbox: Sandbox, settings: dict) -> None:
    response = await sandbox.http.post("_control/config", json=settings)

    assert response.status_code == 400
    limits = await sandbox.limits()
    assert (limits["rate_limit_per_second"], limits["rate_limit_per_minute"]) == (None, None)


async def test_reset_restores_the_started_limits_and_forgets_the_counts() -> None:
    clock = FakeClock(START)
    app = sandbox_app(clock, rate_limit_per_second=2)
    async with serving(app) as http:
        sandbox = Sandbox(http, clock, app)
        await sandbox.configure(rate_limit_per_second=1, rate_limit_per_minute=10, rate_limit_retry_after=True)
        before = await sandbox.statuses(2)

        assert (await http.post("_control/reset")).status_code == 200
        limits = await sandbox.limits()
        after = await sandbox.statuses(3)  # same second, but the counters started over

    assert before == [401, 429]
    assert limits == {
        "rate_limit_per_second": 2,
        "rate_limit_per_minute": None,
        "rate_limit_retry_after": False,
        "rate_limited": 0,
        "this_second": 0,
        "this_minute": 0,
    }
    assert after == [401, 401, 429]
