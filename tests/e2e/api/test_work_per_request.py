"""Work per request, counted (not timed): MongoDB commands of the hot reads stay constant however
many items there are (no N+1), and a meeting's calendar copies are written concurrently."""

from __future__ import annotations

import collections
import dataclasses

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gql_api import create_app
from tests.support.api import Api
from tests.support.counting import CountingDatabase
from tests.support.documents import CONNECTIONS, MEETINGS
from tests.support.factories import deliveries, link_account, schedule

MEETINGS_WITH_PARTICIPANTS = """
query { meetings(first: 20) { edges { node { id title participants { email response
  calendarEvent { delivery status lastError syncedAt } } organizer { email } } } pageInfo { hasNextPage } } }"""


@pytest.fixture
async def counted(settings, database, clock, api_port, sandbox):
    counts: collections.Counter = collections.Counter()
    app = create_app(settings, database=CountingDatabase(database, counts), clock=clock)
    async with TestClient(TestServer(app, host="127.0.0.1", port=api_port)) as client:
        api = Api(client, settings)
        api.sandbox = sandbox
        yield api, counts


async def commands_for(api: Api, counts: collections.Counter, query: str) -> int:
    # the channels' verification pushes arrive in the background: let them land before counting
    await api.sandbox.http.get(f"{api.sandbox.url}/_control/pushes", params={"wait": 2})
    counts.clear()
    await api.data(query)
    return sum(counts.values())


async def test_connection_status_costs_the_same_for_one_or_five_connections(counted):
    api, counts = counted
    await link_account(api, profile_name="first@example.test")
    one = await commands_for(api, counts, CONNECTIONS)
    for i in range(4):
        await link_account(api, profile_name=f"more{i}@example.test")
    five = await commands_for(api, counts, CONNECTIONS)

    assert one == five == 1, counts


async def test_a_meetings_page_costs_the_same_for_two_or_forty_meetings(counted):
    api, counts = counted
    await link_account(api, user="bob", profile_name="bob@example.test")
    for i in range(2):
        await schedule(api, title=f"m{i}")
    two = await commands_for(api, counts, MEETINGS_WITH_PARTICIPANTS)
    for i in range(38):
        await schedule(api, title=f"n{i}")
    forty = await commands_for(api, counts, MEETINGS_WITH_PARTICIPANTS)

    assert two == forty == 1
    assert await commands_for(api, counts, MEETINGS) == 1


async def test_a_schedule_writes_one_event_per_copy_and_all_at_once(api, sandbox, settings, database, clock):
    await link_account(api, user="alice", profile_name="alice@example.test")
    await link_account(api, user="bob", profile_name="bob@example.test")
    await sandbox.http.delete(f"{sandbox.url}/_control/requests")
    # each calendar answers in 0.6 s; the answer may wait 1 s: only concurrent writes make it
    await sandbox.fault(path="/v1/calendars/", method="POST", delay_seconds=0.6, times=2)
    quick = dataclasses.replace(settings, sync_grace_seconds=1.0)
    async with TestClient(TestServer(create_app(quick, database=database, clock=clock), host="127.0.0.1")) as c:
        meeting = await schedule(Api(c, quick))

    writes = [r for r in await sandbox.requests() if r["path"].startswith("/v1/calendars/")]
    assert len(writes) == 2
    assert {status for _, status in deliveries(meeting).values()} == {"SYNCED"}
