"""Meetings, their participants and calendar copies, pages of meetings, and the meeting mutations."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import strawberry

from ...domain import meetings as domain
from ...domain.validation import UNCHANGED, MeetingChanges, MeetingRequest, ParticipantRequest
from ..ids import MEETING, encode_id
from .common import PageInfo, UserError, given

# strawberry.enum names the GraphQL enum on the domain's class itself (and returns that class): each name
# below is the domain enum, a type mypy can check, registered under its GraphQL name.
MeetingStatus = domain.MeetingStatus
strawberry.enum(MeetingStatus, name="MeetingStatus")
ParticipantResponse = domain.ParticipantResponse
strawberry.enum(ParticipantResponse, name="ParticipantResponse")
CalendarDelivery = domain.Delivery
strawberry.enum(
    CalendarDelivery,
    name="CalendarDelivery",
    description="How a participant receives the meeting in a calendar. OWN_CALENDAR: written to the participant's "
    "own linked calendar. INVITATION: invited as an attendee of the event in the host calendar. "
    "NONE: no linked calendar can carry it.",
)
CalendarSyncStatus = domain.SyncStatus
strawberry.enum(CalendarSyncStatus, name="CalendarSyncStatus")


@strawberry.type
class CalendarEventSync:
    delivery: CalendarDelivery
    status: CalendarSyncStatus
    last_error: str | None = strawberry.field(
        description="A short, safe description of the last failure; never upstream bodies or tokens."
    )
    synced_at: datetime | None


@strawberry.type
class Participant:
    user_id: strawberry.ID | None = strawberry.field(description="The platform user, when the participant is one.")
    email: str
    display_name: str | None
    is_organizer: bool
    response: ParticipantResponse
    calendar_event: CalendarEventSync

    @classmethod
    def of(cls, meeting: domain.Meeting, participant: domain.MeetingParticipant) -> Participant:
        sync = meeting.sync_of(participant)
        return cls(
            user_id=strawberry.ID(participant.user_id) if participant.user_id else None,
            email=participant.email,
            display_name=participant.display_name,
            is_organizer=participant.is_organizer,
            response=participant.response,
            calendar_event=CalendarEventSync(
                delivery=participant.delivery, status=sync.status, last_error=sync.last_error, synced_at=sync.synced_at
            ),
        )


@strawberry.type
class Meeting:
    id: strawberry.ID
    title: str
    description: str | None
    location: str | None
    start: datetime
    end: datetime
    time_zone: str = strawberry.field(description="IANA time zone the meeting is shown in, e.g. Europe/London.")
    status: MeetingStatus
    organizer: Participant
    participants: list[Participant] = strawberry.field(description="Everyone in the meeting, the organizer first.")
    created_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None

    @classmethod
    def of(cls, meeting: domain.Meeting) -> Meeting:
        participants = [Participant.of(meeting, p) for p in meeting.participants]
        return cls(
            id=strawberry.ID(encode_id(MEETING, meeting.id)),
            title=meeting.title,
            description=meeting.description,
            location=meeting.location,
            start=meeting.start,
            end=meeting.end,
            time_zone=meeting.time_zone,
            status=meeting.status,
            organizer=next(p for p in participants if p.is_organizer),
            participants=participants,
            created_at=meeting.created_at,
            updated_at=meeting.updated_at,
            cancelled_at=meeting.cancelled_at,
        )


@strawberry.input
class MeetingFilter:
    status: MeetingStatus | None = strawberry.UNSET
    from_: datetime | None = strawberry.field(
        name="from", default=strawberry.UNSET, description="Meetings that end at or after this instant."
    )
    to: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="Meetings that start before this instant."
    )


@strawberry.type
class MeetingEdge:
    cursor: str
    node: Meeting


@strawberry.type
class MeetingConnection:
    edges: list[MeetingEdge]
    page_info: PageInfo


@strawberry.input
class ParticipantInput:
    user_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="The platform user id, when the participant is a user of the platform."
    )
    email: str
    display_name: str | None = strawberry.UNSET

    def to_request(self) -> ParticipantRequest:
        return ParticipantRequest(email=self.email, user_id=given(self.user_id), display_name=given(self.display_name))


@strawberry.input
class ScheduleMeetingInput:
    title: str
    description: str | None = strawberry.UNSET
    location: str | None = strawberry.UNSET
    start: datetime
    end: datetime
    time_zone: str
    participants: list[ParticipantInput] = strawberry.field(
        description="The other participants; the signed-in user is the organizer."
    )
    idempotency_key: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Retrying with the same key returns the first result instead of a second meeting.",
    )

    def to_request(self) -> MeetingRequest:
        return MeetingRequest(
            title=self.title,
            description=given(self.description),
            location=given(self.location),
            start=self.start,
            end=self.end,
            time_zone=self.time_zone,
            participants=tuple(p.to_request() for p in self.participants),
            idempotency_key=given(self.idempotency_key),
        )


@strawberry.type
class ScheduleMeetingPayload:
    meeting: Meeting | None = None
    user_errors: list[UserError] = dataclasses.field(default_factory=list)


@strawberry.input
class UpdateMeetingInput:
    meeting_id: strawberry.ID
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    location: str | None = strawberry.UNSET
    start: datetime | None = strawberry.UNSET
    end: datetime | None = strawberry.UNSET
    time_zone: str | None = strawberry.UNSET

    def to_changes(self) -> MeetingChanges:
        return MeetingChanges(
            **{
                name: _changed(getattr(self, name))
                for name in ("title", "description", "location", "start", "end", "time_zone")
            }
        )


@strawberry.type
class UpdateMeetingPayload:
    meeting: Meeting | None = None
    user_errors: list[UserError] = dataclasses.field(default_factory=list)


@strawberry.input
class CancelMeetingInput:
    meeting_id: strawberry.ID


@strawberry.input
class RespondToMeetingInput:
    meeting_id: strawberry.ID
    response: ParticipantResponse = strawberry.field(
        description="ACCEPTED, TENTATIVE or DECLINED. Declining takes the meeting out of your calendar (or "
        "withdraws your invitation); accepting again brings it back."
    )


@strawberry.type
class RespondToMeetingPayload:
    meeting: Meeting | None = None
    user_errors: list[UserError] = dataclasses.field(default_factory=list)


@strawberry.type
class CancelMeetingPayload:
    meeting: Meeting | None = None
    user_errors: list[UserError] = dataclasses.field(default_factory=list)


def _changed(value: Any) -> Any:
    return UNCHANGED if value is strawberry.UNSET else value
