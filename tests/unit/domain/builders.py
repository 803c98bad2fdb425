"""Small builders for domain values: each fills in what a test does not care about.

The usual meeting has Alice (the organizer, her calendar holds the host event), Bob (his own calendar
holds his copy) and Dave (no calendar here: invited on Alice's event)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from gql_api.domain.connections import CalendarConnection, CalendarProvider, ConnectionStatus, TargetCalendar
from gql_api.domain.identity import User
from gql_api.domain.meetings import (
    CalendarCopy,
    Delivery,
    Meeting,
    MeetingParticipant,
    MeetingStatus,
    ParticipantResponse,
)
from gql_api.domain.validation import MeetingRequest, ParticipantRequest

T0 = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)

ALICE, BOB, DAVE = 0, 1, 2  # participant indexes in `meeting()`
HOST_COPY, BOBS_COPY = 0, 1  # copy indexes in `meeting()`


# --- participants and connections, as planning sees them ---------------------------------------


def organizer(user_id: str = "alice") -> MeetingParticipant:
    return MeetingParticipant(
        email=f"{user_id}@example.test", user_id=user_id, is_organizer=True, response=ParticipantResponse.ACCEPTED
    )


def participant(user_id: str | None = None, *, email: str | None = None, **changes: Any) -> MeetingParticipant:
    """A platform user (by user id) or, with only `email`, somebody outside the platform."""
    return MeetingParticipant(email=email or f"{user_id}@example.test", user_id=user_id, **changes)


def connection(user_id: str, *, calendar: bool = True) -> CalendarConnection:
    """`user_id`'s ACTIVE connection `conn_<user>`, writing to calendar `cal_<user>` (or to none)."""
    return CalendarConnection(
        id=f"conn_{user_id}",
        user_id=user_id,
        sub=f"acc_{user_id}",
        provider=CalendarProvider.GOOGLE,
        profile_name=f"{user_id}@example.test",
        status=ConnectionStatus.ACTIVE,
        scopes=("read_write",),
        calendar=TargetCalendar(id=f"cal_{user_id}", name="Work", primary=True) if calendar else None,
        data_center="us",
        linked_at=T0 - 30 * 24 * HOUR,
    )


def connected(*user_ids: str) -> dict[str, CalendarConnection]:
    """What planning is given: each of these users' ACTIVE connection, by user id."""
    return {user_id: connection(user_id) for user_id in user_ids}


# --- meetings and their copies ------------------------------------------------------------------


def copy(**changes: Any) -> CalendarCopy:
    """A copy never written yet (its fields as `changes` say)."""
    fields: dict[str, Any] = {"connection_id": "conn_alice", "calendar_id": "cal_alice", "is_host": True}
    return CalendarCopy(**(fields | changes))


def meeting(**changes: Any) -> Meeting:
    """Alice's meeting with Bob and Dave at version 1, as `plan_copies` would have placed them."""
    fields: dict[str, Any] = {
        "id": "m1",
        "organizer_id": "alice",
        "title": "Mentoring session",
        "description": "Goals for the term",
        "location": "Room 4",
        "start": T0,
        "end": T0 + HOUR,
        "time_zone": "Europe/London",
        "status": MeetingStatus.SCHEDULED,
        "participants": (
            dataclasses.replace(organizer("alice"), delivery=Delivery.OWN_CALENDAR, copy=HOST_COPY),
            participant("bob", delivery=Delivery.OWN_CALENDAR, copy=BOBS_COPY),
            participant(email="dave@example.test", delivery=Delivery.INVITATION, copy=HOST_COPY),
        ),
        "copies": (
            copy(connection_id="conn_alice", calendar_id="cal_alice", is_host=True),
            copy(connection_id="conn_bob", calendar_id="cal_bob", is_host=False),
        ),
        "version": 1,
        "created_at": T0 - 7 * 24 * HOUR,
        "updated_at": T0 - 7 * 24 * HOUR,
    }
    return Meeting(**(fields | changes))


def with_copy(subject: Meeting, index: int, **changes: Any) -> Meeting:
    return subject.with_copies({index: dataclasses.replace(subject.copies[index], **changes)})


def with_participant(subject: Meeting, index: int, **changes: Any) -> Meeting:
    participants = list(subject.participants)
    participants[index] = dataclasses.replace(participants[index], **changes)
    return dataclasses.replace(subject, participants=tuple(participants))


# --- requests, as a client sends them -----------------------------------------------------------


def signed_in(user_id: str = "alice", email: str | None = "alice@example.test") -> User:
    return User(id=user_id, email=email, name="Alice")


def invitee(
    email: str = "bob@example.test", user_id: str | None = None, display_name: str | None = None
) -> ParticipantRequest:
    return ParticipantRequest(email=email, user_id=user_id, display_name=display_name)


def request(**changes: Any) -> MeetingRequest:
    """A valid request for a one-hour meeting with Bob."""
    fields: dict[str, Any] = {
        "title": "Mentoring session",
        "start": T0,
        "end": T0 + HOUR,
        "time_zone": "Europe/London",
        "participants": (invitee("bob@example.test", "bob"),),
    }
    return MeetingRequest(**(fields | changes))
