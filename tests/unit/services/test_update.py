"""Updating a meeting: the merged meeting is checked, a change is a new version written to every copy."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gql_api.cronofy.errors import CronofyUnavailable, CronofyValidationError
from gql_api.domain.errors import ErrorCode, InvalidInput, UserFacingError
from gql_api.domain.meetings import SyncStatus
from gql_api.domain.validation import MeetingChanges
from tests.support.fakes import (
    ALICE,
    BOB,
    END,
    MALLORY,
    START,
    T0,
    copy_of,
    link,
    run_worker,
    schedule,
    services,
    statuses,
)


async def scheduled_and_synced(app):
    alices = await link(app, ALICE)
    bobs = await link(app, BOB)
    meeting = await schedule(app, ALICE, BOB, "dave@example.test")
    assert set(statuses(meeting).values()) == {SyncStatus.SYNCED}
    app.gateway.forget_calls()
    app.clock.advance(minutes=10)
    return meeting, alices, bobs


async def test_an_update_is_a_new_version_written_to_every_calendar():
    # given
    app = services()
    meeting, alices, bobs = await scheduled_and_synced(app)

    # when
    updated = await app.meetings.update(
        ALICE,
        meeting.id,
        MeetingChanges(title=" Moved session ", start=START + timedelta(hours=3), end=END + timedelta(hours=3)),
    )

    # then
    assert (
        updated.version == 2 and updated.title == "Moved session" and updated.updated_at == T0 + timedelta(minutes=10)
    )
    assert (updated.start, updated.end) == (START + timedelta(hours=3), END + timedelta(hours=3))
    assert updated.description == "Career plans"  # not sent: unchanged
    assert set(statuses(updated).values()) == {SyncStatus.SYNCED}
    assert copy_of(updated, BOB).synced_version == 2
    for connection in (alices, bobs):
        event = app.gateway.events[(connection.calendar.id, meeting.event_id)]
        assert (event.summary, event.start) == ("Moved session", START + timedelta(hours=3))
    assert len(app.gateway.calls_to("upsert_event")) == 2


async def test_null_clears_description_and_location():
    # given
    app = services()
    meeting, alices, _ = await scheduled_and_synced(app)

    # when
    updated = await app.meetings.update(ALICE, meeting.id, MeetingChanges(description=None, location=""))

    # then
    assert (updated.description, updated.location) == (None, None)
    event = app.gateway.events[(alices.calendar.id, meeting.event_id)]
    assert (event.description, event.location) == (None, None)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # the range is blamed on the field sent (issue 12: never a field the mutation did not send)
        (MeetingChanges(start=END + timedelta(minutes=1)), (ErrorCode.INVALID_TIME_RANGE, ("start",))),
        (MeetingChanges(end=START), (ErrorCode.INVALID_TIME_RANGE, ("end",))),
        (MeetingChanges(title=None), (ErrorCode.INVALID_INPUT, ("title",))),
        (MeetingChanges(title=" "), (ErrorCode.INVALID_INPUT, ("title",))),
        (MeetingChanges(time_zone=None), (ErrorCode.INVALID_INPUT, ("time_zone",))),
        (MeetingChanges(time_zone="Europe/Atlantis"), (ErrorCode.INVALID_TIME_ZONE, ("time_zone",))),
        (MeetingChanges(start=START.replace(tzinfo=None)), (ErrorCode.INVALID_INPUT, ("start",))),
        (MeetingChanges(description="d" * 4097), (ErrorCode.INVALID_INPUT, ("description",))),
    ],
    ids=["start-after-end", "end-at-start", "null-title", "blank-title", "null-zone", "bad-zone", "naive", "long"],
)
async def test_the_meeting_as_it_would_be_is_checked_and_nothing_changes_when_it_fails(changes, expected):
    # given
    app = services()
    meeting, _, _ = await scheduled_and_synced(app)

    # when
    with pytest.raises(InvalidInput) as refused:
        await app.meetings.update(ALICE, meeting.id, changes)

    # then
    assert expected in [(e.code, e.field) for e in refused.value.errors]
    assert await app.meetings.get(ALICE, meeting.id) == meeting
    assert app.gateway.calls == []


async def test_an_update_giving_no_field_writes_nothing():
    # given
    app = services()
    meeting, _, _ = await scheduled_and_synced(app)

    # when
    unchanged = await app.meetings.update(ALICE, meeting.id, MeetingChanges())

    # then
    assert unchanged == meeting
    assert app.gateway.calls == [] and await app.meetings.outbox_stats() == (0, None)


async def test_an_update_repeating_the_current_values_writes_nothing():
    # given
    app = services()
    meeting, _, _ = await scheduled_and_synced(app)

    # when the client sends the form back untouched (same instant, another offset)
    same = MeetingChanges(title=meeting.title, start=meeting.start.astimezone(), end=meeting.end, location="Video call")
    unchanged = await app.meetings.update(ALICE, meeting.id, same)

    # then
    assert unchanged.version == meeting.version
    assert app.gateway.calls == []


async def test_a_non_participant_gets_NOT_FOUND_as_for_a_meeting_that_does_not_exist():
    # given
    app = services()
    meeting, _, _ = await scheduled_and_synced(app)

    # when / then
    for user, meeting_id in ((MALLORY, meeting.id), (ALICE, "000000000000000000000000"), (ALICE, "not-an-id")):
        with pytest.raises(UserFacingError) as refused:
            await app.meetings.update(user, meeting_id, MeetingChanges(title="Hijacked"))
        assert (refused.value.code, refused.value.field) == (ErrorCode.NOT_FOUND, ("meeting_id",))
    assert (await app.meetings.get(ALICE, meeting.id)).title == "Mentoring session"


async def test_a_cancelled_meeting_cannot_be_updated():
    # given
    app = services()
    meeting, _, _ = await scheduled_and_synced(app)
    await app.meetings.cancel(ALICE, meeting.id)

    # when
    with pytest.raises(UserFacingError) as refused:
        await app.meetings.update(ALICE, meeting.id, MeetingChanges(title="Too late"))

    # then
    assert refused.value.code is ErrorCode.ALREADY_CANCELLED


async def test_cronofy_failing_still_updates_the_meeting_with_pending_copies():
    # given
    app = services()
    meeting, _, _ = await scheduled_and_synced(app)
    app.gateway.fail("upsert_event", CronofyUnavailable("503"), times=None)

    # when
    updated = await app.meetings.update(ALICE, meeting.id, MeetingChanges(title="Moved"))

    # then
    assert updated.title == "Moved" and updated.version == 2
    assert set(statuses(updated).values()) == {SyncStatus.PENDING}


async def test_the_checks_are_made_again_when_the_meeting_changed_meanwhile():
    # given a concurrent update moves the meeting while ours is being checked
    app = services()
    meeting, _, _ = await scheduled_and_synced(app)
    change = app.store.meetings.change
    expected_versions = []

    async def racing(meeting_seen, fields, *, now):
        expected_versions.append(meeting_seen.version)
        if len(expected_versions) == 1:
            await change(meeting_seen, {"location": "Room 4"}, now=now)
        return await change(meeting_seen, fields, now=now)

    app.store.meetings.change = racing

    # when
    updated = await app.meetings.update(ALICE, meeting.id, MeetingChanges(title="Moved"))

    # then ours applies on top of theirs
    assert expected_versions == [1, 2]
    assert (updated.title, updated.location, updated.version) == ("Moved", "Room 4", 3)


async def test_a_merged_meeting_that_became_invalid_meanwhile_is_refused():
    # given a concurrent update moves the end before our new start
    app = services()
    meeting, _, _ = await scheduled_and_synced(app)
    change = app.store.meetings.change

    async def racing(meeting_seen, fields, *, now):
        if meeting_seen.version == 1:
            await change(meeting_seen, {"end": START + timedelta(minutes=30)}, now=now)
        return await change(meeting_seen, fields, now=now)

    app.store.meetings.change = racing

    # when
    with pytest.raises(InvalidInput) as refused:
        await app.meetings.update(ALICE, meeting.id, MeetingChanges(start=START + timedelta(minutes=45)))

    # then (on the field sent: start)
    assert [(e.code, e.field) for e in refused.value.errors] == [(ErrorCode.INVALID_TIME_RANGE, ("start",))]


async def test_a_meeting_changing_too_often_is_UPSTREAM_UNAVAILABLE():
    # given every attempt loses a race
    app = services()
    meeting, _, _ = await scheduled_and_synced(app)
    change = app.store.meetings.change

    async def always_racing(meeting_seen, fields, *, now):
        current = await app.store.meetings.get(meeting_seen.id)
        await change(current, {"location": f"Room {current.version}"}, now=now)
        return await change(meeting_seen, fields, now=now)

    app.store.meetings.change = always_racing

    # when
    with pytest.raises(UserFacingError) as refused:
        await app.meetings.update(ALICE, meeting.id, MeetingChanges(title="Moved"))

    # then
    assert refused.value.code is ErrorCode.UPSTREAM_UNAVAILABLE
    assert (await app.meetings.get(ALICE, meeting.id)).title == "Mentoring session"


async def test_a_copy_that_failed_for_good_is_retried_by_a_later_change():
    # given Cronofy refused Bob's copy
    app = services()
    await link(app, ALICE)
    bobs = await link(app, BOB)
    app.gateway.fail(
        "upsert_event",
        CronofyValidationError("422", errors={"summary": []}),
        when=lambda a: a["calendar_id"] == bobs.calendar.id,
    )
    meeting = await schedule(app, ALICE, BOB)
    assert statuses(meeting)["bob@example.test"] is SyncStatus.FAILED

    # when Alice changes the meeting
    updated = await app.meetings.update(ALICE, meeting.id, MeetingChanges(title="Again"))

    # then Bob's copy is written with the new version
    assert set(statuses(updated).values()) == {SyncStatus.SYNCED}
    assert app.gateway.events[(bobs.calendar.id, meeting.event_id)].summary == "Again"
    assert await run_worker(app) == 0
