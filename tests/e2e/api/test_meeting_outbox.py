"""The outbox: meetings never wait on a failing Cronofy, and their calendar work is never lost."""

from __future__ import annotations

import asyncio
import dataclasses
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gql_api import create_app
from gql_api.graphql.ids import decode_id
from gql_api.store import MeetingStore
from tests.support.api import Api
from tests.support.documents import CANCEL, MEETING, UPDATE
from tests.support.factories import deliveries, link_account, schedule
from tests.support.sandbox import calendar_events

WRITES = "/v1/calendars/"


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, sync_grace_seconds=0.3, cronofy_timeout_seconds=1.0, outbox_max_attempts=3)


@pytest.fixture
async def linked(api):
    await link_account(api, user="alice", profile_name="alice@example.test")
    await link_account(api, user="bob", profile_name="bob@example.test")


async def statuses(api: Api, meeting_id: str, user: str = "alice") -> set[str]:
    meeting = (await api.data(MEETING, {"id": meeting_id}, user=user))["meeting"]
    return {status for _, status in deliveries(meeting).values()}


async def event_writes(sandbox) -> list[str]:
    return [r["method"] for r in await sandbox.requests() if r["path"].startswith(WRITES) and r["status"] == 202]


async def clear(sandbox) -> None:
    await sandbox.http.delete(f"{sandbox.url}/_control/faults")
    await sandbox.http.delete(f"{sandbox.url}/_control/requests")


@pytest.mark.parametrize(
    "fault", [{"status": 500}, {"status": 502}, {"status": 503}, {"status": 504}, {"status": 429}, {"reset": True}]
)
async def test_cronofy_failing_during_schedule_leaves_it_pending_until_the_worker_succeeds(
    api, sandbox, linked, clock, fault
):
    await sandbox.fault(path=WRITES, method="POST", times=2, **fault)

    meeting = await schedule(api)

    assert await statuses(api, meeting["id"]) == {"PENDING"}
    assert await calendar_events(sandbox) == {}
    assert "Retrying" in meeting["participants"][0]["calendarEvent"]["lastError"]
    clock.advance(minutes=1)
    assert (await api.work("calendar writes"))["calendar writes"] == 1
    assert await statuses(api, meeting["id"]) == {"SYNCED"}
    assert set(await calendar_events(sandbox)) == {"alice@example.test", "bob@example.test"}


async def test_retry_after_is_honoured(api, sandbox, linked, clock, database):
    await sandbox.fault(path=WRITES, method="POST", status=429, retry_after=120, times=2)
    meeting = await schedule(api)

    clock.advance(seconds=100)
    await api.work("calendar writes")
    assert await statuses(api, meeting["id"]) == {"PENDING"}  # not before Cronofy said

    clock.advance(seconds=21)
    await api.work("calendar writes")
    assert await statuses(api, meeting["id"]) == {"SYNCED"}


async def test_a_slow_cronofy_answers_within_the_grace_and_finishes_in_the_background(
    api, sandbox, linked, database, clock
):
    await sandbox.fault(path=WRITES, method="POST", delay_seconds=0.6)
    loop = asyncio.get_running_loop()
    started = loop.time()

    meeting = await schedule(api)

    assert loop.time() - started < 0.3 + 0.4
    assert "PENDING" in await statuses(api, meeting["id"])
    for _ in range(50):  # the in-process sync goes on after the answer
        if await statuses(api, meeting["id"]) == {"SYNCED"}:
            break
        await asyncio.sleep(0.1)
    assert await statuses(api, meeting["id"]) == {"SYNCED"}


async def test_timeouts_are_retried(api, sandbox, linked, clock, database):
    await sandbox.fault(path=WRITES, method="POST", delay_seconds=1.5, times=2)  # past the 1 s call timeout
    meeting = await schedule(api)
    assert "PENDING" in await statuses(api, meeting["id"])
    for _ in range(60):  # let the background attempt time out and give its lease back
        if await database["meetings"].count_documents({"lease_owner": None}) == 1:
            break
        await asyncio.sleep(0.05)
    clock.advance(minutes=1)
    await api.work("calendar writes")
    assert await statuses(api, meeting["id"]) == {"SYNCED"}


async def test_an_update_queued_behind_a_cancel_never_brings_the_event_back(api, sandbox, linked, clock):
    await sandbox.fault(path=WRITES, status=503, times=100)
    meeting = await schedule(api)
    await api.data(UPDATE, {"input": {"meetingId": meeting["id"], "title": "Renamed"}})
    await api.data(CANCEL, {"input": {"meetingId": meeting["id"]}})
    await clear(sandbox)

    clock.advance(minutes=5)
    await api.work("calendar writes")

    assert await calendar_events(sandbox) == {}
    assert await event_writes(sandbox) == ["DELETE", "DELETE"]
    assert await statuses(api, meeting["id"]) == {"SYNCED"}


async def test_after_the_retry_budget_a_copy_fails_safely_and_a_later_change_retries_it(api, sandbox, linked, clock):
    await sandbox.fault(path=WRITES, method="POST", status=500, times=100, body={"secret": "upstream-detail"})
    meeting = await schedule(api)
    for _ in range(3):
        clock.advance(minutes=20)
        await api.work("calendar writes")

    failed = (await api.data(MEETING, {"id": meeting["id"]}))["meeting"]
    assert {p["calendarEvent"]["status"] for p in failed["participants"]} == {"FAILED"}
    assert {p["calendarEvent"]["lastError"] for p in failed["participants"]} == {"The calendar service did not answer."}
    clock.advance(hours=1)
    assert (await api.work("calendar writes"))["calendar writes"] == 0  # nothing more is attempted on its own

    await clear(sandbox)
    updated = await api.data(UPDATE, {"input": {"meetingId": meeting["id"], "title": "Try again"}})
    assert {s for _, s in deliveries(updated["updateMeeting"]["meeting"]).values()} == {"SYNCED"}
    assert {e["summary"] for e in (await calendar_events(sandbox)).values()} == {"Try again"}


@asynccontextmanager
async def another_app(settings, database, clock, **changes):
    app = create_app(dataclasses.replace(settings, **changes), database=database, clock=clock)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield Api(client, settings)


async def test_a_new_process_finishes_work_left_pending_or_claimed(settings, database, sandbox, clock):
    # given a process that stops with one meeting pending and another claimed by a worker that died
    async with another_app(settings, database, clock) as first:
        await link_account(first, user="alice", profile_name="alice@example.test")
        await link_account(first, user="bob", profile_name="bob@example.test")
        await sandbox.fault(path=WRITES, status=503, times=100)
        pending = await schedule(first)
        claimed = await schedule(first, title="Claimed")
        now = clock()
        await MeetingStore(database).claim(
            owner="dead-worker",
            now=now,
            until=now + timedelta(seconds=60),
            meeting_id=decode_id("Meeting", claimed["id"]),
        )
    await clear(sandbox)
    clock.advance(minutes=2)  # past the dead worker's lease

    # when a new process starts on the same database
    async with another_app(settings, database, clock, worker_enabled=True, worker_poll_seconds=0.05) as second:
        for _ in range(100):
            if await database["meetings"].count_documents({"sync_due_at": None}) == 2:
                break
            await asyncio.sleep(0.05)
        # then everything completed, exactly once
        assert await statuses(second, pending["id"]) == {"SYNCED"}
        assert await statuses(second, claimed["id"]) == {"SYNCED"}
    assert await event_writes(sandbox) == ["POST"] * 4
    assert len((await sandbox.http.get(f"{sandbox.url}/_control/events")).json()) == 4 + 2  # + seeded externals


async def test_two_workers_on_one_database_never_do_the_same_work(settings, database, sandbox, clock):
    async with another_app(settings, database, clock) as one, another_app(settings, database, clock) as two:
        await link_account(one, user="alice", profile_name="alice@example.test")
        await link_account(one, user="bob", profile_name="bob@example.test")
        await sandbox.fault(path=WRITES, status=503, times=1000)
        meetings = [await schedule(one, title=f"Meeting {i}") for i in range(8)]
        await clear(sandbox)
        clock.advance(minutes=5)

        handled = await asyncio.gather(
            one.work("calendar writes"),
            two.work("calendar writes"),
            one.work("calendar writes"),
            two.work("calendar writes"),
        )

        assert sum(passes["calendar writes"] for passes in handled) == len(meetings)
        for meeting in meetings:
            assert await statuses(one, meeting["id"]) == {"SYNCED"}
    assert await event_writes(sandbox) == ["POST"] * (2 * len(meetings))


@pytest.mark.parametrize("change", ["update", "cancel"])
@pytest.mark.parametrize(
    "fault", [{"status": 503}, {"status": 429, "retry_after": 30}, {"status": 429}, {"delay_seconds": 1.5}]
)
async def test_cronofy_failing_during_update_or_cancel_answers_pending_then_completes(
    api, sandbox, linked, clock, database, change, fault
):
    meeting = await schedule(api)
    await sandbox.fault(path=WRITES, times=2, **fault)
    loop = asyncio.get_running_loop()
    started = loop.time()

    if change == "update":
        payload = await api.data(UPDATE, {"input": {"meetingId": meeting["id"], "title": "Changed"}})
    else:
        payload = await api.data(CANCEL, {"input": {"meetingId": meeting["id"]}})
    changed = next(iter(payload.values()))

    assert changed["userErrors"] == []
    assert loop.time() - started < 0.3 + 0.4  # the grace, not Cronofy's pace
    assert {s for _, s in deliveries(changed["meeting"]).values()} == {"PENDING"}
    for _ in range(60):  # a slow attempt still running in the background gives its lease back
        if await database["meetings"].count_documents({"lease_owner": None}) == 1:
            break
        await asyncio.sleep(0.05)
    clock.advance(minutes=1)
    await api.work("calendar writes")
    assert await statuses(api, meeting["id"]) == {"SYNCED"}
    events = await calendar_events(sandbox)
    if change == "update":
        assert {e["summary"] for e in events.values()} == {"Changed"}
    else:
        assert events == {}
