"""The change feed: what changed, for whom, numbered in the order it was published (services/live.py).

`change_feed` holds one small document per change, `_id` its number: the topic, the kind, the object's id and
its audience (pseudonyms of user ids, never the ids), kept FEED_KEPT by a TTL index (and the retention sweep).
The numbers come from one counter document (`sequences`, `_id: "change_feed"`): publishing is two commands
however many changes it carries, `$inc` on the counter then one insert.

Followers read it by number (`read`), or, on a replica set or sharded cluster, through a change stream on its
inserts (`listen`); detected once with `hello`, since standalone servers and the in-memory store have none.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import PyMongoError

from ..domain.changes import KINDS, Change, Topic
from ..domain.time import Clock
from .mongo import CHANGE_FEED, SEQUENCES, as_utc

log = logging.getLogger(__name__)

FEED_KEPT = timedelta(minutes=10)  # a follower more than this behind misses changes (it only ever lags by seconds)
COUNTER = "change_feed"
STREAM_WAIT_MS = 1000  # a change stream's wait for the next change before it answers "none yet"


class ChangeFeedStore:
    def __init__(self, database: Any, *, clock: Clock, kept: timedelta = FEED_KEPT) -> None:
        self._database = database
        self._feed = database[CHANGE_FEED]
        self._sequences = database[SEQUENCES]
        self._clock = clock
        self._kept = kept
        self._streams: bool | None = None  # whether this deployment has change streams (asked once)

    async def publish(self, changes: Sequence[Change]) -> None:
        if not changes:
            return
        counter = await self._sequences.find_one_and_update(
            {"_id": COUNTER}, {"$inc": {"value": len(changes)}}, upsert=True, return_document=ReturnDocument.AFTER
        )
        first = counter["value"] - len(changes) + 1
        now = self._clock()
        await self._feed.insert_many(
            [
                {
                    "_id": first + offset,
                    "topic": change.topic.value,
                    "kind": change.kind.value,
                    "subject": change.subject,
                    "audience": sorted(change.audience),
                    "at": now,
                    "expires_at": now + self._kept,
                }
                for offset, change in enumerate(changes)
            ],
            ordered=False,
        )

    async def last_sequence(self) -> int:
        counter = await self._sequences.find_one({"_id": COUNTER})
        return int(counter["value"]) if counter else 0

    async def read(self, *, after: int, missing: Sequence[int] = (), limit: int) -> list[Change]:
        query: dict[str, Any] = {"_id": {"$gt": after}}
        if missing:
            query = {"$or": [query, {"_id": {"$in": list(missing)}}]}
        cursor = self._feed.find(query).sort("_id", 1).limit(limit)
        return [_change(doc) async for doc in cursor]

    async def listen(self) -> MongoChangeStream | None:
        if not await self._has_change_streams():
            return None
        stream = self._feed.watch([{"$match": {"operationType": "insert"}}], max_await_time_ms=STREAM_WAIT_MS)
        if inspect.isawaitable(stream):  # PyMongo's AsyncCollection.watch is a coroutine, motor's is not
            stream = await stream
        first = await stream.try_next()  # opens it now: whatever is published from here on comes through it
        return MongoChangeStream(stream, first)

    async def _has_change_streams(self) -> bool:
        """A replica set (`setName`) or a mongos (`isdbgrid`) has change streams; a standalone server, and
        mongomock (which knows no `hello`), do not."""
        if self._streams is None:
            try:
                hello = await self._database.command("hello")
            except (PyMongoError, NotImplementedError) as exc:
                log.info("live updates: no `hello` (%s): following the change feed by reading it", type(exc).__name__)
                hello = {}
            self._streams = "setName" in hello or hello.get("msg") == "isdbgrid"
            how = "by a change stream" if self._streams else "by reading it"
            log.info("live updates follow the change feed %s", how)
        return self._streams


class MongoChangeStream:
    """A change stream on the feed's inserts, as `services.ports.ChangeStream`."""

    def __init__(self, stream: Any, first: dict[str, Any] | None) -> None:
        self._stream = stream
        self._first = first

    async def next(self) -> Change | None:
        event, self._first = self._first, None
        if event is None:
            event = await self._stream.try_next()
        return _change(event["fullDocument"]) if event is not None else None

    async def close(self) -> None:
        result = self._stream.close()
        if inspect.isawaitable(result):
            await result


def _change(doc: dict[str, Any]) -> Change:
    topic = Topic(doc["topic"])
    return Change(
        topic=topic,
        kind=KINDS[topic](doc["kind"]),
        subject=doc["subject"],
        audience=frozenset(doc["audience"]),
        sequence=int(doc["_id"]),
        published_at=as_utc(doc.get("at")),
    )
