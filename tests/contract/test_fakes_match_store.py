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

from gql_api.bootstrap import Repositories as BootstrapRepositories
from gql_api.bootstrap import build_services
from gql_api.domain.connections import CalendarProvider, ConnectionStatus, Credential, TargetCalendar
from gql_api.domain.meetings import CalendarCopy, Meeting, MeetingParticipant, MeetingStatus, ParticipantResponse
from gql_api.domain.secrets import Secret
from gql_api.observability.metrics import Metrics
from gql_api.store import (
    ConnectionStore,
    LinkStateStore,
    MeetingStore,
    MongoUserRateLimit,
    RevocationStore,
    prepare,
)
from gql_api.store.meetings import SYNC_STATE
from gql_api.vault import KeyRing, Vault
from tests.support.fakes import SYNC_STATE as FAKE_SYNC_STATE
from tests.support.fakes import (
    T0,
    FakeConnections,
    FakeLinkStates,
    FakeMeetings,
    FakeRevocations,
    FakeUserRateLimit,
    services,
)

# MongoDB keeps milliseconds: every instant here is whole seconds.
LEASE = timedelta(seconds=60)
LATER = T0 + timedelta(minutes=5)
WORK = TargetCalendar("cal_1", "Work", True)


@dataclasses.dataclass
class Repositories:
    connections: Any
    link_states: Any
    meetings: Any
    revocations: Any
    user_limits: Any


@pytest.fixture(params=["fake", "store"])
async def repos(request: pytest.FixtureRequest) -> Repositories:
    if request.param == "fake":
        return Repositories(
            FakeConnections(), FakeLinkStates(), FakeMeetings(), FakeRevocations(), FakeUserRateLimit(per_minute=3)
        )
    database = AsyncMongoMockClient(tz_aware=True)[f"contract_{uuid.uuid4().hex[:12]}"]
    await prepare(database, where="contract test")  # the indexes: the unique idempotency key among them
    vault = Vault(KeyRing.ephemeral())
    return Repositories(
        ConnectionStore(database, vault),
        LinkStateStore(database),
        MeetingStore(database),
        RevocationStore(database, vault),
        MongoUserRateLimit(database, per_minute=3),
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
    active = await repos.connections.active_for_users(["alice", "bob", "carol"])
    assert {user: c.id for user, c in active.items()} == {"alice": new.id, "bob": bobs.id}
    await repos.connections.mark_needs_relink(new.id, now=LATER)
    assert (await repos.connections.active_for_users(["alice"]))["alice"].id == old.id
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


async def test_reconciliation_makes_reads_due_for_connections_not_read_lately(repos: Repositories) -> None:
    stale = await save(repos, sub="acc_stale")
    recent = await save(repos, sub="acc_recent")
    never = await save(repos, sub="acc_never")  # no channel yet: nothing to reconcile
    relink = await save(repos, sub="acc_relink")
    noted = await save(repos, sub="acc_noted")
    for connection in (stale, relink, noted):
        await repos.connections.channel_open(connection.id, "chn", now=T0)
    await repos.connections.channel_open(recent.id, "chn", now=LATER)
    await repos.connections.mark_needs_relink(relink.id, now=T0)
    await repos.connections.note_changes(noted.id, since=None, now=T0)
    assert never.last_synced_at is None

    assert await repos.connections.due_for_reconciliation(synced_before=T0, now=LATER) == 1

    claimed = await repos.connections.claim_sync(owner="w", now=LATER, until=LATER + LEASE, connection_id=stale.id)
    assert claimed is not None and claimed[1].requests_seen == 1
    assert await repos.connections.due_for_reconciliation(synced_before=T0, now=LATER) == 0  # due already


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


# --- the wiring ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [{}, {"outbox_max_attempts": 3, "cronofy_timeout_seconds": 30.0, "sync_reconcile_interval_seconds": 0}],
    ids=["defaults", "tuned"],
)
def test_the_builder_wires_the_services_as_bootstrap_does(overrides: dict[str, Any]) -> None:
    """tests.support.fakes.services mirrors bootstrap.build_services (it injects a sleep and a refresh
    recorder); each service's settings must be the ones bootstrap gives it."""
    built = services(**overrides)
    wired = build_services(
        built.settings,
        BootstrapRepositories(
            connections=built.store.connections,
            link_states=built.store.link_states,
            meetings=built.store.meetings,
            revocations=built.store.revocations,
            user_limits=built.store.user_limits,
        ),
        built.gateway,
        built.background,
        owner=built.owner,
        clock=built.clock,
        metrics=Metrics(),
    )

    def settings_of(service: Any) -> dict[str, Any]:
        plain = (bool, int, float, str, timedelta, frozenset, type(None))
        return {name: value for name, value in vars(service).items() if isinstance(value, plain)}

    for field in dataclasses.fields(wired):
        ours, theirs = getattr(built.services, field.name), getattr(wired, field.name)
        assert type(ours) is type(theirs)
        assert settings_of(ours) == settings_of(theirs), field.name
        collaborators = {name: type(value) for name, value in vars(theirs).items() if not callable(value)}
        assert {name: type(value) for name, value in vars(ours).items() if name in collaborators} == collaborators


async def test_a_users_changes_a_minute_are_counted_in_fixed_windows(repos: Repositories) -> None:
    minute = datetime(2027, 1, 4, 9, 0, 10, tzinfo=UTC)

    assert await repos.user_limits.take("alice", 2, now=minute) is None
    assert await repos.user_limits.take("alice", 1, now=minute) is None
    assert await repos.user_limits.take("alice", 1, now=minute) == 50.0  # until 09:01:00; nothing taken
    assert await repos.user_limits.take("bob", 3, now=minute) is None  # each user their own
    assert await repos.user_limits.take("alice", 1, now=minute + timedelta(seconds=50)) is None
