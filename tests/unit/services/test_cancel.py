"""Cancelling a meeting: once, by a participant, removing every copy from the calendars."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gql_api.cronofy.errors import CronofyUnavailable
from gql_api.domain.errors import ErrorCode, UserFacingError
from gql_api.domain.meetings import MeetingStatus, SyncStatus
from gql_api.domain.validation import MeetingChanges
from tests.support.fakes import ALICE, BOB, CAROL, MALLORY, T0, link, run_worker, schedule, services, statuses


async def scheduled_and_synced(app):
    alices = await link(app, ALICE)
    bobs = await link(app, BOB)
    meeting = await schedule(app, ALICE, BOB, CAROL)
    app.gateway.forget_calls()
    app.clock.advance(minutes=10)
    return meeting, alices, bobs


async def test_cancelling_removes_every_copy_from_the_calendars():
    # given
    app = services()
    meeting, alices, bobs = await scheduled_and_synced(app)

    # when
    cancelled = await app.meetings.cancel(ALICE, meeting.id)

    # then
    assert cancelled.status is MeetingStatus.CANCELLED and cancelled.cancelled_at == T0 + timedelta(minutes=10)
    assert cancelled.version == 2
    assert set(statuses(cancelled).values()) == {SyncStatus.SYNCED}
    assert sorted((c["calendar_id"], c["event_id"]) for c in app.gateway.calls_to("delete_event")) == sorted(
        [(alices.calendar.id, meeting.event_id), (bobs.calendar.id, meeting.event_id)]
    )
    assert app.gateway.calls_to("upsert_event") == [] and app.gateway.events == {}
    assert await app.meetings.outbox_stats() == (0, None)


async def test_cancelling_again_is_ALREADY_CANCELLED_and_deletes_nothing_more():
    # given
    app = services()
    meeting, _, _ = await scheduled_and_synced(app)
    await app.meetings.cancel(ALICE, meeting.id)
    app.gateway.forget_calls()

    # when
    with pytest.raises(UserFacingError) as refused:
        await app.meetings.cancel(ALICE, meeting.id)

    # then
    assert (refused.value.code, refused.value.field) == (ErrorCode.ALREADY_CANCELLED, ("meeting_id",))
    assert app.gateway.calls == []
    assert (await app.meetings.get(ALICE, meeting.id)).version == 2


@pytest.mark.parametrize("meeting_id", [None, "000000000000000000000000", "not-an-id"])
async def test_a_meeting_you_do_not_take_part_in_is_NOT_FOUND(meeting_id):
    # given
    app = services()
    meeting, _, _ = await scheduled_and_synced(app)

    # when
    with pytest.raises(UserFacingError) as refused:
        await app.meetings.cancel(MALLORY if meeting_id is None else ALICE, meeting_id or meeting.id)

    # then
    assert (refused.value.code, refused.value.field) == (ErrorCode.NOT_FOUND, ("meeting_id",))
    assert (await app.meetings.get(ALICE, meeting.id)).status is MeetingStatus.SCHEDULED
    assert app.gateway.calls == []


async def test_cronofy_failing_still_cancels_and_the_worker_deletes_later():
    # given
    app = services()
    meeting, _, _ = await scheduled_and_synced(app)
    app.gateway.fail("delete_event", CronofyUnavailable("503"), times=None)

    # when
    cancelled = await app.meetings.cancel(ALICE, meeting.id)

    # then
    assert cancelled.status is MeetingStatus.CANCELLED
    assert set(statuses(cancelled).values()) == {SyncStatus.PENDING}
    app.gateway.heal()
    app.clock.advance(minutes=1)
    assert await run_worker(app) == 1
    assert set(statuses(await app.meetings.get(ALICE, meeting.id)).values()) == {SyncStatus.SYNCED}
    assert app.gateway.events == {}


async def test_an_update_still_waiting_behind_a_cancel_never_brings_the_event_back():
    # given Cronofy is slow: neither the update nor the cancel is written before the answers
    app = services()
    meeting, _, _ = await scheduled_and_synced(app)
    app.background.slow = True
    await app.meetings.update(ALICE, meeting.id, MeetingChanges(title="Moved"))
    await app.meetings.cancel(ALICE, meeting.id)

    # when the background work runs
    await app.background.run_pending()

    # then the calendars only see the cancel
    assert app.gateway.calls_to("upsert_event") == []
    assert len(app.gateway.calls_to("delete_event")) == 2 and app.gateway.events == {}


async def test_a_meeting_without_calendars_is_cancelled_without_calling_cronofy():
    # given
    app = services()
    meeting = await schedule(app, CAROL, "dave@example.test")

    # when
    cancelled = await app.meetings.cancel(CAROL, meeting.id)

    # then
    assert cancelled.status is MeetingStatus.CANCELLED and app.gateway.calls == []


async def test_cancelling_a_meeting_whose_copies_never_reached_a_calendar_costs_no_call():
    # given Bob's calendar needs relinking, so his copy was never sent; Alice's is in her calendar
    app = services()
    alices = await link(app, ALICE)
    bobs = await link(app, BOB)
    await app.access.needs_relink(bobs.id)
    meeting = await schedule(app, ALICE, BOB)
    app.gateway.forget_calls()

    # when Alice cancels
    await app.meetings.cancel(ALICE, meeting.id)
    await run_worker(app)

    # then only her copy is deleted: there is nothing of the meeting in Bob's calendar to delete
    assert [c["calendar_id"] for c in app.gateway.calls_to("delete_event")] == [alices.calendar.id]
