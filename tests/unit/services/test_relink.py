"""A calendar that needs relinking: its copies show FAILED and why, once; nothing else fails."""

from __future__ import annotations

from gql_api.domain.connections import ConnectionStatus
from gql_api.domain.meetings import MeetingStatus, SyncStatus
from gql_api.domain.validation import MeetingChanges
from gql_api.services.calendar_access import RELINK_MESSAGE
from tests.support.fakes import ALICE, BOB, T0, copy_of, link, run_worker, schedule, services, sync_of


async def test_needs_relink_fails_the_copies_in_that_calendar_once():
    # given Bob has copies of a scheduled and of a cancelled meeting
    app = services()
    alices = await link(app, ALICE)
    bobs = await link(app, BOB)
    meeting = await schedule(app, ALICE, BOB)
    cancelled = await app.meetings.cancel(ALICE, (await schedule(app, ALICE, BOB, title="Off")).id)
    app.gateway.forget_calls()

    # when Cronofy stops accepting Bob's connection, and says so twice
    await app.access.needs_relink(bobs.id)
    after_first = await app.meetings.get(ALICE, meeting.id)
    await app.access.needs_relink(bobs.id)

    # then his copy of the scheduled meeting shows FAILED and why, marked only once
    assert (await app.linking.connection(BOB, bobs.id)).status is ConnectionStatus.NEEDS_RELINK
    after = await app.meetings.get(ALICE, meeting.id)
    assert after == after_first and after.version == meeting.version + 1
    assert sync_of(after, BOB) is SyncStatus.FAILED and copy_of(after, BOB).last_error == RELINK_MESSAGE
    assert copy_of(after, ALICE).last_error is None
    assert await app.meetings.get(ALICE, cancelled.id) == cancelled
    assert app.store.connections.relink_owed(bobs.id) is False
    assert (await app.linking.connection(ALICE, alices.id)).status is ConnectionStatus.ACTIVE
    assert app.gateway.calls == []


async def test_a_copy_its_owner_removed_is_not_failed():
    # given Bob deleted his copy (declined)
    app = services()
    await link(app, ALICE)
    bobs = await link(app, BOB)
    meeting = await schedule(app, ALICE, BOB)
    await app.store.meetings.copy_removed(meeting, copy_index=1, decliners=[1])

    # when
    await app.access.needs_relink(bobs.id)

    # then
    after = await app.meetings.get(ALICE, meeting.id)
    assert copy_of(after, BOB).removed and copy_of(after, BOB).last_error is None
    assert sync_of(after, BOB) is SyncStatus.SYNCED


async def test_relinks_owed_by_a_process_that_stopped_are_settled_by_the_worker():
    # given a process marked Bob's connection and stopped before failing his copies
    app = services()
    await link(app, ALICE)
    bobs = await link(app, BOB)
    meeting = await schedule(app, ALICE, BOB)
    assert await app.store.connections.mark_needs_relink(bobs.id, now=T0)

    # when the worker looks for owed relinks
    owed = await app.access.next_relink_owed()
    await app.access.settle_relink(owed)

    # then
    assert owed == bobs.id
    assert copy_of(await app.meetings.get(ALICE, meeting.id), BOB).last_error == RELINK_MESSAGE
    assert await app.access.next_relink_owed() is None


async def test_a_meeting_change_never_fails_because_a_calendar_needs_relinking():
    # given
    app = services()
    alices = await link(app, ALICE)
    bobs = await link(app, BOB)
    meeting = await schedule(app, ALICE, BOB)
    await app.access.needs_relink(bobs.id)
    app.gateway.forget_calls()

    # when Alice moves the meeting
    updated = await app.meetings.update(ALICE, meeting.id, MeetingChanges(title="Moved"))

    # then it changed; Alice's calendar has it; Bob's copy shows why it does not, and nobody called his calendar
    assert updated.title == "Moved"
    assert sync_of(updated, ALICE) is SyncStatus.SYNCED
    assert sync_of(updated, BOB) is SyncStatus.FAILED and copy_of(updated, BOB).last_error == RELINK_MESSAGE
    assert [c["calendar_id"] for c in app.gateway.calls_to("upsert_event")] == [alices.calendar.id]
    assert await app.meetings.outbox_stats() == (0, None)


async def test_a_meeting_cancelled_while_the_calendar_needed_relinking_is_removed_from_it_after_relinking():
    # given
    app = services()
    await link(app, ALICE)
    bobs = await link(app, BOB)
    meeting = await schedule(app, ALICE, BOB)
    await app.access.needs_relink(bobs.id)
    await app.meetings.cancel(ALICE, meeting.id)
    app.gateway.forget_calls()

    # when Bob links his account again and the worker runs
    await link(app, BOB)
    assert await run_worker(app) == 1

    # then his copy is deleted
    assert bobs.calendar.id in [c["calendar_id"] for c in app.gateway.calls_to("delete_event")]
    after = await app.meetings.get(ALICE, meeting.id)
    assert after.status is MeetingStatus.CANCELLED and sync_of(after, BOB) is SyncStatus.SYNCED


async def test_marking_a_calendar_for_relinking_leaves_the_other_copies_alone():
    # given
    app = services()
    await link(app, ALICE)
    bobs = await link(app, BOB)
    meeting = await schedule(app, ALICE, BOB)
    app.gateway.forget_calls()

    # when Bob's calendar needs relinking
    await app.access.needs_relink(bobs.id)

    # then Alice's copy is still synced and nothing is left to write
    after = await app.meetings.get(ALICE, meeting.id)
    assert sync_of(after, ALICE) is SyncStatus.SYNCED
    assert await run_worker(app) == 0 and app.gateway.calls == []
