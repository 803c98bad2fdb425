"""Which calendar gets which copy of a meeting (DESIGN.md §5)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from .connections import CalendarConnection
from .meetings import CalendarCopy, Delivery, MeetingParticipant


def plan_copies(
    participants: Sequence[MeetingParticipant], active: Mapping[str, CalendarConnection]
) -> tuple[list[MeetingParticipant], list[CalendarCopy]]:
    """Exactly one copy per participant. The host calendar is the organizer's ACTIVE connection, else the
    first participant's that has one; participants with their own ACTIVE connection get the event there,
    the others are invited on the host event; with no connection at all, NONE.

    `active` maps a user id to that user's ACTIVE connection with a calendar to write to."""
    host = next((i for i, p in enumerate(participants) if p.user_id in active), None)
    if host is None:
        return [dataclasses.replace(p, delivery=Delivery.NONE, copy=None) for p in participants], []
    copies: list[CalendarCopy] = []
    owners: dict[int, int] = {}
    for i, participant in enumerate(participants):
        connection = active.get(participant.user_id) if participant.user_id else None
        if connection is not None and connection.calendar is not None:
            owners[i] = len(copies)
            copies.append(
                CalendarCopy(connection_id=connection.id, calendar_id=connection.calendar.id, is_host=i == host)
            )
    placed = [
        dataclasses.replace(p, delivery=Delivery.OWN_CALENDAR, copy=owners[i])
        if i in owners
        else dataclasses.replace(p, delivery=Delivery.INVITATION, copy=owners[host])
        for i, p in enumerate(participants)
    ]
    return placed, copies
