"""Which calendar gets which copy of a meeting (DESIGN.md §5)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from .connections import CalendarConnection
from .meetings import CalendarCopy, Delivery, MeetingParticipant


def plan_copies(
    participants: Sequence[MeetingParticipant], active: Mapping[str, CalendarConnection]
) -> tuple[list[MeetingParticipant], list[CalendarCopy]]:
    """Exactly one copy per participant. The host calendar is the organizer's ACTIVE connection and nobody
    else's: another user's calendar never sends invitations on the organizer's behalf. Participants with
    their own ACTIVE connection get the event there (OWN_CALENDAR); the others are invited on the host
    event (INVITATION), or get NONE when the organizer has no ACTIVE connection.

    `participants` starts with the organizer; `active` maps a user id to that user's ACTIVE connection
    with a calendar to write to."""
    copies: list[CalendarCopy] = []
    owners: dict[int, int] = {}
    for i, participant in enumerate(participants):
        connection = active.get(participant.user_id) if participant.user_id else None
        if connection is not None and connection.calendar is not None:
            owners[i] = len(copies)
            copies.append(
                CalendarCopy(
                    connection_id=connection.id, calendar_id=connection.calendar.id, is_host=participant.is_organizer
                )
            )
    host = next((owners[i] for i, p in enumerate(participants) if p.is_organizer and i in owners), None)
    placed = []
    for i, participant in enumerate(participants):
        if i in owners:
            placed.append(dataclasses.replace(participant, delivery=Delivery.OWN_CALENDAR, copy=owners[i]))
        elif host is not None:
            placed.append(dataclasses.replace(participant, delivery=Delivery.INVITATION, copy=host))
        else:
            placed.append(dataclasses.replace(participant, delivery=Delivery.NONE, copy=None))
    return placed, copies
