"""The repositories' behaviour, run the same on mongomock and on a real MongoDB.

The "mongodb" run needs TEST_MONGODB_URI (for example mongodb://127.0.0.1:27017); each test gets
its own database, dropped afterwards. Without the variable it is skipped visibly (see `-ra`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import bson
import pytest
from bson import ObjectId
from mongomock_motor import AsyncMongoMockClient
from pymongo.errors import DuplicateKeyError

from gql_api.domain.connections import CalendarProvider, ConnectionStatus, Credential, LinkState, TargetCalendar
from gql_api.store import ConnectionStore, LinkStateStore, MeetingStore, RevocationStore, prepare
from gql_api.store.mongo import CONNECTIONS, LINK_STATES
from gql_api.vault import KeyRing, Secret, Vault
from tests.support.api import KEYS
from tests.support.mongodb import real_database

# MongoDB keeps milliseconds: every instant here is whole milliseconds, in UTC. Near the real time
# so a real server's TTL monitor never removes a link state a test still uses.
T0 = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1, milliseconds=250)
LEASE = timedelta(seconds=60)


@pytest.fixture(params=["mongomock", "mongodb"])
async def db(request: pytest.FixtureRequest):
    name = f"gql_api_suite_{uuid.uuid4().hex[:16]}"
    if request.param == "mongomock":
        yield AsyncMongoMockClient(tz_aware=True)[name]
        return
    async with real_database("gql_api_suite", why="real-server store suite skipped") as database:
        yield database


@pytest.fixture(autouse=True)
async def prepared(db: Any) -> None:
    await prepare(db, where="test")


@pytest.fixture
def vault() -> Vault:
    return Vault(KeyRing.parse(KEYS))


@pytest.fixture
def connections(db: Any, vault: Vault) -> ConnectionStore:
    return ConnectionStore(db, vault)


def credential(tag: str, *, expires_at: datetime = T0 + timedelta(hours=1)) -> Credential:
    return Credential(Secret(f"access-{tag}"), Secret(f"refresh-{tag}"), expires_at)


async def save(
    store: ConnectionStore,
    *,
    user_id: str = "alice",
    sub: str = "acc_1",
    now: datetime = T0,
    scopes: tuple[str, ...] = ("read_free_busy",),
    calendar: TargetCalendar | None = None,
    tag: str = "1",
    profile_name: str = "alice@example.test",
):
    return await store.save_link(
        user_id=user_id,
        sub=sub,
        provider=CalendarProvider.GOOGLE,
        profile_name=profile_name,
        scopes=scopes,
        calendar=calendar,
        data_center="de",
        credential=credential(tag),
        now=now,
    )


# --- calendar connections --------------------------------------------------------------------------


async def test_save_link_creates_then_updates_in_place(connections: ConnectionStore, db: Any) -> None:
    first = await save(connections, scopes=("read_free_busy",), calendar=TargetCalendar("cal_1", "Work", True))
    assert ObjectId.is_valid(first.id)
    assert first.user_id == "alice" and first.sub == "acc_1"
    assert first.provider is CalendarProvider.GOOGLE
    assert first.status is ConnectionStatus.ACTIVE
    assert first.scopes == ("read_free_busy",)
    assert first.calendar == TargetCalendar("cal_1", "Work", True)
    assert first.data_center == "de"
    assert first.linked_at == T0
    assert first.last_synced_at is None

    await db[CONNECTIONS].update_one(
        {"_id": ObjectId(first.id)}, {"$set": {"status": ConnectionStatus.NEEDS_RELINK.value}}
    )
    later = T0 + timedelta(minutes=5)
    second = await save(
        connections,
        now=later,
        scopes=("read_free_busy", "create_event"),
        calendar=TargetCalendar("cal_2", "Home", False),
        tag="2",
        profile_name="alice@home.test",
    )

    assert second.id == first.id
    assert second.linked_at == T0  # kept from the first link
    assert second.status is ConnectionStatus.ACTIVE
    assert second.scopes == ("read_free_busy", "create_event")
    assert second.calendar == TargetCalendar("cal_2", "Home", False)
    assert second.profile_name == "alice@home.test"
    assert await db[CONNECTIONS].count_documents({}) == 1
    stored = await db[CONNECTIONS].find_one({"_id": ObjectId(first.id)})
    assert stored["updated_at"] == later
    _, secret = await connections.with_credential(first.id)
    assert secret.refresh_token == Secret("refresh-2")


async def test_tokens_are_stored_encrypted(connections: ConnectionStore, db: Any) -> None:
    saved = await save(connections, tag="plain")
    stored = await db[CONNECTIONS].find_one({"_id": ObjectId(saved.id)})
    for field in ("access_token", "refresh_token"):
        assert set(stored[field]) == {"kid", "n", "ct"}
        assert stored[field]["kid"] == "k2"
    encoded = bson.encode(stored)
    assert b"access-plain" not in encoded and b"refresh-plain" not in encoded


async def test_list_for_user_is_newest_first_and_only_the_users(connections: ConnectionStore) -> None:
    oldest = await save(connections, sub="acc_1", now=T0)
    newest = await save(connections, sub="acc_3", now=T0 + timedelta(minutes=2))
    middle = await save(connections, sub="acc_2", now=T0 + timedelta(minutes=1))
    await save(connections, user_id="bob", sub="acc_9", now=T0 + timedelta(minutes=3))

    listed = await connections.list_for_user("alice")
    assert [connection.id for connection in listed] == [newest.id, middle.id, oldest.id]
    assert {connection.user_id for connection in listed} == {"alice"}
    assert [connection.sub for connection in await connections.list_for_user("bob")] == ["acc_9"]
    assert await connections.list_for_user("carol") == []


async def test_get_for_user_only_finds_the_owners_connection(connections: ConnectionStore) -> None:
    mine = await save(connections)
    assert await connections.get_for_user("alice", mine.id) == mine
    assert await connections.get_for_user("bob", mine.id) is None
    for malformed in ("not-an-id", "", "0" * 23, "zz" * 12):
        assert await connections.get_for_user("alice", malformed) is None
    assert await connections.get_for_user("alice", str(ObjectId())) is None


async def test_sub_linked_by_another_user(connections: ConnectionStore) -> None:
    await save(connections, user_id="alice", sub="acc_shared")
    assert await connections.sub_linked_by_another_user("acc_shared", "bob") is True
    assert await connections.sub_linked_by_another_user("acc_shared", "alice") is False
    assert await connections.sub_linked_by_another_user("acc_other", "bob") is False


async def test_credential_round_trips_the_tokens_for_its_owner_only(connections: ConnectionStore) -> None:
    saved = await save(connections, tag="rt")
    found = await connections.with_credential(saved.id)
    assert found is not None
    connection, secret = found
    assert connection == saved
    assert secret.access_token == Secret("access-rt")
    assert secret.refresh_token == Secret("refresh-rt")
    assert secret.access_token_expires_at == T0 + timedelta(hours=1)
    assert secret.access_token_expires_at.utcoffset() == timedelta(0)
    assert await connections.get_for_user("bob", saved.id) is None  # services reach credentials through this
    assert await connections.with_credential("not-an-id") is None
    assert await connections.with_credential(str(ObjectId())) is None


async def test_delete_for_user(connections: ConnectionStore) -> None:
    mine = await save(connections, sub="acc_1")
    kept = await save(connections, sub="acc_2")
    assert await connections.delete_for_user("bob", mine.id) is False
    assert await connections.get_for_user("alice", mine.id) == mine
    assert await connections.delete_for_user("alice", "not-an-id") is False
    assert await connections.delete_for_user("alice", mine.id) is True
    assert await connections.delete_for_user("alice", mine.id) is False
    assert [connection.id for connection in await connections.list_for_user("alice")] == [kept.id]


async def test_unique_index_rejects_a_second_user_sub_pair(db: Any) -> None:
    await db[CONNECTIONS].insert_one({"user_id": "alice", "sub": "acc_1", "linked_at": T0})
    with pytest.raises(DuplicateKeyError):
        await db[CONNECTIONS].insert_one({"user_id": "alice", "sub": "acc_1", "linked_at": T0})
    await db[CONNECTIONS].insert_one({"user_id": "bob", "sub": "acc_1", "linked_at": T0})
    assert await db[CONNECTIONS].count_documents({}) == 2


# --- link states -------------------------------------------------------------------------------------


async def create_state(
    db: Any, *, user_id: str = "alice", now: datetime = T0, ttl: timedelta = timedelta(minutes=10)
) -> str:
    return await LinkStateStore(db).create(
        user_id=user_id, redirect_uri="https://app.test/linked", data_center="uk", now=now, expires_at=now + ttl
    )


async def test_link_state_is_single_use(db: Any) -> None:
    states = LinkStateStore(db)
    state = await create_state(db)
    assert await db[LINK_STATES].find_one({"_id": state}) is None  # stored as a hash only

    consumed = await states.consume(state, user_id="alice", now=T0 + timedelta(minutes=1))
    assert consumed == LinkState(
        user_id="alice", redirect_uri="https://app.test/linked", data_center="uk", expires_at=T0 + timedelta(minutes=10)
    )
    assert await states.consume(state, user_id="alice", now=T0 + timedelta(minutes=1)) is None
    assert await states.consume("never-issued", user_id="alice", now=T0) is None


async def test_link_state_of_another_user_is_refused_and_stays_usable(db: Any) -> None:
    states = LinkStateStore(db)
    state = await create_state(db, user_id="alice")
    assert await states.consume(state, user_id="bob", now=T0) is None
    consumed = await states.consume(state, user_id="alice", now=T0)
    assert consumed is not None and consumed.user_id == "alice"


async def test_expired_link_state_is_refused(db: Any) -> None:
    states = LinkStateStore(db)
    state = await create_state(db, ttl=timedelta(minutes=10))
    expires_at = T0 + timedelta(minutes=10)
    assert await states.consume(state, user_id="alice", now=expires_at) is None
    assert await states.consume(state, user_id="alice", now=expires_at + timedelta(seconds=1)) is None
    consumed = await states.consume(state, user_id="alice", now=expires_at - timedelta(milliseconds=1))
    assert consumed is not None  # the failed attempts did not use it up


# --- pending revocations -------------------------------------------------------------------------------


async def test_revocation_is_not_due_before_its_lease_ends(db: Any, vault: Vault) -> None:
    revocations = RevocationStore(db, vault)
    added = await revocations.add_claimed(
        refresh_token=Secret("refresh-x"), sub="acc_x", data_center="au", now=T0, lease_until=T0 + LEASE
    )
    assert added.attempts == 1 and added.data_center == "au" and added.refresh_token == Secret("refresh-x")
    assert await db["pending_revocations"].count_documents({}) == 1
    assert (
        await revocations.claim_due(
            now=T0 + LEASE - timedelta(milliseconds=1), lease_until=T0 + LEASE - timedelta(milliseconds=1) + LEASE
        )
        is None
    )

    claimed = await revocations.claim_due(now=T0 + LEASE, lease_until=T0 + LEASE + LEASE)
    assert claimed is not None
    assert claimed.id == added.id
    assert claimed.refresh_token == Secret("refresh-x")
    assert claimed.data_center == "au" and claimed.sub == "acc_x"
    assert claimed.attempts == 2
    # claimed again for a lease: nobody else takes it meanwhile
    assert await revocations.claim_due(now=T0 + LEASE, lease_until=T0 + LEASE + LEASE) is None
    again = await revocations.claim_due(now=T0 + 2 * LEASE, lease_until=T0 + 2 * LEASE + LEASE)
    assert again is not None and again.attempts == 3


async def test_retry_later_done_and_count(db: Any, vault: Vault) -> None:
    revocations = RevocationStore(db, vault)
    added = await revocations.add_claimed(
        refresh_token=Secret("refresh-y"), data_center="us", now=T0, lease_until=T0 + LEASE
    )
    await revocations.add_claimed(
        refresh_token=Secret("refresh-z"), data_center="us", now=T0 + LEASE, lease_until=T0 + LEASE + LEASE
    )
    assert await db["pending_revocations"].count_documents({}) == 2

    claimed = await revocations.claim_due(now=T0 + LEASE, lease_until=T0 + LEASE + LEASE)
    assert claimed is not None and claimed.id == added.id  # the oldest due first
    retry_at = T0 + timedelta(minutes=10)
    await revocations.retry_later(claimed, at=retry_at, error="cronofy 503")
    stored = await db["pending_revocations"].find_one({"_id": ObjectId(added.id)})
    assert stored["last_error"] == "cronofy 503"
    assert stored["next_attempt_at"] == retry_at

    second = await revocations.claim_due(
        now=retry_at - timedelta(milliseconds=1), lease_until=retry_at - timedelta(milliseconds=1) + LEASE
    )
    assert second is not None and second.refresh_token == Secret("refresh-z")
    await revocations.done(second)
    assert (
        await revocations.claim_due(
            now=retry_at - timedelta(milliseconds=1), lease_until=retry_at - timedelta(milliseconds=1) + LEASE
        )
        is None
    )

    retried = await revocations.claim_due(now=retry_at, lease_until=retry_at + LEASE)
    assert retried is not None and retried.id == added.id and retried.attempts == 3
    await revocations.done(retried)
    assert await db["pending_revocations"].count_documents({}) == 0


async def test_concurrent_claims_hand_a_revocation_to_one_worker(db: Any, vault: Vault) -> None:
    revocations = RevocationStore(db, vault)
    await revocations.add_claimed(refresh_token=Secret("refresh-c"), data_center="ca", now=T0, lease_until=T0 + LEASE)
    workers = [RevocationStore(db, vault) for _ in range(4)]
    claims = await asyncio.wait_for(
        asyncio.gather(*(worker.claim_due(now=T0 + LEASE, lease_until=T0 + LEASE + LEASE) for worker in workers)),
        timeout=10,
    )
    winners = [claim for claim in claims if claim is not None]
    assert len(winners) == 1
    assert winners[0].attempts == 2 and winners[0].refresh_token == Secret("refresh-c")
    assert await db["pending_revocations"].count_documents({}) == 1


async def test_a_revocation_by_account_alone_keeps_no_token(db: Any, vault: Vault) -> None:
    revocations = RevocationStore(db, vault)
    await revocations.add_claimed(refresh_token=None, sub="acc_only", data_center="de", now=T0, lease_until=T0 + LEASE)
    claimed = await revocations.claim_due(now=T0 + LEASE, lease_until=T0 + LEASE + LEASE)
    assert claimed is not None and claimed.refresh_token is None and claimed.sub == "acc_only"


async def test_finishing_a_sync_keeps_a_copy_removal_made_meanwhile(db: Any) -> None:
    from gql_api.domain.meetings import CalendarCopy, Meeting, MeetingParticipant, MeetingStatus

    meetings = MeetingStore(db)
    meeting = Meeting(
        id=str(ObjectId()),
        organizer_id="alice",
        title="t",
        description=None,
        location=None,
        start=T0,
        end=T0 + timedelta(hours=1),
        time_zone="Etc/UTC",
        status=MeetingStatus.SCHEDULED,
        participants=(
            MeetingParticipant(email="a@x.test", user_id="alice", is_organizer=True, copy=0),
            MeetingParticipant(email="b@x.test", user_id="bob", copy=1),
        ),
        copies=(CalendarCopy("c1", "cal_1", True), CalendarCopy("c2", "cal_2", False)),
        version=1,
        created_at=T0,
        updated_at=T0,
    )
    await meetings.insert(meeting, idempotency_key=None, now=T0)
    claimed = await meetings.claim(owner="w", now=T0, until=T0 + LEASE)
    # while the worker writes the copies, a read of Bob's calendar finds his copy deleted
    assert await meetings.copy_removed(claimed, copy_index=1, decliners=[1])

    synced = {
        i: CalendarCopy(c.connection_id, c.calendar_id, c.is_host, synced_version=1, synced_at=T0)
        for i, c in enumerate(claimed.copies)
    }
    assert await meetings.finish(claimed.id, synced, owner="w", seen_version=1, next_due=None, now=T0)

    after = await meetings.get(claimed.id)
    assert after.copies[1].removed is True and after.copies[0].synced_version == 1


# --- privacy: erasure records, a person's meetings, retention (services/privacy.py) ---------------------------


def _meeting_with(participants: tuple[Any, ...], *, organizer: str = "alice") -> Any:
    from gql_api.domain.meetings import Meeting, MeetingStatus

    return Meeting(
        id=str(ObjectId()),
        organizer_id=organizer,
        title="t",
        description=None,
        location=None,
        start=T0,
        end=T0 + timedelta(hours=1),
        time_zone="Etc/UTC",
        status=MeetingStatus.SCHEDULED,
        participants=participants,
        copies=(),
        version=1,
        created_at=T0,
        updated_at=T0,
    )


async def test_an_erasure_record_is_leased_by_an_upsert_that_refuses_a_held_lease(db: Any) -> None:
    from gql_api.domain.erasure import ErasureCounts, ErasureStatus
    from gql_api.store import ErasureStore

    erasures = ErasureStore(db)
    until = T0 + timedelta(hours=24)
    begun = await erasures.begin(
        subject="s", user_id="bob", now=T0, calendars_until=until, owner="p1", lease_until=T0 + LEASE
    )
    assert begun.status is ErasureStatus.IN_PROGRESS and begun.counts == ErasureCounts()
    held = await erasures.begin(subject="s", user_id="bob", now=T0, calendars_until=until, owner="p2", lease_until=T0)
    assert held is None
    await erasures.count("s", ErasureCounts(meeting_seats=2))
    done = await erasures.finish("s", owner="p1", now=T0, purge_at=T0 + timedelta(days=30))
    assert done.status is ErasureStatus.DONE and done.user_id is None and done.counts.meeting_seats == 2
    stored = await db["erasures"].find_one({"_id": "s"})
    assert not {"user_id", "addresses", "names", "connections"} & set(stored)

    later = T0 + LEASE
    again = await erasures.begin(
        subject="s",
        user_id="bob",
        now=later,
        calendars_until=later + timedelta(hours=24),
        owner="p2",
        lease_until=later,
    )
    assert again.started_at == T0 and again.calendars_until == later + timedelta(hours=24)
    assert again.counts.meeting_seats == 2


async def test_a_persons_meetings_by_address_only_in_any_case_and_save_erased(db: Any) -> None:
    from gql_api.domain.meetings import MeetingParticipant

    meetings = MeetingStore(db)
    by_address = _meeting_with(
        (MeetingParticipant("c@x.test", user_id="carol", is_organizer=True), MeetingParticipant("Bob@X.test")),
        organizer="carol",
    )
    another_users = _meeting_with(
        (MeetingParticipant("c@x.test", user_id="carol", is_organizer=True), MeetingParticipant("bob@x.test", "rob")),
        organizer="carol",
    )
    theirs = _meeting_with((MeetingParticipant("b@x.test", user_id="bob", is_organizer=True),), organizer="bob")
    await meetings.insert(by_address, idempotency_key=None, now=T0)
    await meetings.insert(another_users, idempotency_key=None, now=T0)
    await meetings.insert(theirs, idempotency_key="k", now=T0)

    found = await meetings.of_person("bob", ["bob@x.test"])
    assert {m.id for m in found} == {by_address.id, theirs.id}
    assert await meetings.of_person("nobody", ["ob@x.test"]) == []  # whole addresses, dots escaped

    erased = dataclasses.replace(theirs, organizer_id="", participants=(), version=2)
    assert await meetings.save_erased(theirs, erased, now=T0)
    assert await meetings.by_idempotency_key("bob", "k") is None
    assert await meetings.of_person("bob") == []


async def test_the_retention_ttl_index_and_the_sweep_agree(db: Any) -> None:
    from gql_api.store import RetentionStore, prepare_retention
    from gql_api.store.retention import RETENTION_INDEX

    await prepare_retention(db, meeting_retention_days=30)
    assert (await db["meetings"].index_information())[RETENTION_INDEX]["expireAfterSeconds"] == 30 * 86_400
    await prepare_retention(db, meeting_retention_days=7)  # a new setting: the index follows
    assert (await db["meetings"].index_information())[RETENTION_INDEX]["expireAfterSeconds"] == 7 * 86_400

    meetings = MeetingStore(db)
    meeting = _meeting_with(())
    await meetings.insert(meeting, idempotency_key=None, now=T0)
    retention = RetentionStore(db, meeting_retention_days=7)
    assert await retention.remove_expired(now=meeting.end + timedelta(days=7) - timedelta(seconds=1)) == {}
    assert await retention.remove_expired(now=meeting.end + timedelta(days=7)) == {"meetings": 1}

    await prepare_retention(db, meeting_retention_days=0)  # kept for good: no index
    assert RETENTION_INDEX not in await db["meetings"].index_information()
