"""Which calendar gets which copy of a meeting (DESIGN.md §5)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

from .connections import CalendarConnection, ConnectionStatus
from .meetings import CalendarCopy, Delivery, MeetingParticipant


def calendars_to_write(connections: Iterable[CalendarConnection]) -> dict[str, CalendarConnection]:
    """Each user's calendar for their meetings, from their connections newest first: the newest ACTIVE one
    with a calendar, else the newest that needs relinking. A meeting is never planned around a calendar that
    is only waiting for its owner to link the account again: its copy shows FAILED (and why) until the
    relink, then it is written, instead of the meeting never reaching that calendar at all."""
    chosen: dict[str, CalendarConnection] = {}
    for connection in connections:
        if connection.calendar is None or connection.status not in (
            ConnectionStatus.ACTIVE,
            ConnectionStatus.NEEDS_RELINK,
        ):
            continue
        held = chosen.get(connection.user_id)
        if held is None or (
            held.status is not ConnectionStatus.ACTIVE and connection.status is ConnectionStatus.ACTIVE
        ):
            chosen[connection.user_id] = connection
    return chosen


def plan_copies(
    participants: Sequence[MeetingParticipant], active: Mapping[str, CalendarConnection]
) -> tuple[list[MeetingParticipant], list[CalendarCopy]]:
    """Exactly one copy per participant. The host calendar is the organizer's own calendar and nobody
    else's: another user's calendar never sends invitations on the organizer's behalf. Participants with
    their own calendar get the event there (OWN_CALENDAR); the others are invited on the host event
    (INVITATION), or get NONE when the organizer has no calendar linked.

    `participants` starts with the organizer; `active` maps a user id to that user's calendar connection
    (`calendars_to_write`)."""
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
