"""The content fingerprint: what a calendar event says about a meeting, reduced to a short hash.

It is how a copy read back from a calendar is recognised as our own write (DESIGN.md §5, inbound), so it
covers exactly what we write, as Cronofy keeps it: whole seconds, in UTC, with empty text as none."""

from datetime import timedelta, timezone

import pytest

from gql_api.domain.calendar_edits import SeenEvent
from gql_api.domain.meetings import content_fingerprint

from .builders import HOUR, T0, meeting

CONTENT = ("Mentoring session", "Goals for the term", "Room 4", T0, T0 + HOUR)


def fingerprint(title=CONTENT[0], description=CONTENT[1], location=CONTENT[2], start=CONTENT[3], end=CONTENT[4]):
    return content_fingerprint(title, description, location, start, end)


def test_the_same_content_has_the_same_fingerprint():
    assert fingerprint() == content_fingerprint(*CONTENT)


def test_a_meeting_and_the_event_that_shows_it_have_the_same_fingerprint():
    subject = meeting()
    seen = SeenEvent(
        deleted=False,
        updated=T0,
        title=subject.title,
        description=subject.description,
        location=subject.location,
        start=subject.start,
        end=subject.end,
    )

    assert seen.fingerprint == subject.fingerprint == fingerprint()


@pytest.mark.parametrize(
    ("field", "other"),
    [
        ("title", "Career chat"),
        ("description", "Bring your CV"),
        ("location", "Café"),
        ("start", T0 - timedelta(seconds=1)),
        ("end", T0 + HOUR + timedelta(seconds=1)),
    ],
)
def test_every_field_we_write_counts(field, other):
    assert fingerprint(**{field: other}) != fingerprint()


def test_a_text_counts_where_it_stands():
    # the same words as title or as description are different content
    assert fingerprint(title="Room 4", location="") != fingerprint(title="", location="Room 4")
    assert fingerprint(description="a", location="b") != fingerprint(description="b", location="a")


def test_microseconds_do_not_count():
    # Cronofy keeps whole seconds: what we wrote reads back without the fraction
    assert fingerprint(start=T0 + timedelta(microseconds=999_999)) == fingerprint(start=T0)


def test_the_utc_offset_a_time_is_shown_in_does_not_count():
    plus_five_thirty = timezone(timedelta(hours=5, minutes=30))

    assert fingerprint(start=T0.astimezone(plus_five_thirty), end=(T0 + HOUR).astimezone(plus_five_thirty)) == (
        fingerprint()
    )


@pytest.mark.parametrize("field", ["title", "description", "location"])
def test_empty_text_and_missing_text_are_the_same(field):
    assert fingerprint(**{field: ""}) == fingerprint(**{field: None})


def test_a_missing_time_differs_from_any_time():
    assert fingerprint(start=None) != fingerprint()


def test_what_we_do_not_write_as_content_does_not_count():
    # the time zone, the participants, the version and the status are not part of the event's content
    assert meeting(time_zone="UTC", version=7, participants=()).fingerprint == meeting().fingerprint


def test_a_fingerprint_is_32_hex_digits():
    digest = fingerprint()

    assert len(digest) == 32
    assert int(digest, 16) >= 0
