"""Which calendar gets which copy of a meeting (DESIGN.md §5): the host event is the organizer's, and
nobody else's calendar ever sends invitations on the organizer's behalf."""

import dataclasses

from gql_api.domain.connections import ConnectionStatus
from gql_api.domain.meetings import Delivery
from gql_api.domain.planning import calendars_to_write, plan_copies

from .builders import connected, connection, organizer, participant


def test_every_participant_ends_up_with_exactly_one_copy():
    # given Alice (linked), Bob (linked), Carol (on the platform, not linked) and Dave (e-mail only)
    everyone = [organizer("alice"), participant("bob"), participant("carol"), participant(email="dave@example.test")]

    # when the copies are planned
    placed, copies = plan_copies(everyone, connected("alice", "bob"))

    # then each of them points at one existing copy, and no copy is left without somebody on it
    assert [p.copy for p in placed] == [0, 1, 0, 0]
    assert len(copies) == 2


def test_the_organizers_calendar_holds_the_host_event():
    placed, copies = plan_copies([organizer("alice"), participant("bob")], connected("alice", "bob"))

    host = copies[placed[0].copy]
    assert host.is_host
    assert (host.connection_id, host.calendar_id) == ("conn_alice", "cal_alice")
    assert placed[0].delivery is Delivery.OWN_CALENDAR


def test_only_the_host_event_is_marked_as_host():
    _, copies = plan_copies(
        [organizer("alice"), participant("bob"), participant("erin")], connected("alice", "bob", "erin")
    )

    assert [c.is_host for c in copies] == [True, False, False]


def test_a_participant_with_their_own_calendar_gets_their_own_copy():
    # given Bob has linked a calendar
    everyone = [organizer("alice"), participant("bob")]

    # when the copies are planned
    placed, copies = plan_copies(everyone, connected("alice", "bob"))

    # then his event is written to his calendar, not sent to him as an invitation
    bob = placed[1]
    assert bob.delivery is Delivery.OWN_CALENDAR
    assert (copies[bob.copy].connection_id, copies[bob.copy].calendar_id) == ("conn_bob", "cal_bob")
    assert not copies[bob.copy].is_host


def test_a_platform_user_without_a_linked_calendar_is_invited_on_the_host_event():
    placed, copies = plan_copies([organizer("alice"), participant("carol")], connected("alice"))

    assert placed[1].delivery is Delivery.INVITATION
    assert placed[1].copy == placed[0].copy
    assert copies[placed[1].copy].is_host


def test_somebody_outside_the_platform_is_invited_on_the_host_event():
    placed, copies = plan_copies([organizer("alice"), participant(email="dave@example.test")], connected("alice"))

    assert placed[1].delivery is Delivery.INVITATION
    assert copies[placed[1].copy].is_host


def test_a_participant_whose_connection_has_no_calendar_to_write_to_is_invited():
    # given Bob's connection has no calendar chosen to write to
    active = {"alice": connection("alice"), "bob": connection("bob", calendar=False)}

    # when the copies are planned
    placed, copies = plan_copies([organizer("alice"), participant("bob")], active)

    # then Bob is invited on Alice's event, and nothing is written to Bob's account
    assert placed[1].delivery is Delivery.INVITATION
    assert [c.connection_id for c in copies] == ["conn_alice"]


def test_with_no_calendar_linked_at_all_nobody_gets_a_copy():
    # given nobody in the meeting has linked a calendar
    everyone = [organizer("alice"), participant("carol"), participant(email="dave@example.test")]

    # when the copies are planned
    placed, copies = plan_copies(everyone, {})

    # then there is nothing to write, and every participant's delivery is NONE
    assert copies == []
    assert [(p.delivery, p.copy) for p in placed] == [(Delivery.NONE, None)] * 3


def test_planning_changes_where_participants_get_the_event_and_nothing_else():
    everyone = [organizer("alice"), participant("bob", display_name="Bob B."), participant(email="dave@example.test")]

    placed, _ = plan_copies(everyone, connected("alice", "bob"))

    assert [(p.email, p.user_id, p.display_name, p.is_organizer, p.response) for p in placed] == [
        (p.email, p.user_id, p.display_name, p.is_organizer, p.response) for p in everyone
    ]


def test_new_copies_are_pending_first_writes():
    _, copies = plan_copies([organizer("alice"), participant("bob")], connected("alice", "bob"))

    assert all(c.synced_version == 0 and c.written is None and not c.removed for c in copies)


def test_an_organizer_without_a_calendar_borrows_nobody_elses_to_invite():
    # given Alice (the organizer) has no calendar linked, Bob has, Dave is invited by e-mail
    everyone = [organizer("alice"), participant("bob"), participant(email="dave@example.test")]

    # when the copies are planned
    placed, copies = plan_copies(everyone, connected("bob"))

    # then Bob still gets his own copy, but it hosts nothing: Alice and Dave get no calendar event
    assert [p.delivery for p in placed] == [Delivery.NONE, Delivery.OWN_CALENDAR, Delivery.NONE]
    assert [c.is_host for c in copies] == [False]


def test_the_host_is_the_organizer_wherever_they_stand_in_the_list():
    everyone = [participant("bob"), organizer("alice"), participant("carol")]

    placed, copies = plan_copies(everyone, connected("alice", "bob"))

    assert copies[placed[1].copy].is_host and copies[placed[1].copy].connection_id == "conn_alice"
    assert placed[2].copy == placed[1].copy and placed[2].delivery is Delivery.INVITATION


def test_a_users_calendar_is_their_newest_active_one_else_the_one_waiting_for_a_relink():
    # given Bob's newest connection needs relinking and an older one works; Erin has only one, needing relinking;
    # Carol's only connection has no calendar to write to (newest first, as the store gives them)
    bobs_newest = dataclasses.replace(connection("bob"), id="conn_bob_new", status=ConnectionStatus.NEEDS_RELINK)
    bobs_older = connection("bob")
    erins = dataclasses.replace(connection("erin"), status=ConnectionStatus.NEEDS_RELINK)

    # when each user's calendar is chosen
    chosen = calendars_to_write([bobs_newest, erins, connection("carol", calendar=False), bobs_older])

    # then Bob's working calendar is used, and Erin's waits for her relink (her copy is written after it)
    assert {user: c.id for user, c in chosen.items()} == {"bob": bobs_older.id, "erin": erins.id}
