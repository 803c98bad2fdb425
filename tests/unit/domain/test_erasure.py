"""Erasing a person from a meeting (domain/erasure.py): cancel what they organize, withdraw what they attend,
placeholders for their seats, their names out of the text."""

from __future__ import annotations

import dataclasses

import pytest

from gql_api.domain.erasure import (
    NOBODY,
    PLACEHOLDER_EMAIL,
    REDACTED,
    Erasure,
    ErasureCounts,
    ErasureStatus,
    Person,
    erased_from,
    left_in_calendar,
    redacted_text,
    settled,
    subject_of,
)
from gql_api.domain.meetings import Delivery, MeetingParticipant, MeetingStatus, ParticipantResponse, SyncStatus

from .builders import ALICE, BOB, BOBS_COPY, DAVE, HOST_COPY, HOUR, T0, meeting, with_copy, with_participant

BEFORE = T0 - 24 * HOUR  # a day before the meeting
AFTER = T0 + 2 * HOUR  # after it ended


def sent(subject, *indexes):
    """The meeting as written to its calendars: every copy (or these) carries version 1."""
    for index in indexes or range(len(subject.copies)):
        subject = with_copy(subject, index, sent=True, synced_version=subject.version, synced_at=BEFORE)
    return subject


def person(user_id, *addresses, names=()):
    return Person(user_id, frozenset(a.casefold() for a in addresses), frozenset(names))


def placeholder(*, response=ParticipantResponse.DECLINED, is_organizer=False):
    return MeetingParticipant(PLACEHOLDER_EMAIL, is_organizer=is_organizer, response=response, erased=True)


# --- the organizer ---------------------------------------------------------------------------------


def test_a_meeting_they_organize_that_has_not_ended_is_cancelled_and_every_copy_leaves_its_calendar():
    # given Alice's meeting, written to her calendar and Bob's
    subject = sent(meeting())

    # when Alice is erased a day before it
    erased = erased_from(subject, person("alice", "alice@example.test"), BEFORE)

    # then it is cancelled, as a new version every copy must follow (by deleting itself)
    after = erased.meeting
    assert (erased.cancelled, erased.seats) == (True, 1)
    assert (after.status, after.cancelled_at, after.version) == (MeetingStatus.CANCELLED, BEFORE, 2)
    assert [c.status(after.version) for c in after.copies] == [SyncStatus.PENDING, SyncStatus.PENDING]
    # and nobody organizes it any more: her seat is a placeholder that keeps the organizer's answer
    assert after.organizer_id == NOBODY
    assert after.participants[ALICE] == placeholder(response=ParticipantResponse.ACCEPTED, is_organizer=True)
    # the others are untouched
    assert after.participants[BOB:] == subject.participants[BOB:]


def test_a_meeting_they_organized_that_has_ended_stays_for_the_others_without_them():
    subject = sent(meeting())

    erased = erased_from(subject, person("alice", "alice@example.test"), AFTER)

    after = erased.meeting
    assert erased.cancelled is False
    assert after.status is MeetingStatus.SCHEDULED and after.organizer_id == NOBODY
    assert after.participants[ALICE] == placeholder(response=ParticipantResponse.ACCEPTED, is_organizer=True)
    # no calendar is written again for a meeting that is over
    assert after.pending_copies() == []


def test_a_cancelled_meeting_they_organized_only_loses_their_seat():
    subject = sent(meeting(status=MeetingStatus.CANCELLED, cancelled_at=BEFORE - HOUR))

    erased = erased_from(subject, person("alice"), BEFORE)

    assert erased.cancelled is False and erased.meeting.cancelled_at == BEFORE - HOUR
    assert erased.meeting.pending_copies() == []


# --- a participant -------------------------------------------------------------------------------------


def test_their_own_copy_of_a_meeting_to_come_is_withdrawn_and_their_seat_declines_as_a_placeholder():
    subject = sent(meeting())

    erased = erased_from(subject, person("bob", "bob@example.test"), BEFORE)

    after = erased.meeting
    assert (erased.cancelled, erased.seats, after.status) == (False, 1, MeetingStatus.SCHEDULED)
    assert after.participants[BOB] == placeholder()
    assert after.copies[BOBS_COPY].withdrawn  # its delete is due: only that copy
    assert after.pending_copies() == [BOBS_COPY]
    assert after.organizer_id == "alice" and after.participants[ALICE] == subject.participants[ALICE]


def test_in_a_meeting_that_has_ended_their_seat_keeps_its_answer_and_no_calendar_changes():
    subject = with_participant(sent(meeting()), BOB, response=ParticipantResponse.ACCEPTED)

    after = erased_from(subject, person("bob"), AFTER).meeting

    assert after.participants[BOB] == placeholder(response=ParticipantResponse.ACCEPTED)
    assert after.pending_copies() == []


def test_an_invitation_the_host_event_sent_keeps_only_the_address_until_it_is_withdrawn():
    # given Dave, invited by address on Alice's event, which was written
    subject = sent(meeting())

    # when Dave is erased (known by that address)
    erased = erased_from(subject, person("dave", "dave@example.test", names=["Dave"]), BEFORE)

    # then his seat keeps only the address the host event must reject, and the host event is written again
    seat = erased.meeting.participants[DAVE]
    assert (seat.email, seat.user_id, seat.display_name) == ("dave@example.test", None, None)
    assert (seat.erased, seat.uninvited, seat.response) == (True, True, ParticipantResponse.DECLINED)
    assert erased.meeting.pending_copies() == [HOST_COPY]
    assert [a.email for a in erased.meeting.uninvited_of(erased.meeting.copies[HOST_COPY])] == ["dave@example.test"]

    # and once the host copy carries that version, the seat becomes a placeholder
    assert erased.withdrawing
    assert settled(erased.meeting, give_up=False) is None  # still pending
    written = with_copy(erased.meeting, HOST_COPY, synced_version=erased.meeting.version)
    after, left = settled(written, give_up=False)
    assert after.participants[DAVE] == placeholder() and left == 0
    assert after.invitees_of(after.copies[HOST_COPY]) == () and after.uninvited_of(after.copies[HOST_COPY]) == ()


def test_a_withdrawal_that_cannot_reach_the_host_event_is_given_up_and_counted():
    erased = erased_from(sent(meeting()), person("dave", "dave@example.test"), BEFORE).meeting

    after, left = settled(erased, give_up=True)

    assert after.participants[DAVE].email == PLACEHOLDER_EMAIL and left == 1


def test_an_invitation_never_sent_needs_no_withdrawal():
    subject = meeting()  # nothing written yet (Cronofy was down)

    erased = erased_from(subject, person("dave", "dave@example.test"), BEFORE)

    assert erased.meeting.participants[DAVE] == placeholder()
    assert erased.meeting.pending_copies() == [HOST_COPY, BOBS_COPY]  # as before: the others still get it


def test_seats_by_address_only_are_theirs_in_any_letter_case_but_other_users_seats_are_not():
    subject = with_participant(meeting(), DAVE, email="Dave@Example.TEST")

    assert person("dave", "dave@example.test").owns(subject.participants[DAVE])
    assert not person("dave", "bob@example.test").owns(subject.participants[BOB])  # Bob's seat has his user id


def test_a_meeting_without_them_is_left_alone_and_erasing_twice_changes_nothing_more():
    subject = sent(meeting())
    assert erased_from(subject, person("carol", "carol@example.test"), BEFORE) is None

    once = erased_from(subject, person("bob", "bob@example.test"), BEFORE).meeting
    assert erased_from(once, person("bob", "bob@example.test"), BEFORE) is None


# --- the text -------------------------------------------------------------------------------------------


def test_their_names_and_addresses_leave_the_text_as_whole_words_in_any_case():
    subject = meeting(
        title="Bob Smith and Alice: plans", description="Write to BOB@example.test; ask bobby", location=None
    )

    text = redacted_text(subject, person("bob", "bob@example.test", names=["Bob Smith"]))

    assert text == {
        "title": f"{REDACTED} and Alice: plans",
        "description": f"Write to {REDACTED}; ask bobby",
    }


def test_short_identifiers_are_not_redacted():
    assert redacted_text(meeting(title="Plan a meeting"), person("a", names=["Al"])) == {}


def test_a_redacted_meeting_to_come_is_written_to_every_calendar_again():
    subject = sent(meeting(title="Mentoring Bob"))

    erased = erased_from(subject, person("bob", "bob@example.test", names=["Bob"]), BEFORE)

    assert erased.redacted and erased.meeting.title == f"Mentoring {REDACTED}"
    assert erased.meeting.pending_copies() == [HOST_COPY, BOBS_COPY]
    assert erased.meeting.updated_at == BEFORE


# --- what the erasure waits for and what it leaves ---------------------------------------------------------


def test_copies_that_should_have_left_a_calendar_and_may_not_have_are_counted():
    cancelled = erased_from(sent(meeting()), person("alice"), BEFORE).meeting

    # the host copy in Alice's calendar is still there (its delete pending), Bob's was deleted
    deleted = with_copy(cancelled, BOBS_COPY, synced_version=cancelled.version)
    assert left_in_calendar(deleted, ["conn_alice"], BEFORE) == 1
    assert left_in_calendar(deleted, ["conn_bob"], BEFORE) == 0
    assert left_in_calendar(deleted, ["conn_alice"], AFTER) == 0  # over: no longer a future event
    never_sent = with_copy(deleted, HOST_COPY, sent=False)
    assert left_in_calendar(never_sent, ["conn_alice"], BEFORE) == 0


# --- the record --------------------------------------------------------------------------------------------


def test_the_subject_is_a_hash_of_the_user_id_not_the_id():
    assert subject_of("bob") == subject_of("bob") != subject_of("bob ")
    assert "bob" not in subject_of("bob") and len(subject_of("bob")) == 64


def test_counts_add_up_and_say_whether_anything_was_counted():
    total = ErasureCounts(meeting_seats=2) + ErasureCounts(meeting_seats=1, link_states=1)
    assert total == ErasureCounts(meeting_seats=3, link_states=1) and total
    assert not ErasureCounts()
    assert set(total.as_dict()) == {f.name for f in dataclasses.fields(ErasureCounts)}


def test_nothing_to_erase_names_nobody():
    nothing = Erasure.nothing("bob")
    assert (nothing.status, nothing.subject, nothing.user_id) == (
        ErasureStatus.NOTHING_TO_ERASE,
        subject_of("bob"),
        None,
    )


def test_their_addresses_are_those_of_their_accounts_and_of_the_meetings_they_organize():
    # given Bob attends Alice's meeting (Alice typed his address and name) and organizes one himself
    attends = with_participant(meeting(), BOB, display_name="Bob B", email="Bob.Typed@Example.test")
    organizes = meeting(
        organizer_id="bob",
        participants=(MeetingParticipant("Bob@Example.test", user_id="bob", is_organizer=True, display_name="Bob"),),
    )

    # when what is known of him is learned from them and from his calendar accounts
    learned = person("bob").learning([attends, organizes], ["bob.work@example.test", "Work calendar"])

    # then only addresses that are his for sure count: an organizer could type anybody's address for him, and
    # seats at that address would then be his to export and erase
    assert learned.addresses == {"bob@example.test", "bob.work@example.test"}
    assert learned.names == {"Bob B", "Bob"}


@pytest.mark.parametrize("delivery", [Delivery.NONE, Delivery.OWN_CALENDAR])
def test_a_seat_without_a_calendar_event_or_with_a_copy_never_sent_becomes_a_placeholder_at_once(delivery):
    subject = with_participant(meeting(), BOB, delivery=delivery, copy=None if delivery is Delivery.NONE else BOBS_COPY)

    after = erased_from(subject, person("bob"), BEFORE).meeting

    assert after.participants[BOB] == placeholder()
