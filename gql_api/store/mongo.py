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


def _held(owner_field: str) -> dict[str, Any]:
    """A partial index's filter: the documents whose lease `owner_field` names a holder (a non-empty string). A
    query for one owner's leases implies it (MongoDB proves `{f: "x"}` within `{f: {$gt: ""}}`); null does not."""
    return {owner_field: {"$gt": ""}}


# Every query the service and the worker run is served by one of these (or by `_id`): the table in
# tests/integration/store/test_query_shapes.py names the index of each query shape and checks it, with `explain`
# on a real server too. Names are part of a deployment: an index whose keys or options change gets a new name.
INDEXES: dict[str, list[IndexModel]] = {
    CONNECTIONS: [
        # save_link and refresh_token_of_account: a user's connection to one account; one per (user, account)
        IndexModel([("user_id", ASCENDING), ("sub", ASCENDING)], unique=True, name="user_sub_unique"),
        # list_for_user and held_since (newest first), calendars_for_users ($in of user ids)
        IndexModel([("user_id", ASCENDING), ("linked_at", DESCENDING)], name="user_newest_first"),
        # grants_of_account and sub_linked_by_another_user: the connections of one Cronofy account
        IndexModel([("sub", ASCENDING)], name="sub"),
        # by_channel_token: Cronofy's push to a channel's callback
        IndexModel([("channel_token", ASCENDING)], name="channel_token", sparse=True),
        # claim_sync: the read due longest, by sync_due_at
        IndexModel([("sync_due_at", ASCENDING)], name="changes_due_first"),
        # followed: the connections being reconciled (reconcile_at set)
        IndexModel([("reconcile_at", ASCENDING)], name="reconcile_due_first", sparse=True),
        # due_for_reconciliation and its backlog: ACTIVE, no read due, reconciliation time come, the most
        # overdue first (equalities, then the range it sorts on: no connection is walked past)
        IndexModel(
            [("status", ASCENDING), ("sync_due_at", ASCENDING), ("reconcile_at", ASCENDING)],
            name="reconcile_due_by_status",
        ),
        # owing_relink_consequences: only the few connections that owe them are in it
        IndexModel(
            [("relink_consequences_owed", ASCENDING)],
            name="relink_consequences_owed",
            partialFilterExpression={"relink_consequences_owed": True},
        ),
        # release_leases at shutdown: only the connections whose reads or refreshes are leased at the moment are
        # in them (a lease owner is a non-empty string; a free lease is null)
        IndexModel(
            [("sync_lease_owner", ASCENDING)],
            name="sync_lease_holders",
            partialFilterExpression=_held("sync_lease_owner"),
        ),
        IndexModel(
            [("refresh_lease_owner", ASCENDING)],
            name="refresh_lease_holders",
            partialFilterExpression=_held("refresh_lease_owner"),
        ),
        # rotate_keys (the rotate-keys command): the credentials under another key than the active one ($ne of
        # the active key id: the bounds skip those already rotated, so each batch starts where the last ended)
        IndexModel([("access_token.kid", ASCENDING)], name="access_token_key"),
        IndexModel([("refresh_token.kid", ASCENDING)], name="refresh_token_key"),
    ],
    LINK_STATES: [
        # The TTL monitor removes expired states (about once a minute); reads also check expires_at.
        # Also the retention sweep's `expires_at` $lte.
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_at_ttl"),
        # of_user (by expiry) and delete_for_user: a user's states, for exports and erasures
        IndexModel([("user_id", ASCENDING), ("expires_at", ASCENDING)], name="user_states"),
    ],
    REVOCATIONS: [
        # claim_due: the revocation due longest
        IndexModel([("next_attempt_at", ASCENDING)], name="due_first"),
        # owed_by: a user's owed revocations, by the pseudonym of their user id
        IndexModel([("subject", ASCENDING)], name="subject", sparse=True),
        # rotate_keys: owed refresh tokens under another key than the active one
        IndexModel([("refresh_token.kid", ASCENDING)], name="refresh_token_key"),
    ],
    MEETINGS: [
        # meetings(first, after, filter): keyset on (start, _id) within one participant's meetings
        # (page_for_participant); also of_person's and forget_idempotency_keys' `participant_ids`
        IndexModel(
            [("participant_ids", ASCENDING), ("start", ASCENDING), ("_id", ASCENDING)], name="participant_start"
        ),
        # claim (the outbox's most overdue meeting) and outbox_stats (how many are due, since when)
        IndexModel([("sync_due_at", ASCENDING)], name="outbox_due_first"),
        # by_idempotency_key, and the uniqueness of an organizer's keys
        IndexModel([("idempotency", ASCENDING)], unique=True, sparse=True, name="idempotency_unique"),
        # the meetings with a copy on one calendar: has_upcoming_on (with `end`), fail_copies_on, retry_failed_on,
        # with_copies_on
        IndexModel([("copies.connection_id", ASCENDING), ("end", ASCENDING)], name="copies_by_connection_end"),
        # an erasure finds the seats that name a person by address only (of_person; services/privacy.py)
        IndexModel([("participants.email", ASCENDING)], name="participant_emails"),
        # release_all at shutdown: only the meetings leased at the moment are in it
        IndexModel([("lease_owner", ASCENDING)], name="lease_holders", partialFilterExpression=_held("lease_owner")),
        # (the retention TTL index on `over_at` depends on MEETING_RETENTION_DAYS: store/retention.py; it also
        # serves the retention sweep's `over_at` $lte)
    ],
    RATE_WINDOWS: [
        # the windows themselves are read and counted by `_id` (rate_budget.py, user_limits.py); this is the
        # TTL index, and the retention sweep's `expires_at` $lte
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_at_ttl"),
    ],
    ERASURES: [
        # claim_due: the erasure in progress due longest (the others go by `_id`, the subject)
        IndexModel([("next_attempt_at", ASCENDING)], name="due_first"),
        # a finished erasure's receipt is kept a while (`purge_at`), then goes (and the retention sweep's $lte)
        IndexModel([("purge_at", ASCENDING)], expireAfterSeconds=0, name="purge_at_ttl"),
    ],
    CHANGE_FEED: [
        # followers read by `_id` (the change's number); a change is kept a few minutes (store/change_feed.py)
        # (and the retention sweep's `expires_at` $lte)
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_at_ttl"),
    ],
    # SEQUENCES: one counter document, by `_id`
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
