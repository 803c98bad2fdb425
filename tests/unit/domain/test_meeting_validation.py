"""What a meeting request may say (DESIGN.md §6: bad input gets a user error with a code and the field).

Every check reports all faults at once, each on its domain field path, e.g. ("participants", 2, "email");
the GraphQL layer alone turns those into the client's paths."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from gql_api.domain.errors import ErrorCode
from gql_api.domain.validation import (
    MAX_DESCRIPTION,
    MAX_DISPLAY_NAME,
    MAX_EMAIL,
    MAX_IDEMPOTENCY_KEY,
    MAX_LOCATION,
    MAX_PARTICIPANTS,
    MAX_TITLE,
    MeetingChanges,
    check_changes,
    check_request,
    is_time_zone,
    normalized_changes,
)

from .builders import HOUR, T0, invitee, request, signed_in

INVALID_INPUT = ErrorCode.INVALID_INPUT
PLUS_ONE = timezone(timedelta(hours=1))


def faults(errors):
    """Each error as (field path, code): what a client acts on."""
    return [(e.field, e.code) for e in errors]


def faults_of(**changes):
    """The faults in Alice's request with `changes`."""
    return faults(check_request(signed_in(), request(**changes)))


def email_of_length(length):
    domain = "@example.test"
    return "b" * (length - len(domain)) + domain


def test_limits_are_the_documented_ones():
    assert (MAX_TITLE, MAX_DESCRIPTION, MAX_LOCATION) == (1024, 4096, 1024)
    assert (MAX_DISPLAY_NAME, MAX_EMAIL, MAX_PARTICIPANTS, MAX_IDEMPOTENCY_KEY) == (256, 254, 50, 255)


def test_a_well_formed_request_has_no_faults():
    assert faults_of() == []


# --- the meeting's text -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "valid"),
    [
        ("M", True),
        ("x" * 1024, True),
        ("x" * 1025, False),
        ("  " + "x" * 1024 + "  ", True),  # surrounding blanks are trimmed before counting
        ("", False),
        ("   ", False),
    ],
    ids=["1", "1024", "1025", "1024-padded", "empty", "blank"],
)
def test_a_title_needs_1_to_1024_characters_besides_surrounding_blanks(title, valid):
    assert faults_of(title=title) == ([] if valid else [(("title",), INVALID_INPUT)])


@pytest.mark.parametrize(
    ("description", "valid"),
    [(None, True), ("", True), ("x" * 4096, True), ("x" * 4097, False)],
    ids=["none", "empty", "4096", "4097"],
)
def test_a_description_is_optional_and_at_most_4096_characters(description, valid):
    assert faults_of(description=description) == ([] if valid else [(("description",), INVALID_INPUT)])


@pytest.mark.parametrize(
    ("location", "valid"),
    [(None, True), ("", True), ("x" * 1024, True), ("x" * 1025, False)],
    ids=["none", "empty", "1024", "1025"],
)
def test_a_location_is_optional_and_at_most_1024_characters(location, valid):
    assert faults_of(location=location) == ([] if valid else [(("location",), INVALID_INPUT)])


# --- times and time zones -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (T0, T0),
        (T0, T0 - HOUR),
        (datetime(2026, 11, 24, 10, 0, tzinfo=UTC), datetime(2026, 11, 24, 10, 30, tzinfo=PLUS_ONE)),  # 09:30Z
    ],
    ids=["ends-as-it-starts", "ends-before-it-starts", "ends-earlier-once-offsets-count"],
)
def test_a_meeting_must_end_after_it_starts(start, end):
    assert faults_of(start=start, end=end) == [(("end",), ErrorCode.INVALID_TIME_RANGE)]


def test_times_are_compared_as_instants_whatever_their_offsets():
    # 10:00+01:00 is 09:00Z, before 09:30Z
    start = datetime(2026, 11, 24, 10, 0, tzinfo=PLUS_ONE)

    assert faults_of(start=start, end=datetime(2026, 11, 24, 9, 30, tzinfo=UTC)) == []


def test_a_meeting_that_ends_within_the_second_it_starts_is_refused():
    start, end = T0 + timedelta(milliseconds=200), T0 + timedelta(milliseconds=800)

    assert faults_of(start=start, end=end) == [(("end",), ErrorCode.INVALID_TIME_RANGE)]


@pytest.mark.parametrize("field", ["start", "end"])
def test_a_time_without_a_utc_offset_is_refused_on_its_field(field):
    naive = {"start": T0, "end": T0 + HOUR}[field].replace(tzinfo=None)

    assert faults_of(**{field: naive}) == [((field,), INVALID_INPUT)]


def test_without_offsets_the_time_range_is_not_judged():
    # given both times lack an offset, and would not make a range anyway
    start, end = T0.replace(tzinfo=None), (T0 - HOUR).replace(tzinfo=None)

    # then each time is refused, and no range error is guessed at
    assert faults_of(start=start, end=end) == [(("start",), INVALID_INPUT), (("end",), INVALID_INPUT)]


@pytest.mark.parametrize(
    "name", ["Europe/London", "America/Argentina/Buenos_Aires", "Europe/Kyiv", "Europe/Kiev", "UTC", "Etc/GMT+5"]
)
def test_iana_time_zones_are_accepted(name):
    assert is_time_zone(name)
    assert faults_of(time_zone=name) == []


@pytest.mark.parametrize(
    "name",
    [
        "europe/london",
        "Europe",
        "localtime",
        "posixrules",
        "posix/Europe/London",
        "+01:00",
        "GMT+1",
        "Mars/Olympus",
        "",
    ],
)
def test_anything_but_an_iana_zone_name_is_refused(name):
    assert not is_time_zone(name)
    assert faults_of(time_zone=name) == [(("time_zone",), ErrorCode.INVALID_TIME_ZONE)]


# --- participants -------------------------------------------------------------------------------


def test_a_meeting_needs_at_least_one_participant_besides_the_organizer():
    assert faults_of(participants=()) == [(("participants",), INVALID_INPUT)]


@pytest.mark.parametrize(("count", "valid"), [(1, True), (50, True), (51, False)])
def test_a_meeting_has_at_most_50_participants_besides_the_organizer(count, valid):
    participants = tuple(invitee(f"p{i}@example.test") for i in range(count))

    assert faults_of(participants=participants) == ([] if valid else [(("participants",), INVALID_INPUT)])


def test_too_many_participants_is_one_fault_not_one_per_participant():
    participants = tuple(invitee("not an address") for _ in range(51))

    assert faults_of(participants=participants) == [(("participants",), INVALID_INPUT)]


@pytest.mark.parametrize(
    "email",
    [
        "bob@example.test",
        "bob+mentoring@mail.example.test",
        "  bob@example.test  ",  # surrounding blanks are trimmed
        email_of_length(254),
    ],
    ids=["plain", "plus-and-subdomain", "padded", "254"],
)
def test_an_email_address_is_accepted(email):
    assert faults_of(participants=(invitee(email),)) == []


@pytest.mark.parametrize(
    "email",
    [
        "bob",
        "bob@",
        "@example.test",
        "bob@example",
        "bob smith@example.test",
        "bob@@example.test",
        "",
        email_of_length(255),
    ],
    ids=["no-at", "no-domain", "no-local-part", "no-dot-in-domain", "blank-inside", "two-ats", "empty", "255"],
)
def test_what_is_not_an_email_address_is_refused_on_that_participant(email):
    participants = (invitee("carol@example.test"), invitee(email))

    assert faults_of(participants=participants) == [(("participants", 1, "email"), INVALID_INPUT)]


def test_the_same_email_address_twice_is_refused_on_the_second_whatever_its_case():
    participants = (invitee("bob@example.test"), invitee(" Bob@Example.TEST"))

    assert faults_of(participants=participants) == [(("participants", 1, "email"), INVALID_INPUT)]


def test_the_organizers_email_address_is_already_in_the_meeting():
    # given Alice signs in as Alice@example.test
    # when she lists herself by address, in other letters
    found = faults(
        check_request(signed_in(email="Alice@example.test"), request(participants=(invitee("alice@example.test"),)))
    )

    # then she is told she is already there
    assert found == [(("participants", 0, "email"), INVALID_INPUT)]


def test_an_organizer_without_an_email_address_takes_no_address_from_the_participants():
    organizer = signed_in(email=None)

    assert check_request(organizer, request(participants=(invitee("alice@example.test"),))) == []


def test_the_same_user_twice_is_refused_on_the_second():
    participants = (invitee("bob@example.test", "bob"), invitee("bob@work.example.test", "bob"))

    assert faults_of(participants=participants) == [(("participants", 1, "user_id"), INVALID_INPUT)]


def test_the_organizer_is_added_for_you():
    # when Alice lists herself by user id (under another address)
    errors = check_request(signed_in("alice"), request(participants=(invitee("alice@home.example.test", "alice"),)))

    # then she is told so
    assert faults(errors) == [(("participants", 0, "user_id"), INVALID_INPUT)]
    assert "the organizer is added for you" in errors[0].message


@pytest.mark.parametrize("user_id", ["", "   "])
def test_a_blank_user_id_is_refused(user_id):
    assert faults_of(participants=(invitee("bob@example.test", user_id),)) == [
        (("participants", 0, "user_id"), INVALID_INPUT)
    ]


def test_a_participant_given_by_email_only_needs_no_user_id():
    assert faults_of(participants=(invitee("dave@example.test", None),)) == []


@pytest.mark.parametrize(("length", "valid"), [(0, True), (256, True), (257, False)])
def test_a_display_name_has_at_most_256_characters(length, valid):
    participants = (invitee("bob@example.test", display_name="B" * length),)

    assert faults_of(participants=participants) == (
        [] if valid else [(("participants", 0, "display_name"), INVALID_INPUT)]
    )


# --- the idempotency key ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "valid"), [(None, True), ("k", True), ("k" * 255, True), ("", False), ("k" * 256, False)]
)
def test_an_idempotency_key_is_optional_and_1_to_255_characters(key, valid):
    assert faults_of(idempotency_key=key) == ([] if valid else [(("idempotency_key",), INVALID_INPUT)])


# --- all faults at once -------------------------------------------------------------------------


def test_every_fault_is_reported_at_once_each_on_its_own_field():
    # given a request wrong in many places
    wrong = request(
        title=" ",
        description="x" * 4097,
        start=T0,
        end=T0,
        time_zone="Europe",
        participants=(
            invitee("bob@example.test", "bob"),
            invitee("not an address", "carol", display_name="C" * 257),
            invitee("BOB@example.test", "bob"),
            invitee("erin@example.test", "alice"),
        ),
        idempotency_key="",
    )

    # when it is checked
    errors = check_request(signed_in("alice"), wrong)

    # then every fault is there, in the order of the input
    assert faults(errors) == [
        (("title",), INVALID_INPUT),
        (("description",), INVALID_INPUT),
        (("end",), ErrorCode.INVALID_TIME_RANGE),
        (("time_zone",), ErrorCode.INVALID_TIME_ZONE),
        (("participants", 1, "email"), INVALID_INPUT),
        (("participants", 1, "display_name"), INVALID_INPUT),
        (("participants", 2, "email"), INVALID_INPUT),
        (("participants", 2, "user_id"), INVALID_INPUT),
        (("participants", 3, "user_id"), INVALID_INPUT),
        (("idempotency_key",), INVALID_INPUT),
    ]


# --- updates ------------------------------------------------------------------------------------


def current(**changes):
    """The meeting's fields as stored now."""
    fields = {
        "title": "Mentoring session",
        "description": "Goals for the term",
        "location": "Room 4",
        "start": T0,
        "end": T0 + HOUR,
        "time_zone": "Europe/London",
    }
    return fields | changes


def update_faults(**changes):
    return faults(check_changes(current(), MeetingChanges(**changes)))


def test_an_update_that_sends_nothing_has_no_faults():
    assert update_faults() == []


@pytest.mark.parametrize("field", ["title", "start", "end", "time_zone"])
def test_an_update_cannot_set_a_required_field_to_null(field):
    assert update_faults(**{field: None}) == [((field,), INVALID_INPUT)]


@pytest.mark.parametrize("field", ["description", "location"])
def test_an_update_may_clear_the_description_and_the_location(field):
    assert update_faults(**{field: None}) == []


def test_an_update_is_checked_with_the_limits_of_a_new_meeting():
    found = update_faults(title="x" * 1025, description="x" * 4097, location="x" * 1025, time_zone="GMT+1")

    assert found == [
        (("title",), INVALID_INPUT),
        (("description",), INVALID_INPUT),
        (("location",), INVALID_INPUT),
        (("time_zone",), ErrorCode.INVALID_TIME_ZONE),
    ]


@pytest.mark.parametrize(
    ("changes", "blamed"),
    [
        ({"end": T0 - HOUR}, "end"),  # the new end before the stored start
        ({"start": T0 + 2 * HOUR}, "start"),  # the new start after the stored end
        ({"start": T0 + 2 * HOUR, "end": T0 + HOUR}, "end"),  # both sent, the wrong way round
    ],
    ids=["end-only", "start-only", "both"],
)
def test_an_update_must_leave_the_meeting_ending_after_it_starts(changes, blamed):
    # the range is judged on the meeting as it would be, and reported on a field the client sent (§9)
    assert update_faults(**changes) == [((blamed,), ErrorCode.INVALID_TIME_RANGE)]


def test_moving_both_times_together_is_judged_on_the_new_range():
    assert update_faults(start=T0 + 2 * HOUR, end=T0 + 3 * HOUR) == []


def test_an_update_time_needs_a_utc_offset():
    assert update_faults(start=T0.replace(tzinfo=None)) == [(("start",), INVALID_INPUT)]


def test_an_empty_title_in_an_update_is_a_fault_of_its_length_not_a_null():
    errors = check_changes(current(), MeetingChanges(title=""))

    assert faults(errors) == [(("title",), INVALID_INPUT)]
    assert "cannot be null" not in errors[0].message


# --- what an update stores ----------------------------------------------------------------------


def test_only_the_fields_sent_are_changed():
    assert normalized_changes(MeetingChanges()) == {}
    assert normalized_changes(MeetingChanges(location="Room 5")) == {"location": "Room 5"}


def test_times_are_stored_in_whole_seconds_utc():
    start = datetime(2026, 11, 24, 10, 30, 15, 999_999, tzinfo=PLUS_ONE)

    stored = normalized_changes(MeetingChanges(start=start, end=start + HOUR))

    assert stored == {
        "start": datetime(2026, 11, 24, 9, 30, 15, tzinfo=UTC),
        "end": datetime(2026, 11, 24, 10, 30, 15, tzinfo=UTC),
    }
    assert stored["start"].utcoffset() == timedelta(0)


def test_a_title_is_stored_trimmed():
    assert normalized_changes(MeetingChanges(title="  Goals  ")) == {"title": "Goals"}


@pytest.mark.parametrize(("sent", "stored"), [("", None), (None, None), ("Room 5", "Room 5")])
def test_empty_text_clears_the_description_and_the_location(sent, stored):
    assert normalized_changes(MeetingChanges(description=sent, location=sent)) == {
        "description": stored,
        "location": stored,
    }


def test_a_time_zone_is_stored_as_sent():
    assert normalized_changes(MeetingChanges(time_zone="America/Argentina/Buenos_Aires")) == {
        "time_zone": "America/Argentina/Buenos_Aires"
    }
