"""The shared rate budget: a burst larger than Cronofy's limits queues instead of meeting 429s.

Real time on both sides (the sandbox enforces 50/s and 500/min as Cronofy documents); the bursts are
bounded so each test ends within a few seconds."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from aiohttp.test_utils import TestServer
from mongomock_motor import AsyncMongoMockClient

from gql_api.cronofy import CronofyGateway
from gql_api.cronofy.budget import Priority, Purpose, Spending
from gql_api.cronofy.errors import BudgetDeferred
from gql_api.store import MongoRateBudget, prepare
from tests.support.api import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI
from tests.support.browser import consent
from tests.support.sandbox import sandbox_app

USER_CALL = Spending(Purpose.LINKING, Priority.USER)


@pytest.fixture
async def limited_sandbox():
    app = sandbox_app(
        None,  # real time: the sandbox enforces its limits as Cronofy does
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uris=(REDIRECT_URI,),
        rate_limit_per_second=50,
        rate_limit_per_minute=500,
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
async def database():
    database = AsyncMongoMockClient(tz_aware=True)["budget"]
    await prepare(database, where="test")
    return database


def gateway(url: str, budget) -> CronofyGateway:
    return CronofyGateway(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, api_url=url, app_url=url, max_attempts=1, rate_budget=budget
    )


async def statuses(url: str) -> list[int]:
    async with httpx.AsyncClient() as http:
        return [r["status"] for r in (await http.get(f"{url}/_control/requests")).json()]


async def test_a_burst_from_two_processes_queues_and_never_meets_a_429(limited_sandbox, database):
    # given two processes (two gateways, two budgets) on one database, and a linked account
    one = gateway(limited_sandbox, MongoRateBudget(database, per_second=50, per_minute=500))
    two = gateway(limited_sandbox, MongoRateBudget(database, per_second=50, per_minute=500))
    try:
        callback = await consent(one.authorization_url(redirect_uri=REDIRECT_URI, state="s"))
        grant = await one.exchange_code(code=callback["code"], redirect_uri=REDIRECT_URI)
        started = time.monotonic()

        # when they fire 80 calls at once, more than the per-second limit
        results = await asyncio.gather(
            *[(one if i % 2 else two).list_calendars(access_token=grant.access_token) for i in range(80)]
        )

        elapsed = time.monotonic() - started
    finally:
        await one.aclose()
        await two.aclose()

    # then every call succeeded, none was refused, and the burst was spread over time
    assert len(results) == 80 and all(results)
    assert 429 not in await statuses(limited_sandbox)
    assert elapsed >= 1.5  # at most 40 a second go out


async def test_without_the_budget_the_same_burst_meets_429s(limited_sandbox, database):
    bare = gateway(limited_sandbox, None)
    try:
        callback = await consent(bare.authorization_url(redirect_uri=REDIRECT_URI, state="s"))
        grant = await bare.exchange_code(code=callback["code"], redirect_uri=REDIRECT_URI)
        await asyncio.gather(
            *[bare.list_calendars(access_token=grant.access_token) for _ in range(120)], return_exceptions=True
        )
    finally:
        await bare.aclose()
    assert 429 in await statuses(limited_sandbox)  # the sandbox would have told on us


async def test_a_full_window_waits_for_the_next_one(database):
    now = [float(int(time.time()))]  # real epoch: the windows expire by TTL
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    budget = MongoRateBudget(database, per_second=50, per_minute=500, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):  # 50 // 11 per tenth of a second
        await budget.acquire(USER_CALL)
    assert waits == []
    await budget.acquire(USER_CALL)
    assert len(waits) == 1 and 0.1 <= waits[0] <= 0.11


async def test_a_small_limit_is_never_exceeded_in_any_second(database):
    now = [float(int(time.time()))]
    sent: list[float] = []

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    budget = MongoRateBudget(database, per_second=5, per_minute=500, clock=lambda: now[0], sleep=sleep)
    for _ in range(20):
        await budget.acquire(USER_CALL)
        sent.append(now[0])

    for start in sent:  # any sliding second, wherever it starts
        assert sum(1 for moment in sent if start <= moment < start + 1) <= 5


def next_minute() -> float:
    """The start of the coming minute: windows are whole minutes, and MongoDB's TTL (mongomock's too) must
    not expire them under the test, so the test's clock runs ahead of the real one, not behind."""
    return float(int(time.time() // 60 * 60) + 60)


async def until_deferred(
    budget, spending_of, *, step: float = 0.0, now: list[float] | None = None
) -> tuple[int, float]:
    """Acquire until the budget defers: (calls admitted, the deferral's retry_after)."""
    for admitted in range(1000):
        try:
            await budget.acquire(spending_of(admitted))
        except BudgetDeferred as deferred:
            return admitted, deferred.retry_after
        if now is not None:
            now[0] += step
    raise AssertionError("never deferred")


def budget_on(database, now: list[float], **limits):
    async def sleep(seconds: float) -> None:
        now[0] += seconds

    return MongoRateBudget(database, clock=lambda: now[0], sleep=sleep, **limits)


async def test_background_work_never_takes_the_part_of_a_window_kept_for_users(database):
    # given a minute of 500 calls (45 per six-second sub-window, 31 of them for background work)
    start = next_minute()
    now = [start]
    budget = budget_on(database, now, per_second=1000, per_minute=500)

    # when the outbox writes as much as it can within one sub-window
    written, retry_after = await until_deferred(
        budget, lambda i: Spending(Purpose.EVENT_WRITE, Priority.WRITE, f"organizer-{i}")
    )

    # then it is deferred (not queued) at its share, told when to come back
    assert written == 31 and 0 < retry_after <= 6 + 1
    # and a user's calls still go out at once in that same sub-window
    for _ in range(45 - 31):
        await budget.acquire(Spending(Purpose.LINKING, Priority.USER, "someone"))
    assert now[0] == start  # nobody waited


async def test_reconciliation_gives_way_before_reads_after_pushes_and_writes(database):
    now = [next_minute()]
    budget = budget_on(database, now, per_second=1000, per_minute=500)

    swept, _ = await until_deferred(budget, lambda i: Spending(Purpose.RECONCILIATION, Priority.SWEEP, f"user-{i}"))
    # reconciliation stops at its own share (18 of 45); pushes and writes still find room
    assert swept == 18
    await budget.acquire(Spending(Purpose.PUSH_READ, Priority.PUSH, "user-x"))
    await budget.acquire(Spending(Purpose.EVENT_WRITE, Priority.WRITE, "user-y"))


async def test_one_user_gets_a_fair_share_of_the_minute_and_the_others_go_on(database):
    # given a minute of 500 calls, of which one user may take a tenth
    now = [next_minute()]
    budget = budget_on(database, now, per_second=1000, per_minute=500)

    # when Mallory's meetings need more writes than her share, spread over the minute
    sent, retry_after = await until_deferred(
        budget, lambda i: Spending(Purpose.EVENT_WRITE, Priority.WRITE, "mallory"), step=0.2, now=now
    )

    # then she is held at 50, until the next minute, while a bystander's write goes out at once
    assert sent == 50 and retry_after <= 60 + 1
    await budget.acquire(Spending(Purpose.EVENT_WRITE, Priority.WRITE, "bystander"))
