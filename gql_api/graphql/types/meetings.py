"""Meetings, their participants and calendar copies, pages of meetings, and the meeting mutations."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import strawberry

from ...domain import meetings as domain
from ...domain.changes import MeetingChangeKind
from ...domain.validation import UNCHANGED, MeetingChanges, MeetingRequest, ParticipantRequest
from ...services.live import MeetingUpdate
from ..ids import CALENDAR_EVENT_SYNC, MEETING, PARTICIPANT, encode_id, join
from .common import Node, PageInfo, UserError, given, graphql_enum

# graphql_enum names the GraphQL enum on the domain's class itself: each name
# below is the domain enum, a type mypy can check, registered under its GraphQL name.
MeetingStatus = domain.MeetingStatus
graphql_enum(
    MeetingStatus,
    name="MeetingStatus",
    values={
        domain.MeetingStatus.SCHEDULED: "The meeting takes place; changes still go to every calendar copy.",
        domain.MeetingStatus.CANCELLED: "The organizer cancelled it (or deleted it from their calendar).",
    },
)
ParticipantResponse = domain.ParticipantResponse
graphql_enum(
    ParticipantResponse,
    name="ParticipantResponse",
    values={
        domain.ParticipantResponse.NEEDS_ACTION: "Not answered yet.",
        domain.ParticipantResponse.ACCEPTED: "Will attend (the organizer always has this answer).",
        domain.ParticipantResponse.TENTATIVE: "Might attend.",
        domain.ParticipantResponse.DECLINED: "Will not attend; the meeting left their calendar.",
    },
)
CalendarDelivery = domain.Delivery
graphql_enum(
    CalendarDelivery,
    name="CalendarDelivery",
    description="How a participant receives the meeting in a calendar.",
    values={
        domain.Delivery.OWN_CALENDAR: "Written to the participant's own linked calendar.",
        domain.Delivery.INVITATION: "Invited as an attendee of the event in the host calendar.",
        domain.Delivery.NONE: "No linked calendar can carry it.",
    },
)
CalendarSyncStatus = domain.SyncStatus
graphql_enum(
    CalendarSyncStatus,
    name="CalendarSyncStatus",
    values={
        domain.SyncStatus.PENDING: "The calendar does not show the meeting's latest version yet; the worker is on it.",
        domain.SyncStatus.SYNCED: "The calendar shows the meeting's latest version (or nothing is owed to it).",
        domain.SyncStatus.FAILED: "Writing it failed for good; `lastError` says why.",
    },
)


@strawberry.type(description="Where one participant's calendar copy of the meeting stands.")
class CalendarEventSync:
    id: strawberry.ID = strawberry.field(
        description="Stable and globally unique: this participant's copy of this meeting (a cache key, not a Node)."
    )
    delivery: CalendarDelivery
    status: CalendarSyncStatus
    last_error: str | None = strawberry.field(
        description="A short, safe description of the last failure; never upstream bodies or tokens."
    )
    synced_at: datetime | None


@strawberry.type(description="Someone in a meeting: a platform user or an e-mail address.")
class Participant:
    id: strawberry.ID = strawberry.field(
        description="Stable and globally unique: this participant of this meeting (a cache key, not a Node)."
    )
    user_id: strawberry.ID | None = strawberry.field(description="The platform user, when the participant is one.")
    email: str
    display_name: str | None
    is_organizer: bool
    response: ParticipantResponse
    calendar_event: CalendarEventSync

    @classmethod
    def of(cls, meeting: domain.Meeting, index: int) -> Participant:
        participant = meeting.participants[index]
        sync = meeting.sync_of(participant)
        return cls(
            id=strawberry.ID(encode_id(PARTICIPANT, join(meeting.id, index))),
            user_id=strawberry.ID(participant.user_id) if participant.user_id else None,
            email=participant.email,
            display_name=participant.display_name,
            is_organizer=participant.is_organizer,
            response=participant.response,
            calendar_event=CalendarEventSync(
                id=strawberry.ID(encode_id(CALENDAR_EVENT_SYNC, join(meeting.id, index))),
                delivery=participant.delivery,
                status=sync.status,
                last_error=sync.last_error,
                synced_at=sync.synced_at,
            ),
        )


@strawberry.type(description="A meeting the signed-in user organizes or takes part in.")
class Meeting(Node):
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
        participants = [Participant.of(meeting, i) for i in range(len(meeting.participants))]
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


graphql_enum(
    MeetingChangeKind,
    name="MeetingChangeKind",
    values={
        MeetingChangeKind.SCHEDULED: "The meeting was scheduled.",
        MeetingChangeKind.UPDATED: "Its time or details changed (through the API or in a calendar), or its people did.",
        MeetingChangeKind.CANCELLED: "It was cancelled (by the organizer, or by deleting it from the host calendar).",
        MeetingChangeKind.RESPONDED: "A participant answered (accepted, tentative or declined), here or in a calendar.",
        MeetingChangeKind.SYNC_STATUS: "A calendar copy's sync status changed (`calendarEvent`: status, lastError, "
        "syncedAt).",
    },
)


@strawberry.type(description="A meeting the signed-in user takes part in changed (subscription payload).")
class MeetingChange:
    kind: MeetingChangeKind
    meeting_id: strawberry.ID = strawberry.field(description="The meeting's id, also when `meeting` is null.")
    meeting: Meeting | None = strawberry.field(
        description="The meeting as it is now; null when the signed-in user is no longer in it."
    )

    @classmethod
    def of(cls, update: MeetingUpdate) -> MeetingChange:
        return cls(
            kind=update.kind,
            meeting_id=strawberry.ID(encode_id(MEETING, update.meeting_id)),
            meeting=Meeting.of(update.meeting) if update.meeting else None,
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

    @classmethod
    def empty(cls) -> MeetingConnection:
        return cls(edges=[], page_info=PageInfo(has_next_page=False, end_cursor=None))


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
