"""What a change made in a calendar means for the meeting (DESIGN.md §5, inbound).

The usual meeting: Alice's calendar holds the host event (Dave is invited on it), Bob's holds his copy."""

import dataclasses
from datetime import timedelta, timezone

import pytest

from gql_api.domain.calendar_edits import CalendarChange, SeenEvent, edits_of, read_change
from gql_api.domain.meetings import ParticipantResponse

from .builders import BOB, BOBS_COPY, DAVE, HOST_COPY, HOUR, T0, meeting, with_copy, with_participant

ACCEPTED = ParticipantResponse.ACCEPTED
DECLINED = ParticipantResponse.DECLINED
TENTATIVE = ParticipantResponse.TENTATIVE
SECOND = timedelta(seconds=1)


def shown(subject, **changes):
    """The event as a calendar shows `subject` now, changed there a moment ago, with `changes`."""
    fields = {
        "deleted": False,
        "updated": subject.updated_at + HOUR,
        "title": subject.title,
        "description": subject.description,
        "location": subject.location,
        "start": subject.start,
        "end": subject.end,
    }
    return SeenEvent(**(fields | changes))


def renamed_since_written(index):
    """Version 1 as we wrote it to copy `index`, and the meeting renamed since (version 2, not written yet)."""
    version_1 = meeting()
    renamed = dataclasses.replace(version_1, title="Renamed", version=2, updated_at=T0)
    return version_1, with_copy(renamed, index, written=version_1.fingerprint, synced_version=1)


def deleted():
    return SeenEvent(deleted=True, updated=T0)


# --- deleted events -----------------------------------------------------------------------------


def test_the_organizer_deleting_the_host_event_cancels_the_meeting_for_everyone():
    assert read_change(meeting(), HOST_COPY, deleted()) == CalendarChange(cancel=True)


def test_a_participant_deleting_their_copy_declines_the_meeting():
    # when Bob deletes the event from his calendar
    change = read_change(meeting(), BOBS_COPY, deleted())

    # then Bob declined; the meeting itself is neither cancelled nor edited
    assert change == CalendarChange(declined_by=(BOB,))


def test_a_deleted_host_event_is_read_for_nothing_but_the_cancellation():
    seen = dataclasses.replace(deleted(), title="Renamed", answers=(("dave@example.test", ACCEPTED),))

    assert read_change(meeting(), HOST_COPY, seen) == CalendarChange(cancel=True)


# --- answers on the host event --------------------------------------------------------------------


def test_answers_on_the_host_event_become_the_attendees_responses():
    # when Dave accepts the invitation on Alice's event
    change = read_change(meeting(), HOST_COPY, shown(meeting(), answers=(("dave@example.test", ACCEPTED),)))

    # then Dave's response is ACCEPTED, and nothing else changes
    assert change == CalendarChange(answers={DAVE: ACCEPTED})


def test_an_answer_is_matched_to_its_participant_whatever_the_case_of_the_address():
    seen = shown(meeting(), answers=(("Dave@Example.TEST", TENTATIVE),))

    assert read_change(meeting(), HOST_COPY, seen).answers == {DAVE: TENTATIVE}


def test_the_organizers_own_answer_is_not_taken():
    # when Alice's own answer on her event reads "declined" (she still organizes the meeting)
    seen = shown(meeting(), answers=(("alice@example.test", DECLINED),))

    # then her response stays as it is
    assert read_change(meeting(), HOST_COPY, seen).answers == {}


def test_an_answer_that_is_already_recorded_changes_nothing():
    subject = with_participant(meeting(), DAVE, response=ACCEPTED)
    seen = shown(subject, answers=(("dave@example.test", ACCEPTED),))

    assert read_change(subject, HOST_COPY, seen) == CalendarChange()


def test_answers_of_people_outside_the_meeting_are_ignored():
    seen = shown(meeting(), answers=(("mallory@example.test", ACCEPTED), ("dave@example.test", DECLINED)))

    assert read_change(meeting(), HOST_COPY, seen).answers == {DAVE: DECLINED}


def test_answers_count_only_on_the_host_event():
    # given Bob's own copy lists Dave as accepted (the host event alone invites anybody)
    seen = shown(meeting(), answers=(("dave@example.test", ACCEPTED),))

    assert read_change(meeting(), BOBS_COPY, seen).answers == {}


def test_answers_are_taken_from_our_own_write_read_back():
    # given Alice's calendar shows the version we wrote, which Dave has since accepted
    version_1, renamed = renamed_since_written(HOST_COPY)
    seen = shown(version_1, updated=T0 + HOUR, answers=(("dave@example.test", ACCEPTED),))

    # when it is read
    change = read_change(renamed, HOST_COPY, seen)

    # then Dave's answer is taken, and the content is not

    assert change == CalendarChange(answers={DAVE: ACCEPTED})


def test_answers_are_taken_from_an_older_change():
    subject = meeting(updated_at=T0)
    seen = shown(subject, title="Older", updated=T0 - HOUR, answers=(("dave@example.test", ACCEPTED),))

    assert read_change(subject, HOST_COPY, seen) == CalendarChange(answers={DAVE: ACCEPTED})


# --- our own writes and the order of changes ----------------------------------------------------


def test_our_own_write_read_back_is_not_an_edit():
    # given we wrote version 1 to Bob's calendar, and the meeting was renamed since (not written yet)
    version_1, renamed = renamed_since_written(BOBS_COPY)

    # when Bob's calendar reports the event we wrote, as changed after the rename
    change = read_change(renamed, BOBS_COPY, shown(version_1, updated=T0 + HOUR))

    # then the meeting keeps its new title: that was no change of Bob's
    assert change == CalendarChange()


def test_a_change_to_what_we_wrote_is_an_edit():
    subject = with_copy(meeting(), BOBS_COPY, written=meeting().fingerprint)

    assert read_change(subject, BOBS_COPY, shown(subject, title="Bob's title")).edits == {"title": "Bob's title"}


@pytest.mark.parametrize(
    ("calendar_changed_at", "taken"),
    [
        (T0 - SECOND, False),  # before the meeting's last change: the meeting's is the last change
        (T0, True),  # within the meeting's own second (Cronofy keeps whole seconds): the calendar's counts as later
        (T0 + SECOND, True),
        (None, True),  # when the calendar does not say, its change is taken
    ],
    ids=["a-second-earlier", "same-second", "a-second-later", "unknown"],
)
def test_the_last_change_wins_in_whole_seconds(calendar_changed_at, taken):
    # given the meeting last changed at 09:30:00.7
    subject = meeting(updated_at=T0 + timedelta(milliseconds=700))

    # when Bob's calendar shows another title, changed at `calendar_changed_at`
    change = read_change(subject, BOBS_COPY, shown(subject, title="Bob's title", updated=calendar_changed_at))

    # then it is taken only when it is not older
    assert change.edits == ({"title": "Bob's title"} if taken else {})


def test_a_change_already_taken_is_no_edit_the_second_time():
    # given a title change from Bob's calendar taken into the meeting
    seen = shown(meeting(), title="Bob's title", location="Room 9")
    first = read_change(meeting(), BOBS_COPY, seen)
    taken = dataclasses.replace(meeting(), **first.edits)

    # when the same notice arrives again
    again = read_change(taken, BOBS_COPY, seen)

    # then nothing more changes
    assert first.edits == {"title": "Bob's title", "location": "Room 9"}
    assert again == CalendarChange()


# --- what an edit takes over ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "Career chat"),
        ("description", "Bring your CV"),
        ("description", None),  # cleared in the calendar
        ("location", "Café"),
        ("location", None),
        ("start", T0 - HOUR),
        ("end", T0 + 2 * HOUR),
    ],
)
def test_a_field_edited_in_a_calendar_is_taken_over(field, value):
    assert edits_of(meeting(), shown(meeting(), **{field: value})) == {field: value}


def test_a_moved_event_moves_the_meeting():
    seen = shown(meeting(), start=T0 + 24 * HOUR, end=T0 + 25 * HOUR)

    assert edits_of(meeting(), seen) == {"start": T0 + 24 * HOUR, "end": T0 + 25 * HOUR}


def test_what_the_calendar_shows_unchanged_is_no_edit():
    assert edits_of(meeting(), shown(meeting())) == {}


def test_a_time_shown_with_another_utc_offset_is_the_same_time():
    plus_two = timezone(timedelta(hours=2))
    seen = shown(meeting(), start=T0.astimezone(plus_two), end=(T0 + HOUR).astimezone(plus_two))

    assert edits_of(meeting(), seen) == {}


@pytest.mark.parametrize("description", ["", None])
def test_an_empty_description_is_no_description(description):
    subject = meeting(description=None)

    assert edits_of(subject, shown(subject, description=description)) == {}


def test_an_empty_location_is_no_location():
    subject = meeting(location=None)

    assert edits_of(subject, shown(subject, location="", title="Career chat")) == {"title": "Career chat"}


@pytest.mark.parametrize("title", ["", "   ", None])
def test_an_empty_title_is_not_taken_over(title):
    # given Bob also moved the location
    seen = shown(meeting(), title=title, location="Room 9")

    # then the meeting keeps its title, and takes the location
    assert edits_of(meeting(), seen) == {"location": "Room 9"}


@pytest.mark.parametrize(
    ("start", "end"),
    [(None, None), (None, T0 + 3 * HOUR), (T0 - HOUR, None)],
    ids=["all-day", "start-unreadable", "end-unreadable"],
)
def test_a_time_the_calendar_does_not_give_is_not_taken_over(start, end):
    # when the event became all-day, or shows a time we cannot read, and was renamed
    seen = shown(meeting(), start=start, end=end, title="Career chat")

    # then only the times it does give are taken
    given = {name: value for name, value in (("start", start), ("end", end)) if value is not None}
    assert edits_of(meeting(), seen) == {"title": "Career chat", **given}


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (T0 + 3 * HOUR, T0 + 2 * HOUR),  # both moved, the wrong way round
        (T0, T0),  # ends as it starts
        (T0 + 2 * HOUR, T0 + HOUR),  # the start moved past the meeting's end
        (T0, T0 - HOUR),  # the end moved before the meeting's start
    ],
    ids=["both-reversed", "zero-length", "start-past-end", "end-before-start"],
)
def test_an_edit_that_would_end_before_it_starts_keeps_the_meetings_times(start, end):
    seen = shown(meeting(), start=start, end=end, title="Career chat")

    assert edits_of(meeting(), seen) == {"title": "Career chat"}


def test_only_one_time_moved_is_judged_with_the_other_as_the_meeting_has_it():
    # when only the end moved, to before the meeting's start
    seen = shown(meeting(), end=T0 - HOUR)

    # then it is not taken
    assert edits_of(meeting(), seen) == {}
