"""Who is on which copy of a meeting: the invitations on the host event, the owners of each copy, and
the copy a calendar's event stands for (DESIGN.md §5).

The usual meeting: Alice's calendar holds the host event (Dave is invited on it), Bob's holds his copy."""

import dataclasses

from gql_api.domain.meetings import Delivery

from .builders import ALICE, BOB, BOBS_COPY, DAVE, HOST_COPY, copy, meeting, participant


def test_the_host_event_invites_the_participants_without_their_own_copy():
    subject = meeting()

    assert subject.invitees_of(subject.copies[HOST_COPY]) == (subject.participants[DAVE],)


def test_a_copy_in_a_participants_own_calendar_invites_nobody():
    subject = meeting()

    assert subject.invitees_of(subject.copies[BOBS_COPY]) == ()


def test_participants_without_any_calendar_are_not_invited():
    # given Erin got NONE (the meeting was planned when nobody had a calendar)
    erin = participant("erin", delivery=Delivery.NONE, copy=None)
    subject = meeting()
    subject = dataclasses.replace(subject, participants=(*subject.participants, erin))

    assert erin not in subject.invitees_of(subject.copies[HOST_COPY])


def test_the_host_event_belongs_to_the_organizer_and_those_invited_on_it():
    assert meeting().owners_of(HOST_COPY) == [ALICE, DAVE]


def test_a_participants_own_copy_belongs_to_them_alone():
    assert meeting().owners_of(BOBS_COPY) == [BOB]


def test_an_event_read_from_a_calendar_is_found_by_its_connection_and_calendar():
    subject = meeting()

    assert subject.copy_on("conn_bob", "cal_bob") == BOBS_COPY
    assert subject.copy_on("conn_alice", "cal_alice") == HOST_COPY


def test_an_event_in_a_calendar_without_a_copy_is_no_copy_of_ours():
    subject = meeting()

    assert subject.copy_on("conn_bob", "cal_holidays") is None  # another calendar of Bob's account
    assert subject.copy_on("conn_erin", "cal_bob") is None  # a calendar id seen through another connection


def test_replacing_copies_keeps_the_others():
    subject = meeting()
    written = copy(connection_id="conn_bob", calendar_id="cal_bob", is_host=False, synced_version=1)

    changed = subject.with_copies({BOBS_COPY: written})

    assert changed.copies == (subject.copies[HOST_COPY], written)
    assert subject.copies[BOBS_COPY].synced_version == 0  # the meeting itself does not change
