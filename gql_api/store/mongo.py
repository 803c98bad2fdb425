"""Where the database comes from, and what it must hold before the app serves anything.

All three drivers are built here and nowhere else: motor (the default), PyMongo's
`AsyncMongoClient` (`MONGODB_DRIVER=pymongo`) and mongomock-motor when no `MONGODB_URI` is set.
Code above this module only uses the subset the three share (awaited calls, `async for` on cursors).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from datetime import UTC, datetime
from typing import Any, overload
from urllib.parse import urlsplit

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import PyMongoError

from ..settings import Settings

log = logging.getLogger(__name__)

CONNECTIONS = "calendar_connections"
LINK_STATES = "link_states"
REVOCATIONS = "pending_revocations"
MEETINGS = "meetings"
RATE_WINDOWS = "cronofy_rate_windows"
ERASURES = "erasures"
CHANGE_FEED = "change_feed"
SEQUENCES = "sequences"

DEFAULT_SERVER_SELECTION_MS = 5000

INDEXES: dict[str, list[IndexModel]] = {
    CONNECTIONS: [
        IndexModel([("user_id", ASCENDING), ("sub", ASCENDING)], unique=True, name="user_sub_unique"),
        IndexModel([("user_id", ASCENDING), ("linked_at", DESCENDING)], name="user_newest_first"),
        IndexModel([("sub", ASCENDING)], name="sub"),
        IndexModel([("channel_token", ASCENDING)], name="channel_token", sparse=True),
        IndexModel([("sync_due_at", ASCENDING)], name="changes_due_first"),
        IndexModel([("reconcile_at", ASCENDING)], name="reconcile_due_first", sparse=True),
    ],
    LINK_STATES: [
        # The TTL monitor removes expired states (about once a minute); reads also check expires_at.
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_at_ttl"),
    ],
    REVOCATIONS: [
        IndexModel([("next_attempt_at", ASCENDING)], name="due_first"),
        IndexModel([("subject", ASCENDING)], name="subject", sparse=True),
    ],
    MEETINGS: [
        # meetings(first, after, filter): keyset on (start, _id) within one participant's meetings
        IndexModel(
            [("participant_ids", ASCENDING), ("start", ASCENDING), ("_id", ASCENDING)], name="participant_start"
        ),
        IndexModel([("sync_due_at", ASCENDING)], name="outbox_due_first"),
        IndexModel([("idempotency", ASCENDING)], unique=True, sparse=True, name="idempotency_unique"),
        IndexModel([("copies.connection_id", ASCENDING), ("end", ASCENDING)], name="copies_by_connection_end"),
        # an erasure finds the seats that name a person by address only (services/privacy.py)
        IndexModel([("participants.email", ASCENDING)], name="participant_emails"),
        # (the retention TTL index on `over_at` depends on MEETING_RETENTION_DAYS: store/retention.py)
    ],
    RATE_WINDOWS: [
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_at_ttl"),
    ],
    ERASURES: [
        IndexModel([("next_attempt_at", ASCENDING)], name="due_first"),
        # a finished erasure's receipt is kept a while (`purge_at`), then goes
        IndexModel([("purge_at", ASCENDING)], expireAfterSeconds=0, name="purge_at_ttl"),
    ],
    CHANGE_FEED: [
        # followers read by `_id` (the change's number); a change is kept a few minutes (store/change_feed.py)
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_at_ttl"),
    ],
}


class StoreUnavailable(Exception):
    """MongoDB cannot be reached or refused a start-up command; the message says where and why."""


def open_client(settings: Settings) -> Any:
    if not settings.mongodb_uri:
        from mongomock_motor import AsyncMongoMockClient

        return AsyncMongoMockClient(tz_aware=True)
    options: dict[str, Any] = {"tz_aware": True, "appname": "gql-api"}
    if "serverselectiontimeoutms" not in settings.mongodb_uri.lower():
        options["serverSelectionTimeoutMS"] = DEFAULT_SERVER_SELECTION_MS
    if settings.mongodb_driver == "pymongo":
        from pymongo import AsyncMongoClient

        return AsyncMongoClient(settings.mongodb_uri, **options)
    from motor.motor_asyncio import AsyncIOMotorClient

    return AsyncIOMotorClient(settings.mongodb_uri, **options)


async def close_client(client: Any) -> None:
    result = client.close()  # motor and mongomock close synchronously, PyMongo async awaits
    if inspect.isawaitable(result):
        await result


def describe_uri(uri: str | None) -> str:
    """The hosts of a MongoDB URI without credentials, for messages."""
    if not uri:
        return "the in-memory store"
    return urlsplit(uri).netloc.rpartition("@")[2] or uri.split("://", 1)[-1]


async def prepare(database: Any, *, where: str) -> None:
    """Check the server answers and create every index; raises StoreUnavailable with a clear message."""
    try:
        await database.command("ping")
        for collection, indexes in INDEXES.items():
            await database[collection].create_indexes(indexes)
    except PyMongoError as exc:
        raise StoreUnavailable(f"MongoDB at {where} is not usable: {type(exc).__name__}: {_first_line(exc)}") from None


async def is_ready(database: Any, *, timeout: float = 2.0) -> bool:
    try:
        async with asyncio.timeout(timeout):
            await database.command("ping")
    except (PyMongoError, TimeoutError) as exc:
        log.warning("readiness check failed: %s", type(exc).__name__)
        return False
    return True


def _first_line(exc: Exception) -> str:
    line = str(exc).splitlines()[0] if str(exc) else "no detail"
    return line if len(line) <= 300 else line[:300] + "…"


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: datetime | None) -> datetime | None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """Drivers without tz_aware (and some mocks) hand back naive UTC datetimes."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def object_id(value: str) -> ObjectId | None:
    """The ObjectId a (decoded) public id names; None for anything else, which is then simply not found."""
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        return None
