"""The change feed in MongoDB (store/change_feed.py): numbered changes, read by number, kept a few minutes, and
pushed through a change stream where the deployment has them. On mongomock, and on a real server with
TEST_MONGODB_URI (change streams only when that server is a replica set)."""

from __future__ import annotations

import asyncio
import collections
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mongomock_motor import AsyncMongoMockClient

from gql_api.domain.changes import (
    Change,
    ConnectionChangeKind,
    MeetingChangeKind,
    Topic,
    audience_key,
    connection_change,
)
from gql_api.store import ChangeFeedStore, prepare
from gql_api.store.change_feed import FEED_KEPT, MongoChangeStream
from gql_api.store.mongo import CHANGE_FEED
from gql_api.store.retention import RetentionStore
from tests.support.counting import CountingDatabase
from tests.support.mongodb import real_database

T0 = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(params=["mongomock", "mongodb"])
async def db(request: pytest.FixtureRequest):
    name = f"gql_api_feed_{uuid.uuid4().hex[:16]}"
    if request.param == "mongomock":
        database = AsyncMongoMockClient(tz_aware=True)[name]
        await prepare(database, where="test")
        yield database
        return
    async with real_database("gql_api_feed", why="real-server change feed suite skipped") as database:
        await prepare(database, where="test")
        yield database


def meeting(kind: MeetingChangeKind, subject: str, *users: str) -> Change:
    return Change(Topic.MEETING, kind, subject, frozenset(audience_key(user) for user in users))


async def test_changes_are_numbered_in_the_order_published_and_read_back_whole(db: Any) -> None:
    feed = ChangeFeedStore(db, clock=lambda: T0)
    assert await feed.last_sequence() == 0

    await feed.publish([connection_change(ConnectionChangeKind.LINKED, "c1", "alice")])
    await feed.publish(
        [
            meeting(MeetingChangeKind.SCHEDULED, "m1", "alice", "bob"),
            meeting(MeetingChangeKind.SYNC_STATUS, "m1", "alice", "bob"),
        ]
    )

    assert await feed.last_sequence() == 3
    first, *rest = await feed.read(after=0, limit=10)
    assert first == Change(
        Topic.CONNECTION,
        ConnectionChangeKind.LINKED,
        "c1",
        frozenset({audience_key("alice")}),
        sequence=1,
        published_at=T0,
    )
    assert [(c.sequence, c.kind, c.subject, c.audience) for c in rest] == [
        (2, MeetingChangeKind.SCHEDULED, "m1", frozenset({audience_key("alice"), audience_key("bob")})),
        (3, MeetingChangeKind.SYNC_STATUS, "m1", frozenset({audience_key("alice"), audience_key("bob")})),
    ]


async def test_a_read_takes_what_follows_a_number_and_the_missing_ones_in_order(db: Any) -> None:
    feed = ChangeFeedStore(db, clock=lambda: T0)
    for i in range(6):
        await feed.publish([meeting(MeetingChangeKind.UPDATED, f"m{i}", "bob")])

    assert [c.sequence for c in await feed.read(after=4, limit=10)] == [5, 6]
    assert [c.sequence for c in await feed.read(after=4, missing=[2], limit=10)] == [2, 5, 6]
    assert [c.sequence for c in await feed.read(after=0, limit=3)] == [1, 2, 3]
    assert await feed.read(after=6, limit=10) == []


async def test_publishing_costs_two_commands_however_many_changes_it_carries(db: Any) -> None:
    counts: collections.Counter = collections.Counter()
    feed = ChangeFeedStore(CountingDatabase(db, counts), clock=lambda: T0)

    await feed.publish([meeting(MeetingChangeKind.UPDATED, f"m{i}", "bob") for i in range(5)])

    assert sum(counts.values()) == 2, counts
    assert await feed.last_sequence() == 5


async def test_the_feed_holds_no_user_id_and_is_kept_a_few_minutes(db: Any) -> None:
    feed = ChangeFeedStore(db, clock=lambda: T0)
    await feed.publish([meeting(MeetingChangeKind.SCHEDULED, "m1", "alice-the-user")])

    stored = await db[CHANGE_FEED].find_one({"_id": 1})
    assert "alice-the-user" not in repr(stored)
    assert stored["expires_at"].replace(tzinfo=UTC) == T0 + FEED_KEPT
    indexes = await db[CHANGE_FEED].index_information()
    assert indexes["expires_at_ttl"]["expireAfterSeconds"] == 0

    # and the worker's retention sweep removes it on the service's clock, as the TTL monitor would
    sweep = RetentionStore(db, meeting_retention_days=0)
    assert await sweep.remove_expired(now=T0 + FEED_KEPT - timedelta(seconds=1)) == {}
    assert await sweep.remove_expired(now=T0 + FEED_KEPT) == {CHANGE_FEED: 1}


async def test_a_deployment_without_change_streams_is_read_instead(db: Any) -> None:
    feed = ChangeFeedStore(db, clock=lambda: T0)
    hello = await _hello(db)
    if "setName" in hello or hello.get("msg") == "isdbgrid":
        pytest.skip("this server has change streams (see the next test)")

    assert await feed.listen() is None


async def test_on_a_replica_set_a_change_stream_pushes_what_is_published_after_it_opened(db: Any) -> None:
    hello = await _hello(db)
    if "setName" not in hello and hello.get("msg") != "isdbgrid":
        pytest.skip("no replica set here: no change streams")
    feed = ChangeFeedStore(db, clock=lambda: T0)
    await feed.publish([meeting(MeetingChangeKind.SCHEDULED, "before", "bob")])
    stream = await feed.listen()
    assert stream is not None
    try:
        await feed.publish([meeting(MeetingChangeKind.UPDATED, "after", "bob")])
        async with asyncio.timeout(10):
            change = None
            while change is None:
                change = await stream.next()
        assert (change.sequence, change.subject) == (2, "after")
    finally:
        await stream.close()


async def _hello(db: Any) -> dict[str, Any]:
    try:
        return dict(await db.command("hello"))
    except NotImplementedError:  # mongomock
        return {}


# --- detection and the stream's adapter, over stand-ins of the driver --------------------------------------------


class Answering:
    """A database whose `hello` answers as given (a collection for the feed, doing nothing)."""

    def __init__(self, hello: dict[str, Any]) -> None:
        self.hello = hello
        self.asked = 0

    def __getitem__(self, name: str) -> Any:
        return object()

    async def command(self, name: str) -> dict[str, Any]:
        self.asked += 1
        return self.hello


@pytest.mark.parametrize(
    ("hello", "streams"),
    [({"isWritablePrimary": True}, False), ({"setName": "rs0"}, True), ({"msg": "isdbgrid"}, True)],
    ids=["standalone", "replica set", "mongos"],
)
async def test_change_streams_are_used_on_replica_sets_and_sharded_clusters_asked_once(hello, streams) -> None:
    database = Answering(hello)
    feed = ChangeFeedStore(database, clock=lambda: T0)

    assert await feed._has_change_streams() is streams
    assert await feed._has_change_streams() is streams
    assert database.asked == 1


class DriverStream:
    """Motor's and PyMongo's change streams, as the adapter uses them: try_next, close."""

    def __init__(self, events: list[dict[str, Any] | None]) -> None:
        self.events = events
        self.closed = False

    async def try_next(self) -> dict[str, Any] | None:
        return self.events.pop(0) if self.events else None

    async def close(self) -> None:
        self.closed = True


async def test_the_stream_adapter_gives_changes_then_none_when_none_came() -> None:
    document = {"_id": 7, "topic": "meeting", "kind": "UPDATED", "subject": "m1", "audience": ["k"], "at": T0}
    driver = DriverStream([None, {"operationType": "insert", "fullDocument": document}])
    stream = MongoChangeStream(driver, {"operationType": "insert", "fullDocument": {**document, "_id": 6}})

    assert [(await stream.next()) for _ in range(4)] == [
        Change(Topic.MEETING, MeetingChangeKind.UPDATED, "m1", frozenset({"k"}), sequence=6, published_at=T0),
        None,
        Change(Topic.MEETING, MeetingChangeKind.UPDATED, "m1", frozenset({"k"}), sequence=7, published_at=T0),
        None,
    ]
    await stream.close()
    assert driver.closed
