"""The fakes the service tests run on behave like the MongoDB store, for what the services rely on.

Each scenario runs twice: on the fakes (tests/support/fakes.py) and on the real repositories over
mongomock-motor. If the two disagree, the fake is wrong.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mongomock_motor import AsyncMongoMockClient

from gql_api.domain.connections import CalendarProvider, ConnectionStatus, Credential, ReadReason, TargetCalendar
from gql_api.domain.erasure import ErasureCounts, ErasureStatus
from gql_api.domain.meetings import CalendarCopy, Meeting, MeetingParticipant, MeetingStatus, ParticipantResponse
from gql_api.domain.secrets import Secret
from gql_api.store import (
    ConnectionStore,
    ErasureStore,
    LinkStateStore,
    MeetingStore,
    MongoUserRateLimit,
    RetentionStore,
    RevocationStore,
    prepare,
    prepare_retention,
)
from gql_api.store.meetings import SYNC_STATE
from gql_api.vault import KeyRing, Vault
from tests.support.fakes import SYNC_STATE as FAKE_SYNC_STATE
from tests.support.fakes import (
    T0,
    FakeRetention,
    FakeStore,
    FakeUserRateLimit,
)

# MongoDB keeps milliseconds: every instant here is whole seconds.
LEASE = timedelta(seconds=60)
LATER = T0 + timedelta(minutes=5)
WORK = TargetCalendar("cal_1", "Work", True)


RETENTION_DAYS = 30


@dataclasses.dataclass
class Repositories:
    connections: Any
    link_states: Any
    meetings: Any
    revocations: Any
    user_limits: Any
    erasures: Any
    retention: Any


@pytest.fixture(params=["fake", "store"])
async def repos(request: pytest.FixtureRequest) -> Repositories:
    if request.param == "fake":
        store = FakeStore(user_limits=FakeUserRateLimit(per_minute=3))
        return Repositories(
            store.connections,
            store.link_states,
            store.meetings,
            store.revocations,
            store.user_limits,
            store.erasures,
            FakeRetention(store, meeting_retention_days=RETENTION_DAYS),
        )
    database = AsyncMongoMockClient(tz_aware=True)[f"contract_{uuid.uuid4().hex[:12]}"]
    await prepare(database, where="contract test")  # the indexes: the unique idempotency key among them
    await prepare_retention(database, meeting_retention_days=RETENTION_DAYS)
    vault = Vault(KeyRing.ephemeral())
    return Repositories(
        ConnectionStore(database, vault),
        LinkStateStore(database),
        MeetingStore(database),
        RevocationStore(database, vault),
        MongoUserRateLimit(database, per_minute=3),
        ErasureStore(database),
        RetentionStore(database, meeting_retention_days=RETENTION_DAYS),
    )


def credential(tag: str) -> Credential:
    return Credential(Secret(f"access-{tag}"), Secret(f"refresh-{tag}"), T0 + timedelta(hours=1))


async def save(
    repos: Repositories,
    *,
    user_id: str = "alice",
    sub: str = "acc_1",
    now=T0,
    tag: str = "1",
    calendar: TargetCalendar | None = WORK,
):
    return await repos.connections.save_link(
        user_id=user_id,
        sub=sub,
        provider=CalendarProvider.GOOGLE,
        profile_name=f"{user_id}@example.test",
        scopes=("list_calendars", "create_event", "delete_event"),
        calendar=calendar,
        data_center="de",
        credential=credential(tag),
        now=now,
    )


def a_meeting(repos: Repositories, *, organizer: str = "alice", copies: int = 2) -> Meeting:
    return Meeting(
        id=repos.meetings.new_id(),
        organizer_id=organizer,
        title="Mentoring session",
        description=None,
        location=None,
        start=T0 + timedelta(days=7),
        end=T0 + timedelta(days=7, hours=1),
        time_zone="Europe/London",
        status=MeetingStatus.SCHEDULED,
        participants=(
            MeetingParticipant(email="alice@x.test", user_id=organizer, is_organizer=True, copy=0),
            MeetingParticipant(email="bob@x.test", user_id="bob", copy=1 if copies > 1 else None),
            MeetingParticipant(email="dave@x.test"),
        ),
        copies=(CalendarCopy("c_alice", "cal_a", True), CalendarCopy("c_bob", "cal_b", False))[:copies],
        version=1,
        created_at=T0,
        updated_at=T0,
    )


def synced(copy: CalendarCopy, version: int) -> CalendarCopy:
    return dataclasses.replace(copy, synced_version=version, synced_at=T0, written="fp")


def test_finish_writes_the_same_copy_fields_as_the_store() -> None:
    assert FAKE_SYNC_STATE == SYNC_STATE


# --- meetings ----------------------------------------------------------------------------------------------


async def test_an_idempotency_key_stores_one_meeting_per_organizer(repos: Repositories) -> None:
    first = a_meeting(repos)
    assert await repos.meetings.insert(first, idempotency_key="k1", now=T0) == first

    assert await repos.meetings.insert(a_meeting(repos), idempotency_key="k1", now=T0) is None
    assert await repos.meetings.by_idempotency_key("alice", "k1") == first
    other_organizer = a_meeting(repos, organizer="carol")
    assert await repos.meetings.insert(other_organizer, idempotency_key="k1", now=T0) == other_organizer
    assert await repos.meetings.by_idempotency_key("carol", "k1") == other_organizer
    assert await repos.meetings.by_idempotency_key("alice", "k2") is None
    without = [a_meeting(repos), a_meeting(repos)]
    for meeting in without:
        assert await repos.meetings.insert(meeting, idempotency_key=None, now=T0) == meeting
    assert await repos.meetings.get(without[1].id) == without[1]


async def test_participants_find_a_meeting_and_nobody_else(repos: Repositories) -> None:
    meeting = a_meeting(repos)
    await repos.meetings.insert(meeting, idempotency_key=None, now=T0)

    assert await repos.meetings.for_participant("bob", meeting.id) == meeting
    assert await repos.meetings.for_participant("mallory", meeting.id) is None
    assert await repos.meetings.for_participant("alice", repos.meetings.new_id()) is None
    assert await repos.meetings.get(repos.meetings.new_id()) is None


async def test_participants_find_many_meetings_at_once_and_only_their_own(repos: Repositories) -> None:
    mine, theirs = a_meeting(repos), a_meeting(repos, organizer="carol")
    theirs = dataclasses.replace(theirs, participants=theirs.participants[:1])
    for meeting in (mine, theirs):
        await repos.meetings.insert(meeting, idempotency_key=None, now=T0)

    found = await repos.meetings.for_participant_many("bob", [theirs.id, mine.id, repos.meetings.new_id(), "junk"])

    assert found == [mine]
    assert await repos.meetings.for_participant_many("bob", []) == []


async def test_change_is_a_new_version_due_at_once_and_checks_the_version(repos: Repositories) -> None:
    meeting = a_meeting(repos)
    await repos.meetings.insert(meeting, idempotency_key=None, now=T0)
    claimed = await repos.meetings.claim(owner="w", now=T0, until=T0 + LEASE)
    await repos.meetings.finish(meeting.id, {}, owner="w", seen_version=1, next_due=None, now=T0)
    assert claimed is not None and await repos.meetings.outbox_stats() == (0, None)

    changed = await repos.meetings.change(meeting, {"title": "Moved"}, now=LATER)

    assert changed == dataclasses.replace(meeting, title="Moved", version=2, updated_at=LATER)
    assert await repos.meetings.get(meeting.id) == changed
    assert await repos.meetings.outbox_stats() == (1, LATER)
    assert await repos.meetings.change(meeting, {"title": "Stale"}, now=LATER) is None  # version 1 is gone
    cancel = {"status": MeetingStatus.CANCELLED, "cancelled_at": LATER}
    cancelled = await repos.meetings.change(changed, cancel, now=LATER)
    assert cancelled is not None and cancelled.version == 3 and cancelled.status is MeetingStatus.CANCELLED
    assert await repos.meetings.change(cancelled, cancel, now=LATER) is None  # only scheduled ones
    assert (await repos.meetings.get(meeting.id)).version == 3


async def test_claim_leases_the_most_overdue_meeting_until_the_lease_ends(repos: Repositories) -> None:
    later = a_meeting(repos)
    earlier = a_meeting(repos)
    await repos.meetings.insert(later, idempotency_key=None, now=T0 + timedelta(seconds=10))
    await repos.meetings.insert(earlier, idempotency_key=None, now=T0)
    await repos.meetings.insert(a_meeting(repos, copies=0), idempotency_key=None, now=T0)  # no calendar work

    assert await repos.meetings.outbox_stats() == (2, T0)
    assert await repos.meetings.claim(owner="w1", now=T0 - timedelta(seconds=1), until=T0 + LEASE) is None
    first = await repos.meetings.claim(owner="w1", now=T0 + timedelta(seconds=10), until=T0 + LEASE)
    second = await repos.meetings.claim(owner="w2", now=T0 + timedelta(seconds=10), until=T0 + LEASE)
    assert (first.id, second.id) == (earlier.id, later.id)
    assert await repos.meetings.claim(owner="w3", now=T0 + LEASE - timedelta(seconds=1), until=T0 + 2 * LEASE) is None
    assert await repos.meetings.claim(owner="w3", now=T0, until=T0 + LEASE, meeting_id=earlier.id) is None

    taken_over = await repos.meetings.claim(owner="w3", now=T0 + LEASE, until=T0 + 2 * LEASE, meeting_id=earlier.id)
    assert taken_over is not None and taken_over.id == earlier.id
    # the first holder lost it: its finish writes nothing
    lost = {0: synced(earlier.copies[0], 1)}
    assert await repos.meetings.finish(earlier.id, lost, owner="w1", seen_version=1, next_due=None, now=T0) is False
    assert (await repos.meetings.get(earlier.id)).copies == earlier.copies


async def test_finish_stores_the_copies_and_makes_it_due_at_next_due(repos: Repositories) -> None:
    meeting = a_meeting(repos)
    await repos.meetings.insert(meeting, idempotency_key=None, now=T0)
    claimed = await repos.meetings.claim(owner="w", now=T0, until=T0 + LEASE)
    retry_at = T0 + timedelta(seconds=30)
    failed = dataclasses.replace(
        claimed.copies[1], attempt_version=1, attempts=1, next_attempt_at=retry_at, last_error="busy. Retrying."
    )
    outcomes = {0: synced(claimed.copies[0], 1), 1: failed}

    assert await repos.meetings.finish(meeting.id, outcomes, owner="w", seen_version=1, next_due=retry_at, now=T0)

    assert (await repos.meetings.get(meeting.id)).copies == (outcomes[0], failed)
    assert await repos.meetings.outbox_stats() == (1, retry_at)
    assert await repos.meetings.claim(owner="w", now=retry_at - timedelta(seconds=1), until=retry_at + LEASE) is None
    again = await repos.meetings.claim(owner="w", now=retry_at, until=retry_at + LEASE)
    assert again is not None and again.copies == (outcomes[0], failed)
    assert await repos.meetings.finish(meeting.id, {}, owner="w", seen_version=1, next_due=None, now=retry_at)
    assert await repos.meetings.outbox_stats() == (0, None)
    assert await repos.meetings.claim(owner="w", now=LATER, until=LATER + LEASE) is None


async def test_finish_after_a_change_meanwhile_leaves_the_new_version_due_at_once(repos: Repositories) -> None:
    meeting = a_meeting(repos)
    await repos.meetings.insert(meeting, idempotency_key=None, now=T0)
    claimed = await repos.meetings.claim(owner="w", now=T0, until=T0 + LEASE)
    await repos.meetings.change(meeting, {"title": "Moved"}, now=T0 + timedelta(seconds=1))
    assert await repos.meetings.claim(owner="w2", now=T0 + timedelta(seconds=1), until=T0 + LEASE) is None

    outcomes = {i: synced(c, 1) for i, c in enumerate(claimed.copies)}
    assert await repos.meetings.finish(meeting.id, outcomes, owner="w", seen_version=1, next_due=None, now=LATER)

    after = await repos.meetings.get(meeting.id)
    assert after.version == 2 and after.title == "Moved" and [c.synced_version for c in after.copies] == [1, 1]
    assert await repos.meetings.outbox_stats() == (1, LATER)


async def test_finish_keeps_a_copy_removal_made_meanwhile(repos: Repositories) -> None:
    meeting = a_meeting(repos)
    await repos.meetings.insert(meeting, idempotency_key=None, now=T0)
    claimed = await repos.meetings.claim(owner="w", now=T0, until=T0 + LEASE)
    assert await repos.meetings.copy_removed(claimed, copy_index=1, decliners=[1])

    outcomes = {i: synced(c, 1) for i, c in enumerate(claimed.copies)}
    assert await repos.meetings.finish(meeting.id, outcomes, owner="w", seen_version=1, next_due=None, now=T0)

    after = await repos.meetings.get(meeting.id)
    assert after.copies[1].removed is True and after.copies[1].synced_version == 1
    assert after.participants[1].response is ParticipantResponse.DECLINED and after.version == 1


async def test_take_calendar_change_checks_the_version_and_marks_that_copy_synced(repos: Repositories) -> None:
    # given a meeting whose copies carry version 1 (the organizer's copy 0 was written; Bob's copy 1 too)
    meeting = a_meeting(repos)
    meeting = dataclasses.replace(
        meeting, copies=tuple(dataclasses.replace(c, synced_version=1, synced_at=T0) for c in meeting.copies)
    )
    await repos.meetings.insert(meeting, idempotency_key=None, now=T0)
    edited_at = T0 + timedelta(minutes=1)
    moved = {"start": meeting.start + timedelta(hours=2), "end": meeting.end + timedelta(hours=2)}

    assert await repos.meetings.take_calendar_change(
        meeting, copy_index=1, fields=moved, changed_at=edited_at, now=LATER
    )

    after = await repos.meetings.get(meeting.id)
    assert after.version == 2 and after.start == moved["start"] and after.end == moved["end"]
    assert after.updated_at == edited_at
    assert after.copies[1] == dataclasses.replace(meeting.copies[1], synced_version=2, synced_at=LATER)
    assert after.copies[0] == meeting.copies[0]
    assert await repos.meetings.outbox_stats() == (1, LATER)
    assert not await repos.meetings.take_calendar_change(
        meeting, copy_index=1, fields=moved, changed_at=LATER, now=LATER
    )
    assert not await repos.meetings.copy_removed(meeting, copy_index=1, decliners=[1])
    assert not await repos.meetings.cancel_from_calendar(meeting, copy_index=0, now=LATER)
    assert await repos.meetings.cancel_from_calendar(after, copy_index=0, now=LATER)
    cancelled = await repos.meetings.get(meeting.id)
    assert cancelled.status is MeetingStatus.CANCELLED and cancelled.cancelled_at == LATER
    assert cancelled.version == 3 and cancelled.copies[0].synced_version == 3


async def test_a_calendar_change_on_a_copy_our_last_change_had_not_reached_leaves_it_pending(
    repos: Repositories,
) -> None:
    # given Bob's copy (1) still carries nothing of version 1
    meeting = a_meeting(repos)
    await repos.meetings.insert(meeting, idempotency_key=None, now=T0)

    assert await repos.meetings.take_calendar_change(
        meeting, copy_index=1, fields={"title": "Renamed"}, changed_at=T0, now=LATER
    )

    # then it stays pending: the write still owed to it goes out, with the new title in it
    assert (await repos.meetings.get(meeting.id)).copies[1] == meeting.copies[1]


async def test_copy_removed_declines_without_a_new_version_once(repos: Repositories) -> None:
    meeting = a_meeting(repos)
    await repos.meetings.insert(meeting, idempotency_key=None, now=T0)

    assert await repos.meetings.copy_removed(meeting, copy_index=1, decliners=[1])
    assert not await repos.meetings.copy_removed(meeting, copy_index=1, decliners=[1])  # nothing left to change

    after = await repos.meetings.get(meeting.id)
    assert after.version == 1 and after.copies[1].removed and not after.copies[0].removed
    assert [p.response for p in after.participants] == [
        ParticipantResponse.NEEDS_ACTION,  # as built above (the service makes the organizer ACCEPTED)
        ParticipantResponse.DECLINED,
        ParticipantResponse.NEEDS_ACTION,
    ]
    await repos.meetings.set_responses(after, {2: ParticipantResponse.TENTATIVE})
    answered = await repos.meetings.get(meeting.id)
    assert answered.participants[2].response is ParticipantResponse.TENTATIVE and answered.version == 1


async def test_failing_and_retrying_the_copies_on_a_connection(repos: Repositories) -> None:
    meeting = a_meeting(repos)
    cancelled = a_meeting(repos)
    elsewhere = dataclasses.replace(a_meeting(repos), copies=(CalendarCopy("c_carol", "cal_c", True),))
    for m in (meeting, cancelled, elsewhere):
        await repos.meetings.insert(m, idempotency_key=None, now=T0)
    await repos.meetings.change(cancelled, {"status": MeetingStatus.CANCELLED}, now=T0)

    assert await repos.meetings.fail_copies_on("c_bob", reason="relink", now=LATER) == 1

    failed = await repos.meetings.get(meeting.id)
    assert failed.version == 2 and failed.copies[1].failed_version == 2 and failed.copies[1].last_error == "relink"
    assert failed.copies[0] == meeting.copies[0]
    assert (await repos.meetings.get(cancelled.id)).version == 2  # the cancel only
    assert await repos.meetings.retry_failed_on("c_alice", now=LATER) == 0
    assert await repos.meetings.retry_failed_on("c_bob", now=LATER) == 1
    retried = await repos.meetings.get(meeting.id)
    assert retried.version == 3 and retried.copies == failed.copies
    assert await repos.meetings.retry_failed_on("c_bob", now=LATER) == 0


async def test_pages_are_keyset_by_start_then_id(repos: Repositories) -> None:
    made = []
    for hours in (3, 1, 1, 2):
        meeting = dataclasses.replace(
            a_meeting(repos),
            start=T0 + timedelta(days=7, hours=hours),
            end=T0 + timedelta(days=7, hours=hours, minutes=30),
        )
        await repos.meetings.insert(meeting, idempotency_key=None, now=T0)
        made.append(meeting)
    order = [made[1].id, made[2].id, made[3].id, made[0].id]
    page = await repos.meetings.page_for_participant(
        "bob", limit=2, after=None, status=None, ends_from=None, starts_before=None
    )
    assert [m.id for m in page] == order[:2]
    rest = await repos.meetings.page_for_participant(
        "bob", limit=5, after=(page[-1].start, page[-1].id), status=None, ends_from=None, starts_before=None
    )
    assert [m.id for m in rest] == order[2:]
    window = await repos.meetings.page_for_participant(
        "bob",
        limit=5,
        after=None,
        status=MeetingStatus.SCHEDULED,
        ends_from=made[3].end,
        starts_before=made[0].start,
    )
    assert [m.id for m in window] == [made[3].id]
    assert (
        await repos.meetings.page_for_participant(
            "mallory", limit=5, after=None, status=None, ends_from=None, starts_before=None
        )
        == []
    )


# --- calendar connections ------------------------------------------------------------------------------------


async def test_save_link_updates_the_same_account_in_place(repos: Repositories) -> None:
    first = await save(repos)
    assert first.status is ConnectionStatus.ACTIVE and first.linked_at == T0 and first.last_synced_at is None
    assert await repos.connections.mark_needs_relink(first.id, now=T0)

    again = await save(repos, now=LATER, tag="2", calendar=TargetCalendar("cal_2", "Home", False))

    assert again == dataclasses.replace(first, calendar=TargetCalendar("cal_2", "Home", False))
    assert await repos.connections.owing_relink_consequences(limit=10) == []
    _, stored = await repos.connections.with_credential(first.id)
    assert stored == credential("2")
    assert await repos.connections.refresh_token_of(first.id) == Secret("refresh-2")
    assert await repos.connections.refresh_token_of_account("alice", "acc_1") == Secret("refresh-2")
    assert await repos.connections.refresh_token_of_account("bob", "acc_1") is None
    assert [c.id for c in await repos.connections.list_for_user("alice")] == [first.id]


async def test_accounts_and_active_connections(repos: Repositories) -> None:
    old = await save(repos, sub="acc_old", now=T0)
    new = await save(repos, sub="acc_new", now=LATER)
    await save(repos, sub="acc_nocal", now=LATER + timedelta(minutes=1), calendar=None)
    bobs = await save(repos, user_id="bob", sub="acc_bob")

    assert await repos.connections.sub_linked_by_another_user("acc_bob", "alice") is True
    assert await repos.connections.sub_linked_by_another_user("acc_bob", "bob") is False
    assert [c.sub for c in await repos.connections.list_for_user("alice")] == ["acc_nocal", "acc_new", "acc_old"]
    calendars = await repos.connections.calendars_for_users(["alice", "bob", "carol"])
    assert {user: c.id for user, c in calendars.items()} == {"alice": new.id, "bob": bobs.id}
    await repos.connections.mark_needs_relink(new.id, now=LATER)
    assert (await repos.connections.calendars_for_users(["alice"]))["alice"].id == old.id  # ACTIVE first
    await repos.connections.mark_needs_relink(bobs.id, now=LATER)
    assert (await repos.connections.calendars_for_users(["bob"]))["bob"].id == bobs.id  # waits for the relink
    assert await repos.connections.get_for_user("bob", old.id) is None
    assert await repos.connections.delete_for_user("bob", old.id) is False
    assert await repos.connections.delete_for_user("alice", old.id) is True
    assert await repos.connections.with_credential(old.id) is None
    assert await repos.connections.delete_for_user("alice", old.id) is False


async def test_a_refresh_lease_has_one_holder_until_it_expires(repos: Repositories) -> None:
    connection = await save(repos)
    cid = connection.id

    assert await repos.connections.take_refresh_lease(cid, owner="p1", now=T0, until=T0 + LEASE)
    assert not await repos.connections.take_refresh_lease(cid, owner="p2", now=T0 + LEASE / 2, until=T0 + 2 * LEASE)
    await repos.connections.release_refresh_lease(cid, owner="p2")  # not its lease: nothing happens
    assert not await repos.connections.take_refresh_lease(cid, owner="p2", now=T0 + LEASE / 2, until=T0 + 2 * LEASE)
    await repos.connections.release_refresh_lease(cid, owner="p1")
    assert await repos.connections.take_refresh_lease(cid, owner="p2", now=T0 + LEASE / 2, until=T0 + LEASE)
    # p2 died holding it: taken over once it expired
    assert await repos.connections.take_refresh_lease(cid, owner="p3", now=T0 + LEASE, until=T0 + 2 * LEASE)
    await repos.connections.store_credential(cid, credential("3"), now=LATER)
    _, stored = await repos.connections.with_credential(cid)
    assert stored == credential("3")


async def test_needs_relink_is_marked_once_and_its_consequences_are_owed(repos: Repositories) -> None:
    connection = await save(repos)
    other = await save(repos, sub="acc_2")

    assert await repos.connections.mark_needs_relink(connection.id, now=LATER) is True
    assert await repos.connections.mark_needs_relink(connection.id, now=LATER) is False

    marked, _ = await repos.connections.with_credential(connection.id)
    assert marked.status is ConnectionStatus.NEEDS_RELINK
    assert await repos.connections.owing_relink_consequences(limit=10) == [connection.id]
    await repos.connections.relink_consequences_done(connection.id)
    assert await repos.connections.owing_relink_consequences(limit=10) == []
    assert (await repos.connections.get_for_user("alice", other.id)).status is ConnectionStatus.ACTIVE


async def test_channels_and_reads_of_changes(repos: Repositories) -> None:
    connection = await save(repos)
    cid = connection.id
    await repos.connections.prepare_channel(cid, "token-1")
    assert (await repos.connections.by_channel_token("token-1")).id == cid
    assert await repos.connections.by_channel_token("token-2") is None
    await repos.connections.channel_open(cid, "chn_1", now=T0)
    opened = await repos.connections.get_for_user("alice", cid)
    assert opened.channel_id == "chn_1" and opened.last_synced_at == T0
    assert await repos.connections.claim_sync(owner="w", now=LATER, until=LATER + LEASE) is None  # nothing noted

    await repos.connections.note_changes(cid, since=T0 + timedelta(minutes=2), now=T0 + timedelta(minutes=3))
    await repos.connections.note_changes(cid, since=T0 + timedelta(minutes=1), now=T0 + timedelta(minutes=4))
    await repos.connections.note_changes(cid, since=None, now=T0 + timedelta(minutes=4))

    assert await repos.connections.claim_sync(owner="w", now=T0 + timedelta(minutes=3), until=LATER) is None
    claimed = await repos.connections.claim_sync(owner="w", now=LATER, until=LATER + LEASE, connection_id=cid)
    assert claimed is not None
    claimed_connection, reading = claimed
    assert claimed_connection == opened
    assert (reading.channel_id, reading.changes_since, reading.requests_seen) == ("chn_1", T0 + timedelta(minutes=1), 3)
    assert await repos.connections.claim_sync(owner="w2", now=LATER, until=LATER + LEASE) is None  # leased

    # a push arrives while the read runs: finishing says so, gives the lease back and stays due
    await repos.connections.note_changes(cid, since=LATER, now=LATER)
    synced_at = LATER + timedelta(seconds=5)
    assert not await repos.connections.finish_sync(cid, owner="w", requests_seen=3, synced_at=synced_at, retry_at=None)
    again = await repos.connections.claim_sync(owner="w2", now=LATER, until=LATER + LEASE)
    assert again is not None
    assert again[0].last_synced_at == synced_at
    assert (again[1].changes_since, again[1].requests_seen) == (T0 + timedelta(minutes=1), 4)
    assert not await repos.connections.finish_sync(cid, owner="w", requests_seen=4, synced_at=None, retry_at=None)
    assert await repos.connections.finish_sync(cid, owner="w2", requests_seen=4, synced_at=LATER, retry_at=None)

    assert await repos.connections.claim_sync(owner="w", now=LATER + timedelta(hours=1), until=LATER) is None
    await repos.connections.note_changes(cid, since=None, now=LATER)
    _, fresh = await repos.connections.claim_sync(owner="w", now=LATER, until=LATER + LEASE)
    assert fresh.changes_since is None  # forgotten once a read succeeded


async def test_a_failed_read_is_due_again_at_retry_at_and_keeps_what_to_read(repos: Repositories) -> None:
    connection = await save(repos)
    await repos.connections.note_changes(connection.id, since=T0, now=T0)
    _, reading = await repos.connections.claim_sync(owner="w", now=T0, until=T0 + LEASE)
    retry_at = T0 + timedelta(seconds=30)

    assert await repos.connections.finish_sync(
        connection.id, owner="w", requests_seen=reading.requests_seen, synced_at=None, retry_at=retry_at
    )

    assert await repos.connections.claim_sync(owner="w", now=retry_at - timedelta(seconds=1), until=LATER) is None
    _, again = await repos.connections.claim_sync(owner="w", now=retry_at, until=retry_at + LEASE)
    assert again.changes_since == T0
    # a connection that needs relinking is not read
    await repos.connections.finish_sync(connection.id, owner="w", requests_seen=1, synced_at=None, retry_at=retry_at)
    await repos.connections.mark_needs_relink(connection.id, now=T0)
    assert await repos.connections.claim_sync(owner="w", now=LATER, until=LATER + LEASE) is None


async def test_reconciliation_follows_only_calendars_that_hold_something_of_ours(repos: Repositories) -> None:
    followed = await save(repos, sub="acc_followed")
    later = await save(repos, sub="acc_later")
    idle = await save(repos, sub="acc_idle")  # never followed: nothing of ours is there
    relink = await save(repos, sub="acc_relink")
    noted = await save(repos, sub="acc_noted")
    for connection in (followed, later, idle, relink, noted):
        await repos.connections.channel_open(connection.id, "chn", now=T0)
    await repos.connections.follow([followed.id, relink.id, noted.id], reconcile_at=T0)
    await repos.connections.follow([later.id], reconcile_at=LATER + LEASE)
    await repos.connections.follow([followed.id], reconcile_at=LATER + LEASE)  # followed already: kept
    await repos.connections.mark_needs_relink(relink.id, now=T0)
    await repos.connections.note_changes(noted.id, since=None, now=T0)  # a push's read is due already

    assert await repos.connections.due_for_reconciliation(now=LATER, limit=10) == 1

    claimed = await repos.connections.claim_sync(owner="w", now=LATER, until=LATER + LEASE, connection_id=followed.id)
    assert claimed is not None and claimed[1].requests_seen == 1 and claimed[1].reason is ReadReason.RECONCILE
    assert await repos.connections.due_for_reconciliation(now=LATER, limit=10) == 0  # due already
    # a read that found nothing upcoming there stops following it
    assert await repos.connections.finish_sync(
        followed.id, owner="w", requests_seen=1, synced_at=LATER, retry_at=None, reconcile_at=None
    )
    far = LATER + timedelta(days=30)
    assert await repos.connections.due_for_reconciliation(now=far, limit=10) == 1  # `later` only
    noted_read = await repos.connections.claim_sync(owner="w", now=far, until=far + LEASE, connection_id=noted.id)
    assert noted_read is not None and noted_read[1].reason is ReadReason.PUSH


async def test_reconciliation_is_made_due_most_overdue_first_up_to_a_limit(repos: Repositories) -> None:
    connections = [await save(repos, sub=f"acc_{n}") for n in range(4)]
    for minutes, connection in zip((30, 10, 20, 0), connections, strict=True):
        await repos.connections.channel_open(connection.id, "chn", now=T0)
        await repos.connections.follow([connection.id], reconcile_at=T0 + timedelta(minutes=minutes))
    assert await repos.connections.followed() == 4

    now = T0 + timedelta(minutes=25)  # three are due: at 0, 10 and 20 minutes
    assert await repos.connections.overdue_for_reconciliation(now=now) == 3
    assert await repos.connections.due_for_reconciliation(now=now, limit=0) == 0
    assert await repos.connections.due_for_reconciliation(now=now, limit=2) == 2
    assert await repos.connections.overdue_for_reconciliation(now=now) == 1
    first = await repos.connections.claim_sync(owner="w", now=now, until=now + LEASE)
    second = await repos.connections.claim_sync(owner="w", now=now, until=now + LEASE)
    assert {first[0].id, second[0].id} == {connections[3].id, connections[1].id}
    assert await repos.connections.claim_sync(owner="w", now=now, until=now + LEASE) is None
    assert await repos.connections.due_for_reconciliation(now=now, limit=2) == 1  # the one at 20 minutes
    await repos.connections.finish_sync(
        connections[3].id, owner="w", requests_seen=1, synced_at=now, retry_at=None, reconcile_at=None
    )
    assert await repos.connections.followed() == 3  # nothing upcoming there any more
    await repos.connections.mark_needs_relink(connections[0].id, now=now)  # cannot be read: not followed
    assert await repos.connections.followed() == 2
    assert await repos.connections.overdue_for_reconciliation(now=now + timedelta(days=1)) == 0  # 2 are due


# --- link states ---------------------------------------------------------------------------------------------


async def test_a_link_state_is_its_owners_once_until_it_expires(repos: Repositories) -> None:
    states = repos.link_states
    expires_at = T0 + timedelta(minutes=10)
    state = await states.create(
        user_id="alice", redirect_uri="https://app.test/linked", data_center="uk", now=T0, expires_at=expires_at
    )
    other = await states.create(
        user_id="alice", redirect_uri="https://app.test/linked", data_center="uk", now=T0, expires_at=expires_at
    )
    assert state != other and len(state) >= 32

    assert await states.consume(state, user_id="bob", now=T0) is None
    assert await states.consume("never-issued", user_id="alice", now=T0) is None
    consumed = await states.consume(state, user_id="alice", now=T0)
    assert (consumed.user_id, consumed.redirect_uri, consumed.data_center) == ("alice", "https://app.test/linked", "uk")
    assert consumed.expires_at == expires_at
    assert await states.consume(state, user_id="alice", now=T0) is None
    assert await states.consume(other, user_id="alice", now=expires_at) is None
    assert await states.consume(other, user_id="alice", now=expires_at - timedelta(seconds=1)) is not None


# --- revocations ---------------------------------------------------------------------------------------------


async def test_a_revocation_is_leased_to_one_worker_at_a_time(repos: Repositories) -> None:
    revocations = repos.revocations
    added = await revocations.add_claimed(
        refresh_token=Secret("refresh-x"), sub="acc_x", data_center="au", now=T0, lease_until=T0 + LEASE
    )
    assert (added.refresh_token, added.sub, added.data_center, added.attempts) == (
        Secret("refresh-x"),
        "acc_x",
        "au",
        1,
    )
    by_account = await revocations.add_claimed(
        refresh_token=None, sub="acc_y", data_center="au", now=T0, lease_until=T0 + 2 * LEASE
    )

    assert await revocations.claim_due(now=T0 + LEASE - timedelta(seconds=1), lease_until=T0 + 2 * LEASE) is None
    claimed = await revocations.claim_due(now=T0 + LEASE, lease_until=T0 + 2 * LEASE)
    assert (claimed.id, claimed.refresh_token, claimed.attempts) == (added.id, Secret("refresh-x"), 2)
    assert await revocations.claim_due(now=T0 + LEASE, lease_until=T0 + 2 * LEASE) is None

    retry_at = T0 + 3 * LEASE
    await revocations.retry_later(claimed, at=retry_at, error="CronofyUnavailable")
    second = await revocations.claim_due(now=T0 + 2 * LEASE, lease_until=T0 + 3 * LEASE)
    assert second.id == by_account.id and second.refresh_token is None and second.sub == "acc_y"
    await revocations.done(second)
    again = await revocations.claim_due(now=retry_at, lease_until=retry_at + LEASE)
    assert again.id == added.id and again.attempts == 3
    await revocations.done(again)
    assert await revocations.claim_due(now=retry_at + 10 * LEASE, lease_until=retry_at + 11 * LEASE) is None


async def test_a_users_changes_a_minute_are_counted_in_fixed_windows(repos: Repositories) -> None:
    minute = datetime(2027, 1, 4, 9, 0, 10, tzinfo=UTC)

    assert await repos.user_limits.take("alice", 2, now=minute) is None
    assert await repos.user_limits.take("alice", 1, now=minute) is None
    assert await repos.user_limits.take("alice", 1, now=minute) == 50.0  # until 09:01:00; nothing taken
    assert await repos.user_limits.take("bob", 3, now=minute) is None  # each user their own
    assert await repos.user_limits.take("alice", 1, now=minute + timedelta(seconds=50)) is None


# --- a person's data: exports and erasures (services/privacy.py) -------------------------------------------


async def test_a_persons_meetings_by_user_id_or_by_address_alone_in_any_case(repos: Repositories) -> None:
    theirs = a_meeting(repos)  # Bob by user id
    by_address = dataclasses.replace(
        a_meeting(repos, organizer="carol"),
        participants=(
            MeetingParticipant(email="carol@x.test", user_id="carol", is_organizer=True),
            MeetingParticipant(email="Bob@X.test"),  # Bob's address, no user id
        ),
        copies=(),
        start=T0 + timedelta(days=1),
    )
    someone_elses = dataclasses.replace(
        a_meeting(repos, organizer="carol"),
        participants=(
            MeetingParticipant(email="carol@x.test", user_id="carol", is_organizer=True),
            MeetingParticipant(email="bob@x.test", user_id="robert"),  # that address, but another user's seat
        ),
        copies=(),
    )
    for meeting in (theirs, by_address, someone_elses):
        await repos.meetings.insert(meeting, idempotency_key=None, now=T0)

    assert ids(await repos.meetings.of_person("bob")) == [theirs.id]
    assert ids(await repos.meetings.of_person("bob", ["bob@x.test", "b.o.b@x.test"])) == [
        by_address.id,
        theirs.id,
    ]  # by start
    assert ids(await repos.meetings.of_person("nobody", ["bob@x.test"])) == [by_address.id]
    assert await repos.meetings.of_person("nobody", ["bob@x.test.evil"]) == []  # whole addresses only
    assert ids(await repos.meetings.with_copies_on(["c_bob", "c_other"])) == [theirs.id]
    assert await repos.meetings.with_copies_on(["c_other"]) == []


async def test_save_erased_stores_the_next_version_against_the_version_read(repos: Repositories) -> None:
    meeting = a_meeting(repos)
    await repos.meetings.insert(meeting, idempotency_key="k1", now=T0)
    participants = list(meeting.participants)
    participants[1] = MeetingParticipant(email="erased-participant@invalid", erased=True)
    after = dataclasses.replace(
        meeting,
        organizer_id="",
        participants=tuple(participants),
        status=MeetingStatus.CANCELLED,
        cancelled_at=LATER,
        title="[erased]",
        updated_at=LATER,
        version=2,
    )

    assert await repos.meetings.save_erased(meeting, after, now=LATER)

    assert await repos.meetings.get(meeting.id) == after
    assert await repos.meetings.for_participant("bob", meeting.id) is None  # no seat of Bob's any more
    assert await repos.meetings.outbox_stats() == (1, LATER)  # every copy due (to be deleted)
    assert await repos.meetings.save_erased(meeting, after, now=LATER) is False  # version 1 is gone
    assert await repos.meetings.by_idempotency_key("alice", "k1") is None  # it was the organizer's
    # the organizer's idempotency keys: forgotten once
    other = a_meeting(repos)
    await repos.meetings.insert(other, idempotency_key="k2", now=T0)
    assert await repos.meetings.forget_idempotency_keys("alice") == 1  # the other meeting's organizer is gone
    assert await repos.meetings.forget_idempotency_keys("alice") == 0
    assert await repos.meetings.by_idempotency_key("alice", "k2") is None


async def test_when_each_credential_was_stored(repos: Repositories) -> None:
    first = await save(repos, sub="acc_1", now=T0)
    second = await save(repos, sub="acc_2", now=LATER)
    await save(repos, user_id="carol", sub="acc_3")

    assert await repos.connections.held_since("alice") == {first.id: T0, second.id: LATER}
    await save(repos, sub="acc_1", now=LATER + LEASE, tag="2")  # linked again: a new grant
    assert (await repos.connections.held_since("alice"))[first.id] == LATER + LEASE


async def test_a_users_link_states_are_listed_and_deleted(repos: Repositories) -> None:
    for user_id, minutes in (("alice", 10), ("alice", 5), ("bob", 10)):
        await repos.link_states.create(
            user_id=user_id, redirect_uri="https://app.test/linked", data_center="uk", now=T0,
            expires_at=T0 + timedelta(minutes=minutes),
        )  # fmt: skip

    listed = await repos.link_states.of_user("alice")
    assert [state.expires_at for state in listed] == [T0 + timedelta(minutes=5), T0 + timedelta(minutes=10)]
    assert await repos.link_states.delete_for_user("alice") == 2
    assert await repos.link_states.of_user("alice") == []
    assert len(await repos.link_states.of_user("bob")) == 1


async def test_a_used_link_state_is_gone(repos: Repositories) -> None:
    state = await repos.link_states.create(
        user_id="alice", redirect_uri="https://app.test/linked", data_center="uk", now=T0, expires_at=LATER
    )
    assert await repos.link_states.consume(state, user_id="alice", now=T0) is not None
    assert await repos.link_states.of_user("alice") == []


async def test_owed_revocations_are_listed_by_their_subject_only(repos: Repositories) -> None:
    await repos.revocations.add_claimed(
        refresh_token=Secret("r1"), sub="acc_1", data_center="us", now=T0, lease_until=T0 + LEASE, subject="s-bob"
    )
    await repos.revocations.add_claimed(refresh_token=None, sub="acc_2", data_center="us", now=T0, lease_until=LATER)
    claimed = await repos.revocations.claim_due(now=T0 + LEASE, lease_until=LATER)
    await repos.revocations.retry_later(claimed, at=LATER, error="CronofyUnavailable")

    [owed] = await repos.revocations.owed_by("s-bob")
    assert (owed.owed_since, owed.attempts, owed.next_attempt_at, owed.last_error) == (
        T0,
        2,
        LATER,
        "CronofyUnavailable",
    )
    assert await repos.revocations.owed_by("s-nobody") == []


async def test_an_erasure_is_leased_to_one_process_and_keeps_only_its_receipt_once_done(repos: Repositories) -> None:
    erasures = repos.erasures
    until = T0 + timedelta(hours=24)
    begun = await erasures.begin(
        subject="s1", user_id="bob", now=T0, calendars_until=until, owner="p1", lease_until=T0 + LEASE
    )
    assert (begun.status, begun.user_id, begun.started_at, begun.calendars_until) == (
        ErasureStatus.IN_PROGRESS, "bob", T0, until,
    )  # fmt: skip
    # while p1 holds it nobody else runs it
    assert (
        await erasures.begin(subject="s1", user_id="bob", now=T0, calendars_until=until, owner="p2", lease_until=LATER)
        is None
    )
    assert await erasures.claim_due(owner="p2", now=T0, until=LATER) is None

    await erasures.learned("s1", addresses={"bob@x.test"}, names={"Bob"}, connections={"c1"})
    await erasures.learned("s1", addresses={"b@x.test"}, names=(), connections={"c1", "c2"})
    await erasures.learned("s1", withdrawals=["m1"])
    await erasures.count("s1", ErasureCounts(meeting_seats=2))
    await erasures.count("s1", ErasureCounts(meeting_seats=1, link_states=1))
    await erasures.wait("s1", owner="p1", until=T0 + timedelta(seconds=30), waiting_for="calendars")

    waiting = await erasures.get("s1")
    assert (waiting.addresses, waiting.names, set(waiting.connections)) == (
        {"bob@x.test", "b@x.test"},
        {"Bob"},
        {"c1", "c2"},
    )
    assert waiting.counts == ErasureCounts(meeting_seats=3, link_states=1) and waiting.waiting_for == "calendars"
    assert waiting.withdrawals == ("m1",)
    # due again after the wait: the worker claims it
    assert await erasures.claim_due(owner="w", now=T0 + timedelta(seconds=29), until=LATER) is None
    claimed = await erasures.claim_due(owner="w", now=T0 + timedelta(seconds=30), until=LATER)
    assert claimed.subject == "s1" and claimed.user_id == "bob"
    assert await erasures.finish("s1", owner="p1", now=LATER, purge_at=LATER + LEASE) is None  # p1 lost it

    done = await erasures.finish("s1", owner="w", now=LATER, purge_at=LATER + timedelta(days=30))
    assert (done.status, done.finished_at, done.counts) == (ErasureStatus.DONE, LATER, waiting.counts)
    assert (done.user_id, done.addresses, done.names, done.connections) == (None, frozenset(), frozenset(), ())
    assert done.withdrawals == ()
    assert await erasures.get("s1") == done
    assert await erasures.claim_due(owner="w", now=LATER + LEASE, until=LATER + 2 * LEASE) is None

    # run again: in progress once more, with the counts so far and a later deadline
    again = await erasures.begin(
        subject="s1",
        user_id="bob",
        now=LATER,
        calendars_until=LATER + timedelta(hours=24),
        owner="p3",
        lease_until=LATER + LEASE,
    )
    assert (again.status, again.user_id, again.counts, again.started_at) == (
        ErasureStatus.IN_PROGRESS,
        "bob",
        done.counts,
        T0,
    )
    assert again.calendars_until == LATER + timedelta(hours=24) and again.finished_at is None


async def test_what_is_kept_no_longer_is_removed_by_the_sweep(repos: Repositories) -> None:
    # given a meeting over at T0 + 7 days + 1 hour, another cancelled at T0, a link state, an erasure receipt
    ended = a_meeting(repos)
    cancelled = dataclasses.replace(a_meeting(repos), status=MeetingStatus.CANCELLED, cancelled_at=T0)
    for meeting in (ended, cancelled):
        await repos.meetings.insert(meeting, idempotency_key=None, now=T0)
    await repos.link_states.create(
        user_id="alice", redirect_uri="https://app.test/linked", data_center="uk", now=T0, expires_at=LATER
    )
    await repos.erasures.begin(subject="s1", user_id="bob", now=T0, calendars_until=LATER, owner="p", lease_until=LATER)
    await repos.erasures.finish("s1", owner="p", now=T0, purge_at=LATER + LEASE)

    async def swept(now):
        return sum((await repos.retention.remove_expired(now=now)).values())

    assert await swept(LATER - timedelta(seconds=1)) == 0
    assert await swept(LATER) == 1  # the link state
    assert await swept(LATER + LEASE) == 1  # the receipt
    assert await repos.erasures.get("s1") is None
    days = timedelta(days=RETENTION_DAYS)
    assert await swept(T0 + days - timedelta(seconds=1)) == 0
    assert await swept(T0 + days) == 1  # the cancelled meeting
    assert await repos.meetings.get(cancelled.id) is None
    assert await swept(ended.end + days) == 1
    assert await repos.meetings.get(ended.id) is None


async def test_a_meeting_moved_later_is_kept_from_its_new_end(repos: Repositories) -> None:
    meeting = a_meeting(repos)
    await repos.meetings.insert(meeting, idempotency_key=None, now=T0)
    moved = await repos.meetings.change(meeting, {"end": meeting.end + timedelta(days=2)}, now=T0)
    assert await repos.meetings.take_calendar_change(
        moved, copy_index=0, fields={"end": moved.end + timedelta(days=1)}, changed_at=T0, now=T0
    )
    days = timedelta(days=RETENTION_DAYS)

    assert await repos.retention.remove_expired(now=meeting.end + timedelta(days=2) + days) == {}
    assert await repos.retention.remove_expired(now=meeting.end + timedelta(days=3) + days) == {"meetings": 1}


def ids(meetings: list[Meeting]) -> list[str]:
    return [meeting.id for meeting in meetings]


# --- the change feed ---------------------------------------------------------------------------------------------


@pytest.fixture(params=["fake", "store"])
async def feed(request: pytest.FixtureRequest) -> Any:
    from tests.support.fakes import FakeChangeFeed

    if request.param == "fake":
        return FakeChangeFeed(clock=lambda: T0)
    from gql_api.store import ChangeFeedStore

    database = AsyncMongoMockClient(tz_aware=True)[f"contract_{uuid.uuid4().hex[:12]}"]
    await prepare(database, where="contract test")
    return ChangeFeedStore(database, clock=lambda: T0)


async def test_the_change_feed_numbers_reads_and_listens_alike(feed: Any) -> None:
    from gql_api.domain.changes import Change, MeetingChangeKind, Topic

    def change(subject: str) -> Change:
        return Change(Topic.MEETING, MeetingChangeKind.UPDATED, subject, frozenset({"k1", "k2"}))

    assert await feed.last_sequence() == 0
    await feed.publish([change("m1")])
    await feed.publish([change("m2"), change("m3")])

    assert await feed.last_sequence() == 3
    read = await feed.read(after=1, limit=10)
    assert [(c.sequence, c.subject, c.audience, c.published_at) for c in read] == [
        (2, "m2", frozenset({"k1", "k2"}), T0),
        (3, "m3", frozenset({"k1", "k2"}), T0),
    ]
    assert [c.sequence for c in await feed.read(after=2, missing=[1], limit=10)] == [1, 3]
    assert [c.sequence for c in await feed.read(after=0, limit=2)] == [1, 2]
    assert await feed.listen() is None  # mongomock has no change streams; the fake, unless asked to
