"""Scheduling, changing and cancelling meetings, and deciding which calendar gets which copy."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import importlib.resources
import re
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId

from ..auth import User
from ..errors import BadArgument, ErrorCode, InvalidInput, UserFacingError
from ..models import (
    CalendarConnection,
    CalendarCopy,
    Clock,
    Delivery,
    Meeting,
    MeetingParticipant,
    MeetingStatus,
    ParticipantResponse,
)
from ..store import ConnectionStore, MeetingStore
from .calendar_sync import CalendarSync

MAX_TITLE = 1024
MAX_DESCRIPTION = 4096
MAX_LOCATION = 1024
MAX_DISPLAY_NAME = 256
MAX_EMAIL = 254
MAX_PARTICIPANTS = 50
MAX_IDEMPOTENCY_KEY = 255
MAX_PAGE = 100
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

UNCHANGED: Any = object()  # an update field the client did not send


@dataclasses.dataclass(frozen=True)
class ParticipantRequest:
    email: str
    user_id: str | None = None
    display_name: str | None = None


@dataclasses.dataclass(frozen=True)
class MeetingChanges:
    """An update: each field is a new value, or UNCHANGED. None clears description and location."""

    title: Any = UNCHANGED
    description: Any = UNCHANGED
    location: Any = UNCHANGED
    start: Any = UNCHANGED
    end: Any = UNCHANGED
    time_zone: Any = UNCHANGED


@dataclasses.dataclass(frozen=True)
class MeetingPage:
    meetings: list[Meeting]
    has_next_page: bool

    @staticmethod
    def cursor(meeting: Meeting) -> str:
        key = f"{int(meeting.start.timestamp() * 1000)}:{meeting.id}"
        return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


class MeetingService:
    def __init__(self, *, meetings: MeetingStore, connections: ConnectionStore, sync: CalendarSync, clock: Clock,
                 grace_seconds: float) -> None:
        self._meetings = meetings
        self._connections = connections
        self._sync = sync
        self._clock = clock
        self._grace_seconds = grace_seconds

    async def outbox_stats(self) -> tuple[int, datetime | None]:
        return await self._meetings.outbox_stats()

    async def get(self, user: User, meeting_id: str) -> Meeting | None:
        return await self._meetings.for_participant(user.id, meeting_id)

    async def page(self, user: User, *, first: int | None, after: str | None, status: MeetingStatus | None,
                   ends_from: datetime | None, starts_before: datetime | None) -> MeetingPage:
        first = 20 if first is None else first
        if not 1 <= first <= MAX_PAGE:
            raise BadArgument(f"`first` must be between 1 and {MAX_PAGE}.")
        for name, moment in (("from", ends_from), ("to", starts_before)):
            if moment is not None and moment.tzinfo is None:
                raise BadArgument(f"`filter.{name}` needs an explicit UTC offset.")
        found = await self._meetings.page_for_participant(
            user.id, limit=first + 1, after=_decode_cursor(after) if after else None, status=status,
            ends_from=ends_from, starts_before=starts_before,
        )
        return MeetingPage(meetings=found[:first], has_next_page=len(found) > first)

    async def schedule(self, user: User, *, title: str, description: str | None, location: str | None,
                       start: datetime, end: datetime, time_zone: str, participants: Sequence[ParticipantRequest],
                       idempotency_key: str | None) -> Meeting:
        errors = _check_details(title=title, description=description, location=location, start=start, end=end,
                                time_zone=time_zone)
        errors += _check_participants(user, participants)
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
            errors.append(_invalid("idempotencyKey", f"Use 1 to {MAX_IDEMPOTENCY_KEY} characters."))
        if errors:
            raise InvalidInput(errors)
        if idempotency_key is not None:
            earlier = await self._meetings.by_idempotency_key(user.id, idempotency_key)
            if earlier is not None:
                return earlier

        active = await self._connections.active_for_users(
            [user.id] + [p.user_id for p in participants if p.user_id]
        )
        organizer_email = user.email or (active[user.id].profile_name if user.id in active else None)
        if not organizer_email:
            raise UserFacingError(ErrorCode.NOT_ALLOWED,
                                  "Your account has no e-mail address to send meeting invitations from.")
        everyone = [MeetingParticipant(email=organizer_email, user_id=user.id, display_name=user.name,
                                       is_organizer=True, response=ParticipantResponse.ACCEPTED)]
        everyone += [MeetingParticipant(email=p.email.strip(), user_id=p.user_id or None,
                                        display_name=p.display_name or None) for p in participants]
        placed, copies = plan_copies(everyone, active)
        now = self._clock()
        meeting = Meeting(
            id=str(ObjectId()), organizer_id=user.id, title=title.strip(), description=description or None,
            location=location or None, start=_whole_seconds(start), end=_whole_seconds(end), time_zone=time_zone,
            status=MeetingStatus.SCHEDULED, participants=tuple(placed), copies=tuple(copies), version=1,
            created_at=now, updated_at=now,
        )
        stored = await self._meetings.insert(meeting, idempotency_key=idempotency_key, now=now)
        if stored is None:  # a concurrent retry with the same key won
            return await self._meetings.by_idempotency_key(user.id, idempotency_key)  # type: ignore[arg-type]
        return await self._synced_soon(meeting)

    async def update(self, user: User, meeting_id: str, changes: MeetingChanges) -> Meeting:
        for _ in range(3):  # the checks hold for the version they were made against
            meeting = await self._existing(user, meeting_id)
            merged = {field.name: getattr(meeting, field.name) if getattr(changes, field.name) is UNCHANGED
                      else getattr(changes, field.name) for field in dataclasses.fields(changes)}
            errors = _check_details(**merged)
            errors += [_invalid(name, "This field cannot be null.") for name in ("title", "start", "end", "time_zone")
                       if getattr(changes, name) is None]
            if errors:
                raise InvalidInput(errors)
            fields = {field.name: _stored(field.name, getattr(changes, field.name))
                      for field in dataclasses.fields(changes) if getattr(changes, field.name) is not UNCHANGED}
            if not fields:
                return meeting
            changed = await self._meetings.change(user.id, meeting_id, fields, now=self._clock(),
                                                  expected_version=meeting.version)
            if changed is not None:
                return await self._synced_soon(changed)
        raise UserFacingError(ErrorCode.UPSTREAM_UNAVAILABLE, "The meeting is changing too often; try again.")

    async def cancel(self, user: User, meeting_id: str) -> Meeting:
        now = self._clock()
        cancelled = await self._meetings.change(
            user.id, meeting_id, {"status": MeetingStatus.CANCELLED.value, "cancelled_at": now}, now=now
        )
        if cancelled is None:
            await self._existing(user, meeting_id)  # says NOT_FOUND or ALREADY_CANCELLED
            raise UserFacingError(ErrorCode.ALREADY_CANCELLED, "This meeting is already cancelled.",
                                  ["input", "meetingId"])
        return await self._synced_soon(cancelled)

    async def _existing(self, user: User, meeting_id: str) -> Meeting:
        meeting = await self._meetings.for_participant(user.id, meeting_id)
        if meeting is None:
            raise UserFacingError(ErrorCode.NOT_FOUND, "No such meeting.", ["input", "meetingId"])
        if meeting.status is MeetingStatus.CANCELLED:
            raise UserFacingError(ErrorCode.ALREADY_CANCELLED, "This meeting is already cancelled.",
                                  ["input", "meetingId"])
        return meeting

    async def _synced_soon(self, meeting: Meeting) -> Meeting:
        """Give a fast Cronofy a moment so the answer can already say SYNCED; never wait longer."""
        if not meeting.copies:
            return meeting
        synced = await self._sync.sync_soon(meeting.id, grace=self._grace_seconds)
        return synced or await self._meetings.get(meeting.id) or meeting


def plan_copies(participants: list[MeetingParticipant], active: dict[str, CalendarConnection]
                ) -> tuple[list[MeetingParticipant], list[CalendarCopy]]:
    """Exactly one copy per participant (DESIGN.md §5). The host calendar is the organizer's ACTIVE
    connection, else the first participant's that has one; participants with their own ACTIVE connection
    get the event there, the others are invited on the host event; with no connection at all, NONE."""
    host = next((i for i, p in enumerate(participants) if p.user_id in active), None)
    if host is None:
        return [dataclasses.replace(p, delivery=Delivery.NONE, copy=None) for p in participants], []
    copies: list[CalendarCopy] = []
    owners: dict[int, int] = {}
    for i, participant in enumerate(participants):
        connection = active.get(participant.user_id) if participant.user_id else None
        if connection is not None and connection.calendar is not None:
            owners[i] = len(copies)
            copies.append(CalendarCopy(connection_id=connection.id, calendar_id=connection.calendar.id,
                                       is_host=i == host))
    placed = [
        dataclasses.replace(p, delivery=Delivery.OWN_CALENDAR, copy=owners[i]) if i in owners
        else dataclasses.replace(p, delivery=Delivery.INVITATION, copy=owners[host])
        for i, p in enumerate(participants)
    ]
    return placed, copies


def _invalid(field: str | Sequence[str | int], message: str, code: ErrorCode = ErrorCode.INVALID_INPUT
             ) -> UserFacingError:
    path = [field] if isinstance(field, str) else list(field)
    return UserFacingError(code, message, ["input", *[_camel(str(part)) for part in path]])


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _check_details(*, title: str, description: str | None, location: str | None, start: datetime, end: datetime,
                   time_zone: str) -> list[UserFacingError]:
    errors = []
    if title is not None and not 1 <= len(title.strip()) <= MAX_TITLE:
        errors.append(_invalid("title", f"The title needs 1 to {MAX_TITLE} characters."))
    if description is not None and len(description) > MAX_DESCRIPTION:
        errors.append(_invalid("description", f"The description may have at most {MAX_DESCRIPTION} characters."))
    if location is not None and len(location) > MAX_LOCATION:
        errors.append(_invalid("location", f"The location may have at most {MAX_LOCATION} characters."))
    aware = True
    for name, moment in (("start", start), ("end", end)):
        if moment is not None and moment.tzinfo is None:
            aware = False
            errors.append(_invalid(name, "Give the time with an explicit UTC offset, e.g. 2026-11-24T09:30:00Z."))
    if aware and start is not None and end is not None and end <= start:
        errors.append(_invalid("end", "The meeting must end after it starts.", ErrorCode.INVALID_TIME_RANGE))
    if time_zone is not None and not _is_time_zone(time_zone):
        errors.append(_invalid("time_zone", "Use an IANA time zone such as Europe/London.", ErrorCode.INVALID_TIME_ZONE))
    return errors


def _check_participants(user: User, participants: Sequence[ParticipantRequest]) -> list[UserFacingError]:
    if not participants:
        return [_invalid("participants", "Invite at least one participant.")]
    if len(participants) > MAX_PARTICIPANTS:
        return [_invalid("participants", f"A meeting may have at most {MAX_PARTICIPANTS} participants.")]
    errors = []
    seen_emails = {user.email.strip().lower()} if user.email else set()
    seen_users = {user.id}
    for i, participant in enumerate(participants):
        email = participant.email.strip()
        if len(email) > MAX_EMAIL or not EMAIL.match(email):
            errors.append(_invalid(("participants", i, "email"), "This is not an e-mail address."))
        elif email.lower() in seen_emails:
            errors.append(_invalid(("participants", i, "email"), "This e-mail address is already in the meeting."))
        seen_emails.add(email.lower())
        if participant.user_id is not None:
            if not participant.user_id.strip() or participant.user_id in seen_users:
                errors.append(_invalid(("participants", i, "user_id"),
                                       "This user is already in the meeting (the organizer is added for you)."))
            seen_users.add(participant.user_id)
        if participant.display_name is not None and len(participant.display_name) > MAX_DISPLAY_NAME:
            errors.append(_invalid(("participants", i, "display_name"),
                                   f"Use at most {MAX_DISPLAY_NAME} characters."))
    return errors


@functools.cache
def _time_zones() -> frozenset[str]:
    # The IANA names as the tzdata package lists them: the same on every machine, and none of the
    # files a system zone directory also holds ("Europe" is a directory, "localtime" a link).
    return frozenset(importlib.resources.files("tzdata").joinpath("zones").read_text().split())


def _is_time_zone(name: str) -> bool:
    return name in _time_zones()


def _whole_seconds(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(microsecond=0)


def _stored(name: str, value: Any) -> Any:
    if name in ("start", "end"):
        return _whole_seconds(value)
    if name == "title":
        return value.strip()
    if name in ("description", "location"):
        return value or None
    return value


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        millis, _, raw_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition(":")
        ObjectId(raw_id)
        return datetime.fromtimestamp(int(millis) / 1000, tz=timezone.utc), raw_id
    except (binascii.Error, ValueError, UnicodeDecodeError, TypeError, OverflowError, OSError, InvalidId):
        raise BadArgument("`after` is not a cursor this API gave out.") from None
