"""Scheduling a meeting: checked input, one copy per participant, written at once when Cronofy is quick."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from gql_api.cronofy.errors import CronofyUnavailable
from gql_api.cronofy.models import Attendee
from gql_api.domain.errors import ErrorCode, InvalidInput, UserFacingError
from gql_api.domain.identity import User
from gql_api.domain.meetings import Delivery, MeetingStatus, ParticipantResponse, SyncStatus
from gql_api.domain.validation import ParticipantRequest
from gql_api.services.calendar_access import RELINK_MESSAGE
from tests.support.fakes import (
    ALICE,
    BOB,
    CAROL,
    END,
    START,
    T0,
    copy_of,
    link,
    meeting_request,
    person,
    run_worker,
    schedule,
    services,
    statuses,
    sync_of,
)

# --- input ----------------------------------------------------------------------------------------------------


async def test_every_fault_in_the_request_is_reported_on_its_field_and_nothing_is_stored():
    # given
    app = services()
    await link(app, ALICE)
    app.gateway.forget_calls()
    request = meeting_request(
        BOB,
        "not-an-address",
        ParticipantRequest(email="BOB@example.test"),
        title="   ",
        end=START - timedelta(minutes=1),
        time_zone="Mars/Olympus_Mons",
        idempotency_key="k" * 256,
    )

    # when
    with pytest.raises(InvalidInput) as refused:
        await app.meetings.schedule(ALICE, request)

    # then
    assert {(e.code, e.field) for e in refused.value.errors} == {
        (ErrorCode.INVALID_INPUT, ("title",)),
        (ErrorCode.INVALID_TIME_RANGE, ("end",)),
        (ErrorCode.INVALID_TIME_ZONE, ("time_zone",)),
        (ErrorCode.INVALID_INPUT, ("participants", 1, "email")),
        (ErrorCode.INVALID_INPUT, ("participants", 2, "email")),  # Bob's address again
        (ErrorCode.INVALID_INPUT, ("idempotency_key",)),
    }
    assert app.store.meetings.all() == [] and app.gateway.calls == []


@pytest.mark.parametrize(
    ("details", "field"),
    [
        ({"start": START.replace(tzinfo=None)}, ("start",)),
        ({"participants": ()}, ("participants",)),
        ({"participants": (ParticipantRequest(email="alice@example.test"),)}, ("participants", 0, "email")),
        ({"participants": (ParticipantRequest(email="a@x.test", user_id="alice"),)}, ("participants", 0, "user_id")),
    ],
    ids=["naive-time", "nobody", "organizer-by-email", "organizer-by-id"],
)
async def test_a_request_the_rules_refuse_names_the_field(details, field):
    # given
    app = services()
    request = dataclasses.replace(meeting_request(BOB), **details)

    # when
    with pytest.raises(InvalidInput) as refused:
        await app.meetings.schedule(ALICE, request)

    # then
    assert field in [e.field for e in refused.value.errors]
    assert app.store.meetings.all() == []


async def test_an_organizer_without_an_email_address_or_a_calendar_cannot_invite():
    # given
    app = services()
    nameless = User("nameless")

    # when
    with pytest.raises(UserFacingError) as refused:
        await schedule(app, nameless, "dave@example.test")

    # then
    assert refused.value.code is ErrorCode.NOT_ALLOWED
    assert app.store.meetings.all() == []


async def test_an_organizer_without_an_email_address_sends_from_the_linked_calendars_address():
    # given
    app = services()
    organizer = User("erin")
    await link(app, organizer, profile_name="erin@calendar.test")

    # when
    meeting = await schedule(app, organizer, "dave@example.test")

    # then
    assert meeting.participants[0].email == "erin@calendar.test" and meeting.participants[0].is_organizer


async def test_the_organizers_calendar_address_is_already_in_the_meeting():
    # given Erin's token has no e-mail address; her calendar's is erin@calendar.test
    app = services()
    organizer = User("erin")
    await link(app, organizer, profile_name="erin@calendar.test")

    # when she also lists that address as a participant
    try:
        await schedule(app, organizer, "erin@calendar.test")
        errors: tuple[UserFacingError, ...] = ()
    except InvalidInput as refused:
        errors = refused.errors

    # then it is refused like any address already in the meeting
    assert [e.field for e in errors] == [("participants", 0, "email")]


async def test_the_meeting_is_stored_as_asked_in_whole_utc_seconds():
    # given
    app = services()
    paris = timezone(timedelta(hours=1))
    start = datetime(2027, 1, 12, 11, 0, 0, 999_999, tzinfo=paris)

    # when
    meeting = await schedule(
        app, ALICE, BOB, title="  Mentoring session  ", start=start, end=start + timedelta(hours=1), description=""
    )

    # then
    assert meeting.title == "Mentoring session" and meeting.description is None
    assert (meeting.start, meeting.end) == (START, END) and meeting.start.tzinfo is UTC
    assert meeting.status is MeetingStatus.SCHEDULED and meeting.version == 1
    assert meeting.organizer_id == "alice" and (meeting.created_at, meeting.updated_at) == (T0, T0)
    assert await app.meetings.get(BOB, meeting.id) == meeting


# --- who gets which copy ----------------------------------------------------------------------------------------


async def test_linked_participants_get_their_own_copy_and_the_others_are_invited_on_the_host_event():
    # given Alice and Bob have calendars; Carol and Dave do not
    app = services()
    alices = await link(app, ALICE)
    bobs = await link(app, BOB)

    # when Alice schedules with all three
    meeting = await schedule(app, ALICE, BOB, CAROL, "dave@example.test")

    # then
    assert [(p.email, p.delivery, p.response) for p in meeting.participants] == [
        ("alice@example.test", Delivery.OWN_CALENDAR, ParticipantResponse.ACCEPTED),
        ("bob@example.test", Delivery.OWN_CALENDAR, ParticipantResponse.NEEDS_ACTION),
        ("carol@example.test", Delivery.INVITATION, ParticipantResponse.NEEDS_ACTION),
        ("dave@example.test", Delivery.INVITATION, ParticipantResponse.NEEDS_ACTION),
    ]
    assert [(c.connection_id, c.calendar_id, c.is_host) for c in meeting.copies] == [
        (alices.id, alices.calendar.id, True),
        (bobs.id, bobs.calendar.id, False),
    ]
    assert copy_of(meeting, CAROL) is copy_of(meeting, "dave@example.test") is copy_of(meeting, ALICE)


async def test_a_calendar_that_needs_relinking_gets_its_copy_once_its_owner_links_it_again():
    # given Bob's calendar needs relinking (his provider disconnected it)
    app = services()
    await link(app, ALICE)
    bobs = await link(app, BOB)
    await app.access.needs_relink(bobs.id)

    # when Alice schedules a meeting with him
    meeting = await schedule(app, ALICE, BOB)

    # then his copy is planned in his own calendar, and shows why it waits (not an invitation that would
    # leave his calendar without it, or with it twice once he relinks)
    assert person(meeting, BOB).delivery is Delivery.OWN_CALENDAR and len(meeting.copies) == 2
    assert sync_of(meeting, BOB) is SyncStatus.FAILED
    assert meeting.sync_of(person(meeting, BOB)).last_error == RELINK_MESSAGE

    # and once he links the same account again, the worker writes it there
    await link(app, BOB)
    await run_worker(app)
    after = await app.meetings.get(ALICE, meeting.id)
    assert sync_of(after, BOB) is SyncStatus.SYNCED
    assert [c["calendar_id"] for c in app.gateway.calls_to("upsert_event")][-1] == bobs.calendar.id


async def test_nobody_linked_means_no_calendar_work_at_all():
    # given
    app = services()

    # when
    meeting = await schedule(app, CAROL, "dave@example.test")

    # then
    assert {p.delivery for p in meeting.participants} == {Delivery.NONE}
    assert set(statuses(meeting).values()) == {SyncStatus.SYNCED}
    assert all(meeting.sync_of(p).synced_at is None for p in meeting.participants)
    assert app.gateway.calls == [] and await app.meetings.outbox_stats() == (0, None)


async def test_an_organizer_without_a_calendar_has_nobody_invited_from_someone_elses_calendar():
    # given Bob has a calendar, Carol (the organizer) does not
    app = services()
    await link(app, BOB)

    # when Carol schedules with Bob and Dave
    meeting = await schedule(app, CAROL, BOB, "dave@example.test")

    # then Bob gets his own copy, and Bob's calendar sends no invitation on Carol's behalf
    assert person(meeting, BOB).delivery is Delivery.OWN_CALENDAR
    assert person(meeting, CAROL).delivery is Delivery.NONE
    assert person(meeting, "dave@example.test").delivery is Delivery.NONE
    assert all(not c.is_host for c in meeting.copies)


# --- writing the calendars -------------------------------------------------------------------------------------


async def test_a_quick_cronofy_means_the_answer_already_says_synced():
    # given
    app = services()
    alices = await link(app, ALICE)
    bobs = await link(app, BOB)
    app.gateway.forget_calls()

    # when
    meeting = await schedule(app, ALICE, BOB, CAROL)

    # then every copy is written, the host event inviting Carol
    assert statuses(meeting) == dict.fromkeys(
        ("alice@example.test", "bob@example.test", "carol@example.test"), SyncStatus.SYNCED
    )
    assert copy_of(meeting, ALICE).synced_at == T0
    host = app.gateway.events[(alices.calendar.id, meeting.event_id)]
    assert (host.event_id, host.summary, host.description, host.location) == (
        f"mtg_{meeting.id}",
        "Mentoring session",
        "Career plans",
        "Video call",
    )
    assert (host.start, host.end, host.tzid) == (START, END, "Europe/London")
    assert host.attendees == (Attendee("carol@example.test", "Carol"),)
    assert app.gateway.events[(bobs.calendar.id, meeting.event_id)].attendees == ()
    assert app.background.graces[-1] == app.settings.sync_grace_seconds
    assert await app.meetings.outbox_stats() == (0, None)


async def test_cronofy_failing_still_schedules_the_meeting_with_pending_copies():
    # given
    app = services()
    await link(app, ALICE)
    await link(app, BOB)
    app.gateway.fail("upsert_event", CronofyUnavailable("503"), times=None)

    # when
    meeting = await schedule(app, ALICE, BOB)

    # then
    assert set(statuses(meeting).values()) == {SyncStatus.PENDING}
    assert copy_of(meeting, BOB).last_error == "The calendar service did not answer. Retrying."
    assert await app.meetings.get(ALICE, meeting.id) == meeting

    # and the worker writes them once Cronofy is back
    app.gateway.heal()
    app.clock.advance(minutes=1)
    assert await run_worker(app) == 1
    assert set(statuses(await app.meetings.get(ALICE, meeting.id)).values()) == {SyncStatus.SYNCED}


async def test_a_slow_cronofy_answers_pending_and_the_write_goes_on():
    # given
    app = services()
    await link(app, ALICE)
    await link(app, BOB)
    app.background.slow = True

    # when
    meeting = await schedule(app, ALICE, BOB)

    # then
    assert set(statuses(meeting).values()) == {SyncStatus.PENDING}
    await app.background.run_pending()
    assert set(statuses(await app.meetings.get(ALICE, meeting.id)).values()) == {SyncStatus.SYNCED}


# --- idempotency ------------------------------------------------------------------------------------------------


async def test_the_same_idempotency_key_returns_the_first_meeting_and_writes_once():
    # given
    app = services()
    await link(app, ALICE)
    first = await schedule(app, ALICE, BOB, idempotency_key="form-42")
    app.gateway.forget_calls()

    # when
    again = await schedule(app, ALICE, BOB, title="Resubmitted", idempotency_key="form-42")

    # then
    assert again == first and len(app.store.meetings.all()) == 1
    assert app.gateway.calls == []


async def test_an_idempotency_key_belongs_to_its_organizer():
    # given
    app = services()
    alices = await schedule(app, ALICE, BOB, idempotency_key="form-42")

    # when
    bobs = await schedule(app, BOB, ALICE, idempotency_key="form-42")

    # then
    assert bobs.id != alices.id and bobs.organizer_id == "bob"


async def test_a_concurrent_retry_with_the_same_key_gets_the_meeting_that_won():
    # given the other request commits between our look-up and our insert
    app = services()
    winner = await schedule(app, ALICE, BOB, title="Winner", idempotency_key="form-42")
    lookup = app.store.meetings.by_idempotency_key
    looked = []

    async def not_yet(organizer_id, key):
        looked.append(key)
        return None if len(looked) == 1 else await lookup(organizer_id, key)

    app.store.meetings.by_idempotency_key = not_yet

    # when
    ours = await schedule(app, ALICE, BOB, title="Loser", idempotency_key="form-42")

    # then
    assert ours == winner and len(app.store.meetings.all()) == 1 and len(looked) == 2
