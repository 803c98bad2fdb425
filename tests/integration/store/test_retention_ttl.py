"""What mongomock (the in-memory store) does with TTL indexes, checked, and why the retention sweep exists.

mongomock 4 emulates a TTL index, but against the wall clock and only as documents are read; MongoDB's TTL
monitor runs about once a minute. The worker's sweep (store/retention.py) removes the same documents by the
service's clock, so what a user sees does not depend on either.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mongomock_motor import AsyncMongoMockClient

from gql_api.store import RetentionStore, prepare, prepare_retention
from gql_api.store.mongo import LINK_STATES, MEETINGS


async def test_mongomock_emulates_ttl_indexes_by_the_wall_clock_and_the_sweep_by_the_services_clock():
    database = AsyncMongoMockClient(tz_aware=True)["ttl_check"]
    await prepare(database, where="test")
    await prepare_retention(database, meeting_retention_days=1)
    wall = datetime.now(UTC)
    states = database[LINK_STATES]
    await states.insert_one({"_id": "past", "user_id": "a", "expires_at": wall - timedelta(seconds=1)})
    await states.insert_one({"_id": "soon", "user_id": "a", "expires_at": wall + timedelta(minutes=10)})
    await database[MEETINGS].insert_one({"_id": "over", "over_at": wall - timedelta(days=2)})

    # mongomock's TTL emulation removed what the wall clock says expired, on the next read
    assert [doc["_id"] async for doc in states.find({})] == ["soon"]
    assert await database[MEETINGS].count_documents({}) == 0

    # the sweep, on a clock ahead of the wall clock (a test's, or a server whose TTL monitor lags), removes
    # what that clock says expired, by the same rule as the TTL index
    sweep = RetentionStore(database, meeting_retention_days=1)
    assert await sweep.remove_expired(now=wall + timedelta(minutes=10) - timedelta(seconds=1)) == {}
    assert await sweep.remove_expired(now=wall + timedelta(minutes=10)) == {LINK_STATES: 1}
