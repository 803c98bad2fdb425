"""Following what users do in their calendars: pushes noted and read, the rules applied, reconciliation."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from gql_api.cronofy.errors import CronofyLocked, CronofyUnavailable
from gql_api.cronofy.models import EventAttendee, ManagedEvent
from gql_api.domain.connections import ConnectionStatus, ReadReason
from gql_api.domain.meetings import MeetingStatus, ParticipantResponse, SyncStatus
from gql_api.domain.validation import MeetingChanges
from gql_api.services.calendar_access import RELINK_MESSAGE
from tests.support.fakes import (
    ALICE,
    BOB,
    CALLBACK_BASE,
    CAROL,
    CAST,
    T0,
    User,
    copy_of,
    link,
    person,
    run_worker,
    schedule,
    services,
    statuses,
    sync_of,
)

LINKED_AT = T0
SCHEDULED_AT = T0 + timedelta(minutes=1)
NOW = T0 + timedelta(minutes=10)


async def a_synced_meeting(app):
    """Alice (organizer) and Bob have calendars, Carol is invited on Alice's event; all written."""
    alices = await link(app, ALICE)
    bobs = await link(app, BOB)
    app.clock.now = SCHEDULED_AT
    meeting = await schedule(app, ALICE, BOB, CAROL)
    assert set(statuses(meeting).values()) == {SyncStatus.SYNCED}
    app.clock.now = NOW
    app.gateway.forget_calls()
    return meeting, alices, bobs


def as_shown(meeting, connection, **changes) -> ManagedEvent:
    """The meeting's event in the connection's calendar as we wrote it, with `changes` made there."""
    shown = ManagedEvent(
        calendar_id=connection.calendar.id,
        event_id=meeting.event_id,
        deleted=False,
        updated=SCHEDULED_AT,
        summary=meeting.title,
        description=meeting.description,
        location=meeting.location,
        start=meeting.start,
        end=meeting.end,
    )
    return dataclasses.replace(shown, **changes)


async def push_and_read(app, connection, *events):
    """The calendar shows `events`; Cronofy pushes a change; the background read runs."""
    app.gateway.account(connection.sub).changes[:] = events
    await app.changes.changed(connection, since=None)
    await app.background.run_pending()
    assert app.background.failures == []


# --- pushes -------------------------------------------------------------------------------------------------------


async def test_a_push_is_noted_durably_then_read_in_the_background():
    # given
    app = services()
    _, _, bobs = await a_synced_meeting(app)
    changed_since = NOW - timedelta(minutes=3)

    # when Cronofy pushes a change
    await app.changes.changed(bobs, since=changed_since)

    # then it is noted before anything is read
    noted = app.store.connections.sync_of(bobs.id)
    assert (noted.due_at, noted.requests, noted.changes_since) == (NOW, 1, changed_since)
    assert app.gateway.calls == [] and len(app.background.pending) == 1

    # and the read asks for our events changed since then (or a little before the last sync)
    await app.background.run_pending()
    [read] = app.gateway.calls_to("managed_events_since")
    assert read["since"] == min(changed_since, LINKED_AT - timedelta(minutes=1))
    assert app.gateway.sub_of(read["access_token"]) == "acc_bob"
    done = app.store.connections.sync_of(bobs.id)
    assert (done.due_at, done.changes_since, done.lease_owner) == (None, None, None)
    assert (await app.linking.connection(BOB, bobs.id)).last_synced_at == NOW


async def test_the_callback_token_finds_its_connection():
    # given
    app = services()
    alices = await link(app, ALICE)
    token = app.gateway.calls_to("create_channel")[0]["callback_url"].removeprefix(CALLBACK_BASE)

    # when / then
    assert (await app.changes.connection_for(token)).id == alices.id
    assert await app.changes.connection_for("x" + token) is None


async def test_a_push_during_a_read_makes_it_read_again_and_a_burst_costs_few_reads():
    # given a push arrives while the first read is under way
    app = services()
    _, _, bobs = await a_synced_meeting(app)

    async def another_push(args):
        if len(app.gateway.calls_to("managed_events_since")) == 1:
            await app.changes.changed(bobs, since=None)

    app.gateway.before("managed_events_since", another_push)

    # when
    await app.changes.changed(bobs, since=None)
    await app.background.run_pending()

    # then the read ran again at once, and the second push's own read found nothing left to do
    assert len(app.gateway.calls_to("managed_events_since")) == 2
    assert app.store.connections.sync_of(bobs.id).due_at is None


# --- the rules, through the repository ---------------------------------------------------------------------------


async def test_the_organizer_deleting_the_host_event_cancels_the_meeting_for_everyone():
    # given
    app = services()
    meeting, alices, bobs = await a_synced_meeting(app)

    # when Alice deletes the event in her calendar
    await push_and_read(app, alices, as_shown(meeting, alices, deleted=True, updated=NOW))

    # then the meeting is cancelled, and only the other copies are deleted
    cancelled = await app.meetings.get(BOB, meeting.id)
    assert cancelled.status is MeetingStatus.CANCELLED and cancelled.cancelled_at == NOW
    assert sync_of(cancelled, ALICE) is SyncStatus.SYNCED and sync_of(cancelled, BOB) is SyncStatus.PENDING
    assert await run_worker(app) == 1
    assert [c["calendar_id"] for c in app.gateway.calls_to("delete_event")] == [bobs.calendar.id]


async def test_a_participant_deleting_their_copy_declines_and_that_copy_is_left_alone():
    # given
    app = services()
    meeting, _, bobs = await a_synced_meeting(app)

    # when Bob deletes his copy
    await push_and_read(app, bobs, as_shown(meeting, bobs, deleted=True, updated=NOW))

    # then
    after = await app.meetings.get(ALICE, meeting.id)
    assert person(after, BOB).response is ParticipantResponse.DECLINED
    assert copy_of(after, BOB).removed and after.version == meeting.version
    assert after.status is MeetingStatus.SCHEDULED
    assert await app.meetings.outbox_stats() == (0, None)


async def test_a_moved_copy_moves_the_meeting_and_the_other_copies_follow():
    # given
    app = services()
    meeting, alices, bobs = await a_synced_meeting(app)
    later = {"start": meeting.start + timedelta(hours=2), "end": meeting.end + timedelta(hours=2)}

    # when Bob moves his copy and renames it
    await push_and_read(app, bobs, as_shown(meeting, bobs, updated=NOW, summary="Moved by Bob", **later))

    # then the meeting follows, as a new version Bob's copy already carries
    after = await app.meetings.get(ALICE, meeting.id)
    assert (after.title, after.start, after.end) == ("Moved by Bob", later["start"], later["end"])
    assert after.version == meeting.version + 1 and after.updated_at == NOW
    assert (sync_of(after, BOB), sync_of(after, ALICE)) == (SyncStatus.SYNCED, SyncStatus.PENDING)
    assert await run_worker(app) == 1
    assert [c["calendar_id"] for c in app.gateway.calls_to("upsert_event")] == [alices.calendar.id]
    assert app.gateway.events[(alices.calendar.id, meeting.event_id)].summary == "Moved by Bob"


async def test_answers_on_the_host_event_become_the_attendees_responses():
    # given
    app = services()
    meeting, alices, _ = await a_synced_meeting(app)
    answers = (
        EventAttendee("CAROL@example.test", "accepted"),
        EventAttendee("alice@example.test", "declined"),  # the organizer's own answer is not taken
        EventAttendee("stranger@example.test", "tentative"),
    )

    # when
    await push_and_read(app, alices, as_shown(meeting, alices, updated=NOW, attendees=answers))

    # then
    after = await app.meetings.get(ALICE, meeting.id)
    assert [p.response for p in after.participants] == [
        ParticipantResponse.ACCEPTED,
        ParticipantResponse.NEEDS_ACTION,
        ParticipantResponse.ACCEPTED,
    ]
    assert after.version == meeting.version and await app.meetings.outbox_stats() == (0, None)


async def test_our_own_write_read_back_is_no_edit():
    # given
    app = services()
    meeting, alices, bobs = await a_synced_meeting(app)

    # when both calendars show what we wrote
    await push_and_read(app, alices, as_shown(meeting, alices, updated=NOW))
    await push_and_read(app, bobs, as_shown(meeting, bobs, updated=NOW))

    # then
    assert await app.meetings.get(ALICE, meeting.id) == meeting


async def test_a_calendar_edit_older_than_the_meetings_last_change_loses():
    # given Alice changed the meeting after Bob edited his copy
    app = services()
    meeting, _, bobs = await a_synced_meeting(app)
    updated = await app.meetings.update(ALICE, meeting.id, MeetingChanges(location="Room 4"))
    app.gateway.forget_calls()

    # when Bob's older edit is read
    await push_and_read(app, bobs, as_shown(meeting, bobs, updated=NOW - timedelta(minutes=1), summary="Old edit"))

    # then
    assert await app.meetings.get(ALICE, meeting.id) == updated


async def test_events_that_are_not_ours_or_whose_meeting_is_gone_are_ignored():
    # given
    app = services()
    meeting, _, bobs = await a_synced_meeting(app)
    cancelled = await schedule(app, ALICE, BOB, title="Cancelled")
    await app.meetings.cancel(ALICE, cancelled.id)
    app.gateway.forget_calls()

    # when
    await push_and_read(
        app,
        bobs,
        as_shown(meeting, bobs, event_id="someone-elses-event", deleted=True),
        as_shown(meeting, bobs, event_id="mtg_000000000000000000000000", deleted=True),
        as_shown(cancelled, bobs, summary="Edited after the cancel", updated=NOW),
        as_shown(meeting, bobs, calendar_id="another-calendar-of-bob", deleted=True),
    )

    # then
    assert await app.meetings.get(ALICE, meeting.id) == meeting
    assert (await app.meetings.get(ALICE, cancelled.id)).title == "Cancelled"
    assert [c.method for c in app.gateway.calls] == ["managed_events_since"]


async def test_a_rule_decided_on_a_meeting_that_changed_meanwhile_is_decided_again():
    # given Alice changes the time zone between our read of the meeting and our write
    app = services()
    meeting, _, bobs = await a_synced_meeting(app)
    take = app.store.meetings.take_calendar_change
    attempts = []

    async def racing(meeting_seen, **kwargs):
        attempts.append(meeting_seen.version)
        if len(attempts) == 1:
            await app.store.meetings.change(meeting_seen, {"time_zone": "Europe/Paris"}, now=NOW)
        return await take(meeting_seen, **kwargs)

    app.store.meetings.take_calendar_change = racing

    # when Bob renames his copy
    await push_and_read(app, bobs, as_shown(meeting, bobs, updated=NOW, summary="Renamed"))

    # then the edit is applied on top of Alice's change
    after = await app.meetings.get(ALICE, meeting.id)
    assert attempts == [meeting.version, meeting.version + 1]
    assert (after.title, after.time_zone, after.version) == ("Renamed", "Europe/Paris", meeting.version + 2)


async def test_a_calendar_edit_does_not_undo_a_change_that_had_not_reached_that_calendar():
    # given Alice moved the meeting to Room 4 while Cronofy was away: Bob's copy still says "Video call"
    app = services()
    meeting, _, bobs = await a_synced_meeting(app)
    app.gateway.fail("upsert_event", CronofyUnavailable("503"), times=None)
    await app.meetings.update(ALICE, meeting.id, MeetingChanges(location="Room 4"))
    app.clock.advance(minutes=1)

    # when Bob then renames his copy
    await push_and_read(app, bobs, as_shown(meeting, bobs, updated=app.clock.now, summary="Renamed by Bob"))

    # then the meeting has both changes
    after = await app.meetings.get(ALICE, meeting.id)
    assert (after.title, after.location) == ("Renamed by Bob", "Room 4")


# --- failures --------------------------------------------------------------------------------------------------------


async def test_a_read_cronofy_cannot_answer_is_retried_later_from_the_same_point():
    # given
    app = services()
    _, _, bobs = await a_synced_meeting(app)
    app.gateway.fail("managed_events_since", CronofyUnavailable("503"))

    # when
    await app.changes.changed(bobs, since=NOW - timedelta(minutes=2))
    await app.background.run_pending()

    # then
    state = app.store.connections.sync_of(bobs.id)
    assert (state.due_at, state.changes_since) == (NOW + timedelta(seconds=30), NOW - timedelta(minutes=2))
    assert (await app.linking.connection(BOB, bobs.id)).last_synced_at == LINKED_AT

    # and the worker reads it once due
    app.clock.advance(seconds=30)
    claimed = await app.changes.claim_due()
    assert claimed is not None and await app.changes.read_claimed(claimed) is True
    assert app.gateway.calls_to("managed_events_since")[-1]["since"] == LINKED_AT - timedelta(minutes=1)


async def test_a_calendar_that_needs_relinking_is_not_read_again_until_relinked():
    # given Cronofy says the profile is disconnected while we read
    app = services()
    meeting, _, bobs = await a_synced_meeting(app)
    app.gateway.fail("managed_events_since", CronofyLocked("423"))

    # when
    await app.changes.changed(bobs, since=None)
    await app.background.run_pending()

    # then
    assert (await app.linking.connection(BOB, bobs.id)).status is ConnectionStatus.NEEDS_RELINK
    assert copy_of(await app.meetings.get(ALICE, meeting.id), BOB).last_error == RELINK_MESSAGE
    assert app.store.connections.sync_of(bobs.id).due_at is None
    await app.changes.changed(bobs, since=None)
    await app.background.run_pending()
    assert len(app.gateway.calls_to("managed_events_since")) == 1


async def test_profile_disconnected_is_answered_first_then_marks_the_connection_for_relinking():
    # given
    app = services()
    meeting, _, bobs = await a_synced_meeting(app)

    # when
    app.changes.disconnected(bobs)

    # then nothing happened yet; the background work marks it and fails its copies
    assert (await app.linking.connection(BOB, bobs.id)).status is ConnectionStatus.ACTIVE
    await app.background.run_pending()
    assert (await app.linking.connection(BOB, bobs.id)).status is ConnectionStatus.NEEDS_RELINK
    assert sync_of(await app.meetings.get(ALICE, meeting.id), BOB) is SyncStatus.FAILED


# --- reconciliation and channels -----------------------------------------------------------------------------------


async def reconciliation_due(app, *, minutes: int = 3) -> int:
    """The reconciliation sweep as the worker runs it, once a minute for a few minutes: it is paced, so the
    calendars due at one moment are made due one after another (a few a minute, at least one)."""
    marked = 0
    for _ in range(minutes):
        marked += await app.changes.mark_reconciliation_due()
        app.clock.advance(minutes=1)
    return marked


async def test_a_calendar_with_nothing_of_ours_upcoming_is_never_reconciled():
    # given Alice and Bob linked their calendars, but no meeting was ever written to them
    app = services(sync_reconcile_interval_seconds=6 * 3600)
    await link(app, ALICE)
    await link(app, BOB)

    # when a week goes by
    app.clock.advance(days=7)

    # then no reconciliation read is due: there is nothing of ours to find there (DESIGN §10)
    assert await app.changes.mark_reconciliation_due() == 0
    assert app.gateway.calls_to("managed_events_since") == []


async def test_a_calendar_is_reconciled_while_it_holds_an_upcoming_meeting_and_then_no_more():
    # given a meeting written to Alice's and Bob's calendars
    app = services(sync_reconcile_interval_seconds=6 * 3600)
    meeting, _, _ = await a_synced_meeting(app)

    # when the interval has passed (the first reconciliation lands at a random moment within it)
    app.clock.now = NOW + timedelta(hours=6)
    assert await reconciliation_due(app) == 2

    # then each calendar is read once, and its next reconciliation is about an interval later
    for _ in range(2):
        claimed = await app.changes.claim_due()
        assert claimed[1].reason is ReadReason.RECONCILE
        assert await app.changes.read_claimed(claimed) is True
    assert len(app.gateway.calls_to("managed_events_since")) == 2
    assert await app.changes.mark_reconciliation_due() == 0
    app.clock.advance(hours=6 * 1.1)
    assert await reconciliation_due(app) == 2

    # and once the meeting is over, a last read finds nothing upcoming: the calendars are no longer read
    app.clock.now = meeting.end + timedelta(minutes=1)
    while claimed := await app.changes.claim_due():
        await app.changes.read_claimed(claimed)
    app.clock.advance(days=30)
    assert await app.changes.mark_reconciliation_due() == 0


async def test_the_calendars_of_one_meeting_are_each_reconciled_from_a_moment_of_their_own():
    # given five partners with calendars
    app = services(sync_reconcile_interval_seconds=6 * 3600)
    others = [User(name, f"{name}@example.test", name.title(), partners=CAST - {name}) for name in ("dave", "erin")]
    people = [ALICE, BOB, CAROL, *others]
    connections = [await link(app, someone) for someone in people]
    app.clock.now = SCHEDULED_AT

    # when a meeting is written to all five calendars
    await schedule(app, *people)

    # then each calendar's first reconciliation is drawn on its own, within the interval: were they one
    # moment, the calendars of every meeting would be read in the same minute, ever after (a burst)
    starts = [app.store.connections._rows[c.id].reconcile_at for c in connections]
    assert all(SCHEDULED_AT <= start <= SCHEDULED_AT + timedelta(hours=6) for start in starts)
    assert len(set(starts)) == 5


async def test_a_change_found_by_reconciliation_that_no_push_announced_reopens_the_channel_and_reads_sooner():
    app = services(sync_reconcile_interval_seconds=6 * 3600)
    meeting, _, bobs = await a_synced_meeting(app)
    app.clock.now = NOW + timedelta(hours=6)
    await reconciliation_due(app)

    # when Bob's copy was moved in his calendar and its push never came
    app.gateway.account(bobs.sub).changes[:] = [as_shown(meeting, bobs, updated=app.clock.now, summary="Moved by Bob")]
    while claimed := await app.changes.claim_due():
        await app.changes.read_claimed(claimed)

    # then the change is taken, Bob's channel is opened anew, and his calendar is reconciled sooner
    assert (await app.meetings.get(ALICE, meeting.id)).title == "Moved by Bob"
    bobs_channel = (await app.linking.connection(BOB, bobs.id)).channel_id
    assert [c["channel_id"] for c in app.gateway.calls_to("close_channel")] == [bobs.channel_id]
    assert bobs_channel != bobs.channel_id
    assert len(app.gateway.calls_to("create_channel")) == 1
    app.clock.advance(hours=6 / 4 * 1.1)
    assert await reconciliation_due(app) == 1


async def test_calendars_due_at_one_moment_are_made_due_at_a_steady_pace_and_none_is_left_out():
    # given five calendars holding one meeting, all of whose reconciliation times have come at once
    app = services(sync_reconcile_interval_seconds=6 * 3600)
    others = [User(name, f"{name}@example.test", name.title(), partners=CAST - {name}) for name in ("dave", "erin")]
    for someone in (ALICE, BOB, CAROL, *others):
        await link(app, someone)
    app.clock.now = SCHEDULED_AT
    await schedule(app, ALICE, BOB, CAROL, *others)
    app.clock.advance(hours=6 * 1.1)

    # when the worker's sweep runs every two seconds for a minute, then every minute
    per_pass = []
    for _ in range(30):
        per_pass.append(await app.changes.mark_reconciliation_due())
        app.clock.advance(seconds=2)
    later = await reconciliation_due(app, minutes=10)

    # then they are not all made due in the same pass: about one a minute (five calendars need far less),
    # and every one of them is, within minutes
    assert max(per_pass) == 1 and sum(per_pass) == 1
    assert sum(per_pass) + later == 5


async def test_a_backlog_of_overdue_calendars_is_made_due_faster_than_the_steady_pace():
    # given 40 calendars holding meetings, and a worker that was down for a whole interval: all are overdue
    app = services(sync_reconcile_interval_seconds=8 * 3600)
    people = [
        User(f"p{n}", f"p{n}@example.test", f"P{n}", partners=frozenset(f"p{m}" for m in range(40))) for n in range(40)
    ]
    for someone in people:
        await link(app, someone)
    app.clock.now = SCHEDULED_AT
    for mentor, mentee in zip(people[::2], people[1::2], strict=True):
        await schedule(app, mentor, mentee)
    app.clock.advance(hours=8 * 1.1)

    # when the worker's sweep runs again, once a minute
    marked = await reconciliation_due(app, minutes=25)

    # then the pace counts the backlog too: far more than the one a minute that 40 calendars read every 8
    # hours need (25 in 25 minutes), and the rest soon after
    assert marked >= 32
    assert marked + await reconciliation_due(app, minutes=10) == 40


async def test_reconciliation_can_be_turned_off():
    # given
    app = services(sync_reconcile_interval_seconds=0)
    await link(app, ALICE)
    app.clock.advance(days=1)

    # when / then
    assert await app.changes.mark_reconciliation_due() == 0


async def test_a_channel_cronofy_could_not_open_is_opened_by_the_next_read():
    # given linking could not open the channel
    app = services()
    app.gateway.fail("create_channel", CronofyUnavailable("503"), times=2)
    alices = await link(app, ALICE)
    assert alices.channel_id is None
    assert await app.changes.claim_due() is None  # not before its retry time

    # when the worker reads it, twice
    app.clock.advance(seconds=30)
    assert await app.changes.read_claimed(await app.changes.claim_due()) is False  # failed again: due again
    assert app.store.connections.sync_of(alices.id).due_at == app.clock.now + timedelta(seconds=30)
    app.clock.advance(seconds=30)
    assert await app.changes.read_claimed(await app.changes.claim_due()) is True

    # then the channel is open and followed from now on, without a read of events
    opened = await app.linking.connection(ALICE, alices.id)
    assert opened.channel_id is not None and opened.last_synced_at == app.clock.now
    assert len(app.gateway.calls_to("create_channel")) == 3 and app.gateway.calls_to("managed_events_since") == []
    assert await app.changes.claim_due() is None
