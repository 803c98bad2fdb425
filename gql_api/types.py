"""GraphQL types, inputs and payloads of the client contract (../shared/contract.graphql)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import strawberry

from . import models
from .errors import ErrorCode, UserFacingError
from .ids import encode_id

CONNECTION_ID_KIND = "CalendarConnection"
MEETING_ID_KIND = "Meeting"


# --- scalars -------------------------------------------------------------------------------

MIN_YEAR, MAX_YEAR = 1900, 9000  # far beyond any meeting, and safe from overflow in any arithmetic

def _serialize_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    utc = value.astimezone(timezone.utc)
    return utc.isoformat(timespec="milliseconds" if utc.microsecond else "seconds").replace("+00:00", "Z")


def _parse_datetime(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO 8601 string, e.g. 2026-11-24T09:30:00Z")
    try:
        parsed = datetime.fromisoformat(value)
        parsed.astimezone(timezone.utc)  # instants at the edges of year 1 or 9999 do not exist in UTC
    except (ValueError, OverflowError):
        raise ValueError(f"DateTime is not an ISO 8601 instant: {value[:40]!r}") from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise ValueError(f"DateTime must fall in the years {MIN_YEAR} to {MAX_YEAR}")
    return parsed  # without an offset it stays naive: services answer that with a UserError on its field


DateTimeScalar = strawberry.scalar(
    name="DateTime",
    description="An instant with an explicit UTC offset, ISO 8601, e.g. 2026-11-24T09:30:00Z.",
    serialize=_serialize_datetime,
    parse_value=_parse_datetime,
)
SCALARS = {datetime: DateTimeScalar}


# --- errors --------------------------------------------------------------------------------

UserErrorCode = strawberry.enum(ErrorCode, name="UserErrorCode")


@strawberry.type(description="An expected failure the client can act on. Unexpected failures are GraphQL "
                             "errors with masked messages.")
class UserError:
    code: UserErrorCode
    message: str
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault, e.g. ["input", "end"].'
    )

    @classmethod
    def all_of(cls, error: UserFacingError) -> list[UserError]:
        return [cls(code=e.code, message=e.message, field=list(e.field) if e.field else None) for e in error.errors]


# --- calendar connections ------------------------------------------------------------------

CalendarProvider = strawberry.enum(models.CalendarProvider, name="CalendarProvider")
CalendarConnectionStatus = strawberry.enum(
    models.ConnectionStatus,
    name="CalendarConnectionStatus",
    description="ACTIVE: credentials work and meetings are written to the calendar. NEEDS_RELINK: Cronofy or the "
                "provider no longer accepts the credentials; link the same account again.",
)


@strawberry.type
class Calendar:
    id: strawberry.ID
    name: str
    primary: bool


@strawberry.type
class CalendarConnection:
    id: strawberry.ID
    provider: CalendarProvider
    profile_name: str = strawberry.field(description="The account as the provider shows it, usually an e-mail address.")
    status: CalendarConnectionStatus
    scopes: list[str] = strawberry.field(description="Cronofy scopes granted to this connection.")
    calendar: Calendar | None = strawberry.field(description="The calendar that receives meeting events.")
    linked_at: datetime
    last_synced_at: datetime | None = strawberry.field(
        description="Last time changes from this calendar were read successfully."
    )

    @classmethod
    def of(cls, connection: models.CalendarConnection) -> CalendarConnection:
        target = connection.calendar
        return cls(
            id=strawberry.ID(encode_id(CONNECTION_ID_KIND, connection.id)),
            provider=connection.provider,
            profile_name=connection.profile_name,
            status=connection.status,
            scopes=list(connection.scopes),
            calendar=Calendar(id=strawberry.ID(target.id), name=target.name, primary=target.primary) if target else None,
            linked_at=connection.linked_at,
            last_synced_at=connection.last_synced_at,
        )


@strawberry.input
class BeginCalendarLinkInput:
    redirect_uri: str = strawberry.field(description="Must be one of the server's allowed redirect URIs.")
    provider: CalendarProvider | None = strawberry.field(
        default=strawberry.UNSET, description="Pre-selects a provider on Cronofy's page."
    )


@strawberry.type
class BeginCalendarLinkPayload:
    authorization_url: str | None = None
    expires_at: datetime | None = strawberry.field(
        default=None, description="After this the state in the URL is no longer accepted."
    )
    user_errors: list[UserError] = dataclasses.field(default_factory=list)


@strawberry.input
class LinkCalendarInput:
    code: str
    state: str


@strawberry.type
class LinkCalendarPayload:
    connection: CalendarConnection | None = None
    user_errors: list[UserError] = dataclasses.field(default_factory=list)


@strawberry.input
class UnlinkCalendarInput:
    connection_id: strawberry.ID


@strawberry.type
class UnlinkCalendarPayload:
    unlinked_connection_id: strawberry.ID | None = None
    user_errors: list[UserError] = dataclasses.field(default_factory=list)


# --- meetings ------------------------------------------------------------------------------

MeetingStatus = strawberry.enum(models.MeetingStatus, name="MeetingStatus")
ParticipantResponse = strawberry.enum(models.ParticipantResponse, name="ParticipantResponse")
CalendarDelivery = strawberry.enum(
    models.Delivery,
    name="CalendarDelivery",
    description="How a participant receives the meeting in a calendar. OWN_CALENDAR: written to the participant's "
                "own linked calendar. INVITATION: invited as an attendee of the event in the host calendar. "
                "NONE: no linked calendar can carry it.",
)
CalendarSyncStatus = strawberry.enum(models.SyncStatus, name="CalendarSyncStatus")


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
    def of(cls, meeting: models.Meeting) -> Meeting:
        participants = [_participant(meeting, p) for p in meeting.participants]
        return cls(
            id=strawberry.ID(encode_id(MEETING_ID_KIND, meeting.id)),
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


def _participant(meeting: models.Meeting, participant: models.MeetingParticipant) -> Participant:
    sync = meeting.sync_of(participant)
    return Participant(
        user_id=strawberry.ID(participant.user_id) if participant.user_id else None,
        email=participant.email,
        display_name=participant.display_name,
        is_organizer=participant.is_organizer,
        response=participant.response,
        calendar_event=CalendarEventSync(delivery=participant.delivery, status=sync.status,
                                         last_error=sync.last_error, synced_at=sync.synced_at),
    )


@strawberry.input
class MeetingFilter:
    status: MeetingStatus | None = strawberry.UNSET
    from_: datetime | None = strawberry.field(name="from", default=strawberry.UNSET,
                                              description="Meetings that end at or after this instant.")
    to: datetime | None = strawberry.field(default=strawberry.UNSET, description="Meetings that start before this instant.")


@strawberry.type
class MeetingEdge:
    cursor: str
    node: Meeting


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


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
        default=strawberry.UNSET, description="Retrying with the same key returns the first result instead of a second meeting."
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


@strawberry.type
class UpdateMeetingPayload:
    meeting: Meeting | None = None
    user_errors: list[UserError] = dataclasses.field(default_factory=list)


@strawberry.input
class CancelMeetingInput:
    meeting_id: strawberry.ID


@strawberry.type
class CancelMeetingPayload:
    meeting: Meeting | None = None
    user_errors: list[UserError] = dataclasses.field(default_factory=list)
