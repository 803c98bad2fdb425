"""Scheduling, changing and cancelling meetings; reading them back page by page."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from ..domain.authorization import check_organizer, check_partners
from ..domain.changes import MeetingChangeKind, meeting_change
from ..domain.errors import BadArgument, ErrorCode, InvalidInput, UserFacingError
from ..domain.identity import User
from ..domain.meetings import Meeting, MeetingParticipant, MeetingStatus, ParticipantResponse
from ..domain.planning import plan_copies
from ..domain.responses import answered
from ..domain.time import Clock, whole_seconds
from ..domain.validation import (
    MeetingChanges,
    MeetingRequest,
    check_changes,
    check_participants,
    check_request,
    normalized_changes,
)
from .calendar_writes import CalendarWrites
from .live import SILENT, Announcer
from .ports import ConnectionRepository, MeetingRepository, OutboxRepository

MAX_PAGE = 100
DEFAULT_PAGE = 20
MAX_VERSION_RACES = 3
EDITABLE = ("title", "description", "location", "start", "end", "time_zone")


@dataclasses.dataclass(frozen=True)
class MeetingPage:
    meetings: list[Meeting]
    has_next_page: bool


class Meetings:
    def __init__(
        self,
        *,
        meetings: MeetingRepository,
        outbox: OutboxRepository,
        connections: ConnectionRepository,
        writes: CalendarWrites,
        clock: Clock,
        grace_seconds: float,
        announce: Announcer = SILENT,
    ) -> None:
        self._meetings = meetings
        self._outbox = outbox
        self._connections = connections
        self._writes = writes
        self._clock = clock
        self._grace_seconds = grace_seconds
        self._announce = announce

    async def outbox_stats(self) -> tuple[int, datetime | None]:
        return await self._outbox.outbox_stats()

    async def get(self, user: User, meeting_id: str) -> Meeting | None:
        return await self._meetings.for_participant(user.id, meeting_id)

    async def get_many(self, user: User, meeting_ids: Sequence[str]) -> dict[str, Meeting]:
        """The meetings among `meeting_ids` that `user` takes part in, by id (one read)."""
        return {m.id: m for m in await self._meetings.for_participant_many(user.id, meeting_ids)}

    async def page(
        self,
        user: User,
        *,
        first: int | None,
        after: tuple[datetime, str] | None,
        status: MeetingStatus | None,
        ends_from: datetime | None,
        starts_before: datetime | None,
    ) -> MeetingPage:
        """Keyset pages by (start, id); `after` is the position of the last meeting already seen."""
        first = DEFAULT_PAGE if first is None else first
        if not 1 <= first <= MAX_PAGE:
            raise BadArgument(f"`first` must be between 1 and {MAX_PAGE}.")
        for name, moment in (("from", ends_from), ("to", starts_before)):
            if moment is not None and moment.tzinfo is None:
                raise BadArgument(f"`filter.{name}` needs an explicit UTC offset.")
        found = await self._meetings.page_for_participant(
            user.id, limit=first + 1, after=after, status=status, ends_from=ends_from, starts_before=starts_before
        )
        return MeetingPage(meetings=found[:first], has_next_page=len(found) > first)

    async def schedule(self, user: User, request: MeetingRequest) -> Meeting:
        errors = check_request(user, request)
        errors += [e for e in check_partners(user, request.participants) if e.field not in {f.field for f in errors}]
        if errors:
            raise InvalidInput(errors)
        key = request.idempotency_key
        if key is not None:
            earlier = await self._meetings.by_idempotency_key(user.id, key)
            if earlier is not None:
                return earlier

        active = await self._connections.calendars_for_users(
            [user.id] + [p.user_id for p in request.participants if p.user_id]
        )
        organizer_email = user.email or (active[user.id].profile_name if user.id in active else None)
        if not organizer_email:
            raise UserFacingError(
                ErrorCode.NOT_ALLOWED, "Your account has no e-mail address to send meeting invitations from."
            )
        if not user.email:  # the address came from the calendar: nobody may be invited to it a second time
            errors = check_participants(dataclasses.replace(user, email=organizer_email), request.participants)
            if errors:
                raise InvalidInput(errors)
        everyone = [
            MeetingParticipant(
                email=organizer_email,
                user_id=user.id,
                display_name=user.name,
                is_organizer=True,
                response=ParticipantResponse.ACCEPTED,
            )
        ]
        everyone += [
            MeetingParticipant(email=p.email.strip(), user_id=p.user_id or None, display_name=p.display_name or None)
            for p in request.participants
        ]
        placed, copies = plan_copies(everyone, active)
        now = self._clock()
        meeting = Meeting(
            id=self._meetings.new_id(),
            organizer_id=user.id,
            title=request.title.strip(),
            description=request.description or None,
            location=request.location or None,
            start=whole_seconds(request.start),
            end=whole_seconds(request.end),
            time_zone=request.time_zone,
            status=MeetingStatus.SCHEDULED,
            participants=tuple(placed),
            copies=tuple(copies),
            version=1,
            created_at=now,
            updated_at=now,
        )
        stored = await self._meetings.insert(meeting, idempotency_key=key, now=now)
        if stored is None and key is not None:  # a concurrent retry with the same key won
            earlier = await self._meetings.by_idempotency_key(user.id, key)
            if earlier is not None:
                return earlier
        await self._announce(meeting_change(MeetingChangeKind.SCHEDULED, meeting))
        return await self._written_soon(meeting)

    async def update(self, user: User, meeting_id: str, changes: MeetingChanges) -> Meeting:
        """Only the organizer changes a meeting. Fields sent with the values they already have change
        nothing, and cost no calendar write."""
        for _ in range(MAX_VERSION_RACES):  # the checks hold for the version they were made against
            meeting = await self._existing(user, meeting_id)
            check_organizer(meeting, user.id)
            current = {name: getattr(meeting, name) for name in EDITABLE}
            errors = check_changes(current, changes)
            if errors:
                raise InvalidInput(errors)
            fields = {name: value for name, value in normalized_changes(changes).items() if value != current[name]}
            if not fields:
                return meeting
            changed = await self._meetings.change(meeting, fields, now=self._clock())
            if changed is not None:
                await self._announce(meeting_change(MeetingChangeKind.UPDATED, changed))
                return await self._written_soon(changed)
        raise UserFacingError(ErrorCode.UPSTREAM_UNAVAILABLE, "The meeting is changing too often; try again.")

    async def cancel(self, user: User, meeting_id: str) -> Meeting:
        """Only the organizer cancels; every copy then leaves its calendar."""
        for _ in range(MAX_VERSION_RACES):
            meeting = await self._existing(user, meeting_id)
            check_organizer(meeting, user.id)
            now = self._clock()
            cancelled = await self._meetings.change(
                meeting, {"status": MeetingStatus.CANCELLED, "cancelled_at": now}, now=now
            )
            if cancelled is not None:
                await self._announce(meeting_change(MeetingChangeKind.CANCELLED, cancelled))
                return await self._written_soon(cancelled)
        raise UserFacingError(ErrorCode.UPSTREAM_UNAVAILABLE, "The meeting is changing too often; try again.")

    async def respond(self, user: User, meeting_id: str, response: ParticipantResponse) -> Meeting:
        """A participant other than the organizer answers (DESIGN.md §9)."""
        for _ in range(MAX_VERSION_RACES):
            meeting = await self._existing(user, meeting_id)
            after = answered(meeting, user.id, response)
            if after is meeting:
                return meeting
            if await self._meetings.save_answer(meeting, after, now=self._clock()):
                await self._announce(meeting_change(MeetingChangeKind.RESPONDED, after))
                return await self._written_soon(after) if after.pending_copies() else after
        raise UserFacingError(ErrorCode.UPSTREAM_UNAVAILABLE, "The meeting is changing too often; try again.")

    async def _existing(self, user: User, meeting_id: str) -> Meeting:
        meeting = await self._meetings.for_participant(user.id, meeting_id)
        if meeting is None:
            raise UserFacingError(ErrorCode.NOT_FOUND, "No such meeting.", ["meeting_id"])
        if meeting.status is MeetingStatus.CANCELLED:
            raise UserFacingError(ErrorCode.ALREADY_CANCELLED, "This meeting is already cancelled.", ["meeting_id"])
        return meeting

    async def _written_soon(self, meeting: Meeting) -> Meeting:
        """Give a fast Cronofy a moment so the answer can already say SYNCED; never wait longer."""
        if not meeting.copies:
            return meeting
        written = await self._writes.write_soon(meeting, grace=self._grace_seconds)
        return written or await self._meetings.get(meeting.id) or meeting
