"""Every query the store runs, by shape, and the index that serves it: the store scales with the users.

`QUERIES` is the table: one entry per query shape (the collection, the filter's fields and operators, the sort)
with the index meant to serve it, `_id_` for lookups by `_id`. It checks itself, so it cannot go stale:

- the store suite's flows, the contract suite's flows on the store and a few more (`_more_flows`) run on
  mongomock through a database that records every query a store method sends; each recorded shape must match
  exactly one entry, every entry must have been seen, and every public store method must have been run;
- each entry's index must exist (`INDEXES`, the retention index, or `_id_`), its leading key field must be one
  the filter constrains, and a sparse or partial index must be one the filter can use (no null where the index
  has none; the values queried satisfy a partial index's filter);
- with TEST_MONGODB_URI set, each recorded shape is explained on a real server with every index made by
  `prepare`: no winning plan scans a collection.

In the table, a field is written alone for an equality, `field=null` for an equality with null, `field $op` for
operators, `$or(a | b)` for a disjunction (its branches sorted); `?` marks a part that a query may leave out.
An `$or`-only filter names one index per branch: `index_a | index_b`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import dataclasses
import inspect
import os
import re
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mongomock.filtering import filter_applies
from mongomock_motor import AsyncMongoMockClient

import gql_api.store
from gql_api.cronofy.budget import Priority, Purpose, Spending
from gql_api.cronofy.errors import BudgetDeferred
from gql_api.domain.connections import CalendarProvider, Credential
from gql_api.domain.secrets import Secret
from gql_api.store import (
    ChangeFeedStore,
    ConnectionStore,
    ErasureStore,
    LinkStateStore,
    MeetingStore,
    MongoRateBudget,
    MongoUserRateLimit,
    RetentionStore,
    RevocationStore,
    prepare,
    prepare_retention,
)
from gql_api.store.mongo import (
    CHANGE_FEED,
    CONNECTIONS,
    ERASURES,
    INDEXES,
    LINK_STATES,
    MEETINGS,
    RATE_WINDOWS,
    REVOCATIONS,
    SEQUENCES,
)
from gql_api.store.retention import RETENTION_INDEX
from gql_api.vault import KeyRing, Vault
from tests.contract import test_fakes_match_store as contract
from tests.integration.store import test_change_feed, test_store_suite
from tests.support.api import KEYS
from tests.support.mongodb import real_database

ID = "_id_"  # MongoDB's own index on `_id`


@dataclasses.dataclass(frozen=True)
class Query:
    collection: str
    filter: str
    index: str
    sort: str = ""


QUERIES: tuple[Query, ...] = (
    # --- calendar_connections ---------------------------------------------------------------------------------
    # with_credential, owner_of, refresh_token_of, store_credential, prepare_channel, channel_open, note_changes,
    # relink_consequences_done
    Query(CONNECTIONS, "_id", ID),
    # get_for_user, delete_for_user, save_link's upsert
    Query(CONNECTIONS, "_id, user_id", ID),
    Query(CONNECTIONS, "$or(refresh_lease_until $lte | refresh_lease_until=null), _id", ID),  # take_refresh_lease
    Query(CONNECTIONS, "_id, refresh_lease_owner", ID),  # release_refresh_lease
    Query(CONNECTIONS, "_id, status", ID),  # mark_needs_relink
    Query(CONNECTIONS, "_id $in, reconcile_at=null", ID),  # follow
    Query(CONNECTIONS, "_id, sync_lease_owner, sync_requests?", ID),  # finish_sync
    Query(CONNECTIONS, "_id, access_token, refresh_token", ID),  # rotate_keys' guarded write
    Query(CONNECTIONS, "user_id", "user_newest_first", sort="linked_at -1, _id -1"),  # list_for_user
    Query(CONNECTIONS, "user_id", "user_newest_first"),  # held_since
    Query(CONNECTIONS, "calendar $ne, status $in, user_id $in", "user_newest_first", sort="linked_at -1, _id -1"),
    Query(CONNECTIONS, "sub, user_id", "user_sub_unique"),  # save_link, refresh_token_of_account
    Query(CONNECTIONS, "sub", "sub"),  # grants_of_account
    Query(CONNECTIONS, "sub, user_id $ne", "sub"),  # sub_linked_by_another_user
    Query(CONNECTIONS, "channel_token", "channel_token"),  # by_channel_token
    Query(CONNECTIONS, "relink_consequences_owed", "relink_consequences_owed"),  # owing_relink_consequences
    # due_for_reconciliation: the most overdue first, up to the pace's limit, then made due by `_id`
    Query(CONNECTIONS, "reconcile_at $lte, status, sync_due_at=null", "reconcile_due_by_status", sort="reconcile_at 1"),
    Query(CONNECTIONS, "reconcile_at $lte, status, sync_due_at=null", "reconcile_due_by_status"),  # the backlog
    Query(CONNECTIONS, "_id $in, reconcile_at $lte, status, sync_due_at=null", ID),
    Query(CONNECTIONS, "reconcile_at $gte", "reconcile_due_first"),  # followed
    Query(  # claim_sync (of one connection: `_id`)
        CONNECTIONS,
        "$or(sync_lease_until $lte | sync_lease_until=null), _id?, status, sync_due_at $lte",
        "changes_due_first",
        sort="sync_due_at 1",
    ),
    Query(CONNECTIONS, "sync_lease_owner", "sync_lease_holders"),  # release_leases
    Query(CONNECTIONS, "refresh_lease_owner", "refresh_lease_holders"),  # release_leases
    Query(  # rotate_keys
        CONNECTIONS, "$or(access_token.kid $ne | refresh_token.kid $ne)", "access_token_key | refresh_token_key"
    ),
    # --- link_states --------------------------------------------------------------------------------------------
    Query(LINK_STATES, "_id, expires_at $gt, used_at=null, user_id", ID),  # consume
    Query(LINK_STATES, "user_id", "user_states", sort="expires_at 1"),  # of_user
    Query(LINK_STATES, "user_id", "user_states"),  # delete_for_user
    Query(LINK_STATES, "expires_at $lte", "expires_at_ttl"),  # the retention sweep
    # --- pending_revocations --------------------------------------------------------------------------------------
    Query(REVOCATIONS, "_id", ID),  # done, retry_later
    Query(REVOCATIONS, "_id, refresh_token", ID),  # rotate_keys' guarded write
    Query(REVOCATIONS, "next_attempt_at $lte", "due_first", sort="next_attempt_at 1"),  # claim_due
    Query(REVOCATIONS, "subject", "subject", sort="created_at 1"),  # owed_by
    Query(REVOCATIONS, "refresh_token $ne, refresh_token.kid $ne", "refresh_token_key"),  # rotate_keys
    # --- meetings -----------------------------------------------------------------------------------------------
    Query(MEETINGS, "_id", ID),  # get, set_responses
    Query(MEETINGS, "_id, participant_ids", ID),  # for_participant
    Query(MEETINGS, "_id $in, participant_ids", ID),  # for_participant_many
    # change; the version-guarded writes (_follow_calendar, copy_removed, save_answer, save_erased,
    # _each_next_version)
    Query(MEETINGS, "_id, status?, version", ID),
    Query(MEETINGS, "_id, lease_owner, version?", ID),  # finish
    Query(MEETINGS, "idempotency", "idempotency_unique"),  # by_idempotency_key
    Query(  # page_for_participant: a keyset page (after a cursor: the `$or`)
        MEETINGS,
        "$or(_id $gt, start | start $gt)?, end $gte?, participant_ids, start $lt?, status?",
        "participant_start",
        sort="start 1, _id 1",
    ),
    Query(  # forget_idempotency_keys
        MEETINGS, "idempotency $exists, organizer_id, participant_ids", "participant_start"
    ),
    Query(MEETINGS, "$or(participant_ids)", "participant_start", sort="start 1, _id 1"),  # of_person
    Query(  # of_person, with addresses: the seats without a user, by address (case-insensitive regexes)
        MEETINGS,
        "$or(participant_ids | participants $elemMatch(email $in, user_id=null))",
        "participant_start | participant_emails",
        sort="start 1, _id 1",
    ),
    Query(MEETINGS, "copies.connection_id, end $gt, status", "copies_by_connection_end"),  # has_upcoming_on
    Query(MEETINGS, "copies.connection_id, status?", "copies_by_connection_end"),  # fail_copies_on, retry_failed_on
    Query(  # with_copies_on
        MEETINGS, "copies.connection_id $in", "copies_by_connection_end", sort="start 1, _id 1"
    ),
    Query(  # claim (of one meeting: `_id`)
        MEETINGS,
        "$or(lease_until $lte | lease_until=null), _id?, sync_due_at $lte",
        "outbox_due_first",
        sort="sync_due_at 1",
    ),
    Query(MEETINGS, "sync_due_at $ne", "outbox_due_first"),  # outbox_stats: how many
    Query(MEETINGS, "sync_due_at $ne", "outbox_due_first", sort="sync_due_at 1"),  # outbox_stats: since when
    Query(MEETINGS, "lease_owner", "lease_holders"),  # release_all
    Query(MEETINGS, "over_at $lte", RETENTION_INDEX),  # the retention sweep
    # --- erasures (`_id` is the subject) ---------------------------------------------------------------------
    Query(ERASURES, "_id", ID),  # get, learned, count
    Query(ERASURES, "$or(lease_until $lte | lease_until=null), _id", ID),  # begin
    Query(ERASURES, "_id, lease_owner", ID),  # wait, finish
    Query(  # claim_due
        ERASURES,
        "$or(lease_until $lte | lease_until=null), next_attempt_at $lte, status",
        "due_first",
        sort="next_attempt_at 1",
    ),
    Query(ERASURES, "purge_at $lte", "purge_at_ttl"),  # the retention sweep
    # --- the Cronofy rate budget and the users' rate limits: one window document each, by `_id` ------------------
    Query(RATE_WINDOWS, "_id", ID),
    Query(RATE_WINDOWS, "expires_at $lte", "expires_at_ttl"),  # the retention sweep
    # --- the change feed (`_id` is the change's number) and its counter -------------------------------------
    Query(CHANGE_FEED, "_id $gt", ID, sort="_id 1"),  # read
    Query(CHANGE_FEED, "$or(_id $gt | _id $in)", f"{ID} | {ID}", sort="_id 1"),  # read, with missing numbers
    Query(CHANGE_FEED, "expires_at $lte", "expires_at_ttl"),  # the retention sweep
    Query(SEQUENCES, "_id", ID),  # publish, last_sequence
)

STORES = (
    ChangeFeedStore,
    ConnectionStore,
    ErasureStore,
    LinkStateStore,
    MeetingStore,
    MongoRateBudget,
    MongoUserRateLimit,
    RetentionStore,
    RevocationStore,
)
NOT_QUERIES = {
    "MeetingStore.new_id": "makes an id",
    "ChangeFeedStore.listen": "opens a change stream on the feed's inserts: it follows the oplog, no query",
}

# --- shapes ----------------------------------------------------------------------------------------------------


def shape(query: Mapping[str, Any]) -> str:
    """The filter's fields and operators, canonical: what the table lists."""
    return ", ".join(sorted(_tokens(query)))


def _tokens(query: Mapping[str, Any]) -> Iterator[str]:
    for name, value in query.items():
        if name == "$and":
            for part in value:
                yield from _tokens(part)
        elif name == "$or":
            yield "$or(" + " | ".join(sorted(shape(branch) for branch in value)) + ")"
        elif name.startswith("$"):
            raise AssertionError(f"{name}: a top-level operator this table does not know yet")
        else:
            yield _field(name, value)


def _field(name: str, value: Any) -> str:
    if isinstance(value, re.Pattern):
        return f"{name} $regex"
    if isinstance(value, Mapping) and value and all(key.startswith("$") for key in value):
        operators = [
            f"$elemMatch({shape(argument)})" if operator == "$elemMatch" else operator
            for operator, argument in sorted(value.items())
        ]
        return f"{name} {' '.join(operators)}"
    return f"{name}=null" if value is None else name


def sort_pairs(spec: Any) -> list[tuple[str, int]]:
    """A driver's sort argument (`[(field, direction), ...]`, or one field and its direction) as pairs."""
    if not spec:
        return []
    if isinstance(spec, tuple):
        return [spec]
    return [(item, 1) if isinstance(item, str) else (item[0], item[1]) for item in spec]


def split(text: str, separator: str) -> list[str]:
    """`text` split on `separator` outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and text.startswith(separator, i):
            parts.append(text[start:i])
            start = i + len(separator)
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]


def parts_of(entry: Query) -> tuple[set[str], set[str]]:
    """(required, optional) parts of an entry's filter."""
    tokens = split(entry.filter, ", ")
    return {t for t in tokens if not t.endswith("?")}, {t[:-1] for t in tokens if t.endswith("?")}


def matches(entry: Query, collection: str, filter_shape: str, sort: str) -> bool:
    required, optional = parts_of(entry)
    tokens = set(split(filter_shape, ", "))
    return (entry.collection, entry.sort) == (collection, sort) and required <= tokens <= required | optional


# --- recording what the store sends -----------------------------------------------------------------------------

QUERY_METHODS = {
    "find",
    "find_one",
    "find_one_and_update",
    "find_one_and_delete",
    "find_one_and_replace",
    "update_one",
    "update_many",
    "replace_one",
    "delete_one",
    "delete_many",
    "count_documents",
}
OTHER_METHODS = {"insert_one", "insert_many", "watch", "create_indexes", "index_information", "drop_index"}
STORE_DIR = str(Path(gql_api.store.__file__).parent) + os.sep


@dataclasses.dataclass
class Seen:
    collection: str
    method: str
    filter: dict[str, Any]
    caller: str
    sort_spec: list[tuple[str, int]] = dataclasses.field(default_factory=list)

    @property
    def sort(self) -> str:
        return ", ".join(f"{name} {direction}" for name, direction in self.sort_spec)

    @property
    def shape(self) -> tuple[str, str, str]:
        return self.collection, shape(self.filter), self.sort


@dataclasses.dataclass
class Recording:
    queries: list[Seen] = dataclasses.field(default_factory=list)
    callers: set[str] = dataclasses.field(default_factory=set)  # store methods that used a collection
    unknown: list[str] = dataclasses.field(default_factory=list)


def _store_caller() -> str | None:
    """The outermost store method on the stack (the public one a service called), if any."""
    frame, found = sys._getframe(2), None
    while frame is not None:
        if frame.f_code.co_filename.startswith(STORE_DIR):
            found = frame.f_code.co_qualname
        frame = frame.f_back
    return found


class RecordingDatabase:
    """A motor-style database that records each query a store method sends (tests' own reads are left out)."""

    def __init__(self, database: Any, recording: Recording) -> None:
        self._database, self._recording = database, recording

    def __getitem__(self, name: str) -> _RecordingCollection:
        return _RecordingCollection(self._database[name], name, self._recording)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._database, name)


class _RecordingCollection:
    def __init__(self, collection: Any, name: str, recording: Recording) -> None:
        self._collection, self._name, self._recording = collection, name, recording

    def __getattr__(self, method: str) -> Any:
        attribute = getattr(self._collection, method)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            caller = _store_caller()
            if caller is None:
                return attribute(*args, **kwargs)
            self._recording.callers.add(caller)
            if method not in QUERY_METHODS:
                if method not in OTHER_METHODS:
                    self._recording.unknown.append(f"{caller}: {self._name}.{method}")
                return attribute(*args, **kwargs)
            query = args[0] if args else kwargs.get("filter", {})
            seen = Seen(self._name, method, copy.deepcopy(query), caller, sort_pairs(kwargs.get("sort")))
            self._recording.queries.append(seen)
            result = attribute(*args, **kwargs)
            return _RecordingCursor(result, seen) if method == "find" else result

        return call


class _RecordingCursor:
    def __init__(self, cursor: Any, seen: Seen) -> None:
        self._cursor, self._seen = cursor, seen

    def sort(self, *spec: Any) -> _RecordingCursor:
        self._seen.sort_spec = sort_pairs(spec if len(spec) == 2 else spec[0])
        self._cursor = self._cursor.sort(*spec)
        return self

    def limit(self, count: int) -> _RecordingCursor:
        self._cursor = self._cursor.limit(count)
        return self

    def __aiter__(self) -> Any:
        return self._cursor.__aiter__()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


# --- the flows --------------------------------------------------------------------------------------------------


async def _fresh(recording: Recording) -> RecordingDatabase:
    database = AsyncMongoMockClient(tz_aware=True)[f"shapes_{uuid.uuid4().hex[:12]}"]
    await prepare(database, where="test")
    return RecordingDatabase(database, recording)


async def _run_module(
    module: Any, fixtures: Callable[[RecordingDatabase], Awaitable[dict[str, Any]]], recording: Recording
) -> int:
    """Run each test of `module` whose arguments `fixtures` provides, on a fresh recorded database."""
    ran = 0
    for name, test in inspect.getmembers(module, inspect.iscoroutinefunction):
        if not name.startswith("test_"):
            continue
        provided = await fixtures(await _fresh(recording))
        wanted = list(inspect.signature(test).parameters)
        if not set(wanted) <= set(provided):
            continue
        try:
            await test(**{parameter: provided[parameter] for parameter in wanted})
        except pytest.skip.Exception:
            continue
        ran += 1
    return ran


async def _suite_fixtures(database: RecordingDatabase) -> dict[str, Any]:
    vault = Vault(KeyRing.parse(KEYS))
    return {"db": database, "vault": vault, "connections": ConnectionStore(database, vault)}


async def _feed_fixtures(database: RecordingDatabase) -> dict[str, Any]:
    return {"db": database}


async def _contract_fixtures(database: RecordingDatabase) -> dict[str, Any]:
    await prepare_retention(database, meeting_retention_days=contract.RETENTION_DAYS)
    vault = Vault(KeyRing.ephemeral())
    repos = contract.Repositories(
        ConnectionStore(database, vault),
        LinkStateStore(database),
        MeetingStore(database),
        RevocationStore(database, vault),
        MongoUserRateLimit(database, per_minute=3),
        ErasureStore(database),
        RetentionStore(database, meeting_retention_days=contract.RETENTION_DAYS),
    )
    return {"repos": repos, "feed": ChangeFeedStore(database, clock=lambda: contract.T0)}


async def _more_flows(database: RecordingDatabase) -> None:
    """What the suites above leave out: shutdown, key rotation, the Cronofy budget, a few reads."""
    now = datetime.now(UTC).replace(microsecond=0)
    old_ring = KeyRing(active_kid="old", keys={"old": os.urandom(32)})
    old = Vault(old_ring)
    connections = ConnectionStore(database, old)
    credential = Credential(Secret("access"), Secret("refresh"), now + timedelta(hours=1))
    linked = await connections.save_link(
        user_id="alice",
        sub="acc_1",
        provider=CalendarProvider.GOOGLE,
        profile_name="alice@x.test",
        scopes=(),
        calendar=None,
        data_center="us",
        credential=credential,
        now=now,
    )
    assert await connections.owner_of(linked.id) == "alice"
    assert len(await connections.grants_of_account("acc_1")) == 1
    await connections.note_changes(linked.id, since=None, now=now)
    assert await connections.claim_sync(owner="w1", now=now, until=now + timedelta(minutes=1)) is not None
    assert await connections.take_refresh_lease(linked.id, owner="w1", now=now, until=now + timedelta(minutes=1))
    assert await connections.release_leases(owner="w1") == 2

    revocations = RevocationStore(database, old)
    await revocations.add_claimed(
        refresh_token=Secret("owed"), data_center="us", now=now, lease_until=now, subject="s1", sub="acc_1"
    )
    new = Vault(KeyRing(active_kid="new", keys={"new": os.urandom(32), **old_ring.keys}))  # still reads the old
    assert await ConnectionStore(database, new).rotate_keys(batch_size=10) == (1, 1)
    assert await RevocationStore(database, new).rotate_keys(batch_size=10) == (1, 1)

    meetings = MeetingStore(database)
    repos = contract.Repositories(connections, None, meetings, revocations, None, None, None)
    meeting = contract.a_meeting(repos)
    await meetings.insert(meeting, idempotency_key=None, now=now)
    assert await meetings.has_upcoming_on("c_alice", now=now) is (meeting.end > now)
    after = dataclasses.replace(meeting, version=meeting.version + 1)
    assert await meetings.save_answer(meeting, after, now=now)
    assert await meetings.claim(owner="w1", now=now, until=now + timedelta(minutes=1)) is not None
    assert await meetings.release_all(owner="w1", now=now) == 1

    budget = MongoRateBudget(database, per_second=50, per_minute=500, clock=lambda: now.timestamp())
    await budget.acquire(Spending(Purpose.PUSH_READ, Priority.PUSH, user_id="alice"))
    await budget.acquire(Spending(Purpose.LINKING, Priority.USER))
    tiny = MongoRateBudget(database, per_second=2, per_minute=2, clock=lambda: now.timestamp())
    await tiny.acquire(Spending(Purpose.RECONCILIATION, Priority.SWEEP))
    with pytest.raises(BudgetDeferred):  # what it took is given back
        await tiny.acquire(Spending(Purpose.RECONCILIATION, Priority.SWEEP))


async def _record() -> Recording:
    recording = Recording()
    assert await _run_module(test_store_suite, _suite_fixtures, recording) > 0
    assert await _run_module(test_change_feed, _feed_fixtures, recording) > 0
    assert await _run_module(contract, _contract_fixtures, recording) > 0
    await _more_flows(await _fresh(recording))
    return recording


# --- the checks ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recording() -> Recording:
    with concurrent.futures.ThreadPoolExecutor(1) as thread:  # its own event loop, whatever runs in this one
        return thread.submit(asyncio.run, _record()).result()


def entry_of(seen: Seen) -> Query:
    found = [entry for entry in QUERIES if matches(entry, *seen.shape)]
    assert len(found) == 1, f"{seen.caller}: {seen.shape} matches {len(found)} entries of QUERIES: {found}"
    return found[0]


def test_every_store_method_runs_and_every_query_it_sends_is_in_the_table(recording: Recording) -> None:
    public = {
        f"{store.__name__}.{name}"
        for store in STORES
        for name, function in vars(store).items()
        if not name.startswith("_") and inspect.isfunction(function)
    }
    assert public - recording.callers - set(NOT_QUERIES) == set(), "store methods no flow here runs"
    assert recording.unknown == [], "collection methods this recorder does not know (a new kind of query?)"
    unlisted = {
        seen.shape: seen.caller for seen in recording.queries if not any(matches(e, *seen.shape) for e in QUERIES)
    }
    assert unlisted == {}, "query shapes missing from QUERIES (and the index serving each)"
    for seen in recording.queries:
        entry_of(seen)  # one entry each, not two


def test_every_entry_of_the_table_is_a_query_the_store_sends(recording: Recording) -> None:
    shapes = {seen.shape for seen in recording.queries}
    stale = [entry for entry in QUERIES if not any(matches(entry, *shape) for shape in shapes)]
    assert stale == []


def declared_indexes() -> dict[str, dict[str, Mapping[str, Any]]]:
    """Each collection's indexes by name: `INDEXES`, the meetings' retention index, and `_id`'s."""
    declared = {
        collection: {model.document["name"]: model.document for model in INDEXES.get(collection, [])}
        for collection in {*INDEXES, SEQUENCES}
    }
    for indexes in declared.values():
        indexes[ID] = {"name": ID, "key": {"_id": 1}}
    declared[MEETINGS][RETENTION_INDEX] = {"name": RETENTION_INDEX, "key": {"over_at": 1}}
    return declared


async def test_prepare_makes_every_index_declared_here_on_mongomock_too() -> None:
    """mongomock takes partial indexes (it ignores their filter: none of them is unique, so nothing differs)."""
    database = AsyncMongoMockClient(tz_aware=True)["shapes_prepare"]
    await prepare(database, where="test")
    await prepare_retention(database, meeting_retention_days=1)
    await database[SEQUENCES].insert_one({"_id": "probe"})
    for collection, indexes in declared_indexes().items():
        made = await database[collection].index_information()
        assert {name: dict(made[name]["key"]) for name in indexes} == {
            name: dict(index["key"]) for name, index in indexes.items()
        }


SEEKS = {"", "=null", "$in", "$gt", "$gte", "$lt", "$lte", "$ne", "$regex", "$exists"}  # operators with index bounds


def constrained(tokens: list[str]) -> dict[str, set[str]]:
    """Field -> its operators in a filter's parts ("" for an equality), fields within `$elemMatch` included;
    `$or` parts are left out (only a part every match satisfies can lead an index scan)."""
    fields: dict[str, set[str]] = {}
    for token in tokens:
        if token.startswith("$or("):
            continue
        name, _, rest = token.partition(" ")
        if name.endswith("=null"):
            fields.setdefault(name.removesuffix("=null"), set()).add("=null")
        elif rest.startswith("$elemMatch("):
            for inner, operators in constrained(split(rest[len("$elemMatch(") : -1], ", ")).items():
                fields.setdefault(f"{name}.{inner}", set()).update(operators)
        else:
            fields.setdefault(name, set()).update(rest.split() or [""])
    return fields


def per_branch(entry: Query) -> bool:
    """Whether the entry's filter is one `$or`, each branch served by an index of its own."""
    required, _ = parts_of(entry)
    return all(token.startswith("$or(") for token in required)


def served_by(entry: Query) -> list[tuple[str, list[str]]]:
    """(index name, the filter parts it must serve): one pair, or one per branch of an `$or`-only filter."""
    required, _ = parts_of(entry)
    names = entry.index.split(" | ")
    if not per_branch(entry):
        assert len(names) == 1, f"{entry}: one index, or one per branch of a filter that is one `$or`"
        return [(names[0], sorted(required))]
    assert len(required) == 1, f"{entry}: an index per `$or` branch needs a filter that is one `$or`"
    (either,) = required
    branches = split(either.removeprefix("$or(").removesuffix(")"), " | ")
    assert len(branches) == len(names), f"{entry}: one index for each branch of {either}"
    return [(name, split(branch, ", ")) for name, branch in zip(names, branches, strict=True)]


def why_not(index: Mapping[str, Any] | None, parts: list[str]) -> str | None:
    """Why `index` cannot serve a filter with these parts (None: it can)."""
    if index is None:
        return "no such index"
    first = next(iter(index["key"]))
    operators = constrained(parts).get(first, set())
    if not operators & SEEKS:
        return f"its first key field {first!r} is not one the filter narrows"
    if index.get("sparse") and operators & {"=null", "$ne", "$exists"}:
        return f"it is sparse, and the filter can match documents without {first!r}"
    for field in index.get("partialFilterExpression", {}):
        if "" not in constrained(parts).get(field, set()):
            return f"it is partial on {field!r}, which the filter does not fix"
    return None


def test_each_entry_names_an_index_that_serves_its_shape() -> None:
    declared = declared_indexes()
    problems = {
        (entry.collection, entry.filter, name): reason
        for entry in QUERIES
        for name, parts in served_by(entry)
        if (reason := why_not(declared[entry.collection].get(name), parts))
    }
    assert problems == {}


def _equalities(query: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, value in query.items():
        if name == "$and":
            for part in value:
                found.update(_equalities(part))
        elif not name.startswith("$") and not (isinstance(value, Mapping) and any(k.startswith("$") for k in value)):
            found[name] = value
    return found


def test_the_values_queried_are_within_each_partial_indexs_filter(recording: Recording) -> None:
    """MongoDB only uses a partial index for a query that implies its filter: `{owner: "w1"}` does imply
    `{owner: {$gt: ""}}`, but a query for an empty owner would not."""
    declared = declared_indexes()
    outside = []
    for seen in recording.queries:
        entry = entry_of(seen)
        branches = seen.filter["$or"] if per_branch(entry) else [seen.filter]
        for (name, _), branch in zip(served_by(entry), sorted(branches, key=shape), strict=True):
            partial = declared[entry.collection][name].get("partialFilterExpression")
            if partial and not filter_applies(partial, _equalities(branch)):
                outside.append((seen.caller, name, seen.filter))
    assert outside == []
    assert any(
        "partialFilterExpression" in index for indexes in declared.values() for index in indexes.values()
    )  # the check above checked something


@pytest.fixture
async def server() -> Any:
    async with real_database("gql_api_shapes", why="the query plans on a real server (explain) are not checked") as db:
        yield db


def _stages(plan: Any) -> Iterator[str]:
    if isinstance(plan, Mapping):
        if isinstance(plan.get("stage"), str):
            yield plan["stage"]
        for value in plan.values():
            yield from _stages(value)
    elif isinstance(plan, list):
        for value in plan:
            yield from _stages(value)


async def test_no_query_scans_a_collection(server: Any, recording: Recording) -> None:
    await prepare(server, where="test")
    await prepare_retention(server, meeting_retention_days=30)
    for collection in sorted({*INDEXES, SEQUENCES}):
        await server[collection].insert_one({"_id": f"probe-{collection}"})  # every collection exists
    first_of_each = {seen.shape: seen for seen in reversed(recording.queries)}
    scans = {}
    for key, seen in sorted(first_of_each.items()):
        command: dict[str, Any] = {"find": seen.collection, "filter": seen.filter}
        if seen.sort_spec:
            command["sort"] = dict(seen.sort_spec)
        explained = await server.command({"explain": command, "verbosity": "queryPlanner"})
        stages = list(_stages(explained["queryPlanner"]["winningPlan"]))
        if "COLLSCAN" in stages or not stages:
            scans[key] = (seen.caller, stages)
    assert scans == {}, "winning plans that scan a collection"
