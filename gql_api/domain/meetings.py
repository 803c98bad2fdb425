"""Meetings, their participants, and one calendar copy per calendar that carries the meeting.

A copy's sync state is relative to the meeting's `version`: every change to the meeting is a new
version, which makes every copy pending again; a copy is SYNCED once it carries the current version,
FAILED once the retry budget for the current version ran out (DESIGN.md §5, §7).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from datetime import UTC, datetime, timedelta


class MeetingStatus(enum.Enum):
    SCHEDULED = "SCHEDULED"
    CANCELLED = "CANCELLED"


class ParticipantResponse(enum.Enum):
    NEEDS_ACTION = "NEEDS_ACTION"
    ACCEPTED = "ACCEPTED"
    TENTATIVE = "TENTATIVE"
    DECLINED = "DECLINED"


class Delivery(enum.Enum):
    OWN_CALENDAR = "OWN_CALENDAR"
    INVITATION = "INVITATION"
    NONE = "NONE"


class SyncStatus(enum.Enum):
    PENDING = "PENDING"
    SYNCED = "SYNCED"
    FAILED = "FAILED"


@dataclasses.dataclass(frozen=True)
class CalendarCopy:
    """One event in one calendar, and where writing the meeting's current version to it stands."""

    connection_id: str
    calendar_id: str
    is_host: bool
    synced_version: int = 0
    synced_at: datetime | None = None
    attempt_version: int = 0
    attempts: int = 0
    next_attempt_at: datetime | None = None
    failed_version: int = 0
    last_error: str | None = None
    removed: bool = False  # not in its calendar any more (its owner declined): left alone from then on
    written: str | None = None  # fingerprint of what we last wrote there: reading it back is no edit
    written_fields: tuple[str, ...] | None = None  # the same, field by field (CONTENT_FIELDS), for edits
    withdrawn: bool = False  # its owner declined through the API: delete it from the calendar, then removed
    sent: bool = False  # a write of it went to Cronofy at least once: the calendar may hold it
    written_event: str | None = None  # fingerprint of the whole event last written (attendees included)

    def status(self, version: int) -> SyncStatus:
        if self.removed or self.synced_version >= version:
            return SyncStatus.SYNCED
        if self.failed_version >= version:
            return SyncStatus.FAILED
        return SyncStatus.PENDING

    def backing_off(self, version: int, now: datetime) -> bool:
        """A failed attempt on this version waits until `next_attempt_at`."""
        return self.attempt_version == version and self.next_attempt_at is not None and self.next_attempt_at > now

    def written_ok(self, version: int, content: Content, now: datetime, *, event: str | None = None) -> CalendarCopy:
        """The calendar now holds `version`, whose content is `content` and whole event `event` (or, withdrawn,
        no longer the event)."""
        return dataclasses.replace(
            self,
            sent=True,
            written_event=event,
            removed=self.removed or self.withdrawn,
            synced_version=version,
            synced_at=now,
            attempt_version=0,
            attempts=0,
            next_attempt_at=None,
            last_error=None,
            written=content.fingerprint,
            written_fields=content.fields,
        )

    def attempt_failed(
        self, version: int, error: str, *, retry_in: timedelta | None, max_attempts: int, now: datetime
    ) -> CalendarCopy:
        """One more failed attempt on `version`. A failure worth retrying (`retry_in` given) waits that
        long, until the budget of `max_attempts` is spent; any other failure is final for this version."""
        attempts = (self.attempts if self.attempt_version == version else 0) + 1
        exhausted = retry_in is None or attempts >= max_attempts
        return dataclasses.replace(
            self,
            sent=True,
            attempt_version=version,
            attempts=attempts,
            next_attempt_at=None if exhausted or retry_in is None else now + retry_in,
            failed_version=version if exhausted else self.failed_version,
            last_error=error if exhausted else f"{error} Retrying.",
        )

    def failed_for_good(self, version: int) -> bool:
        return self.failed_version >= version

    def deferred(self, version: int, until: datetime) -> CalendarCopy:
        """Not sent: the rate budget's background share was spent. Due again `until`, and no attempt spent."""
        attempts = self.attempts if self.attempt_version == version else 0
        return dataclasses.replace(self, attempt_version=version, attempts=attempts, next_attempt_at=until)

    def needs_no_call(self, *, delete: bool, event: str) -> bool:
        """Writing it would change nothing in its calendar: a delete of a copy that never went to Cronofy,
        or an upsert of the very event last written there."""
        if delete:
            return self.never_sent
        return self.written_event == event and not self.removed

    @property
    def never_sent(self) -> bool:
        """No write of it ever went to Cronofy (copies stored before `sent` existed count as sent when
        anything says they were written or tried)."""
        tried = self.sent or self.written is not None or self.synced_version > 0 or self.attempt_version > 0
        return not tried

    def up_to_date(self, version: int, now: datetime) -> CalendarCopy:
        """Carries `version` without a call (its calendar already shows it)."""
        return dataclasses.replace(
            self,
            synced_version=version,
            synced_at=self.synced_at or now,
            attempt_version=0,
            attempts=0,
            next_attempt_at=None,
            last_error=None,
            removed=self.removed or self.withdrawn,
        )

    def carried_to(self, old: int, new: int) -> CalendarCopy:
        """The same state under a new version of the meeting that does not change this copy's content:
        written, failed or backing off on `old` stays so on `new` (no write it does not need)."""
        return dataclasses.replace(
            self,
            synced_version=new if self.synced_version >= old else self.synced_version,
            failed_version=new if self.failed_version >= old else self.failed_version,
            attempt_version=new if self.attempt_version == old else self.attempt_version,
        )

    def restored(self) -> CalendarCopy:
        """Back in its calendar: its owner accepted after declining."""
        return dataclasses.replace(self, removed=False, withdrawn=False)


CONTENT_FIELDS = ("title", "description", "location", "start", "end")


@dataclasses.dataclass(frozen=True)
class Content:
    """What a calendar event says about a meeting, as short hashes: of it all, and of each of CONTENT_FIELDS
    (so a copy's own edits can be told from changes of ours that had not reached it yet)."""

    fingerprint: str
    fields: tuple[str, ...]

    @classmethod
    def of(
        cls,
        title: str | None,
        description: str | None,
        location: str | None,
        start: datetime | None,
        end: datetime | None,
    ) -> Content:
        canonical = _canonical(title, description, location, start, end)
        return cls(_hash(json.dumps(canonical), 32), tuple(_hash(json.dumps(value), 12) for value in canonical))


def _canonical(
    title: str | None, description: str | None, location: str | None, start: datetime | None, end: datetime | None
) -> list[str | None]:
    """Our writes are whole seconds in UTC, and an empty text is no text."""

    def moment(value: datetime | None) -> str | None:
        return value.astimezone(UTC).replace(microsecond=0).isoformat() if value else None

    return [title or "", description or "", location or "", moment(start), moment(end)]


def _hash(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def content_fingerprint(
    title: str | None, description: str | None, location: str | None, start: datetime | None, end: datetime | None
) -> str:
    """What a calendar event says about a meeting, reduced to a short hash."""
    return Content.of(title, description, location, start, end).fingerprint


@dataclasses.dataclass(frozen=True)
class MeetingParticipant:
    email: str
    user_id: str | None = None
    display_name: str | None = None
    is_organizer: bool = False
    response: ParticipantResponse = ParticipantResponse.NEEDS_ACTION
    delivery: Delivery = Delivery.NONE
    copy: int | None = None  # index into Meeting.copies: own calendar, or the host event for invitations
    uninvited: bool = False  # declined through the API: the host event no longer invites them
    erased: bool = False  # the person was erased (domain/erasure.py): a placeholder, or about to become one


@dataclasses.dataclass(frozen=True)
class CopySync:
    status: SyncStatus
    last_error: str | None
    synced_at: datetime | None


@dataclasses.dataclass(frozen=True)
class Meeting:
    id: str
    organizer_id: str
    title: str
    description: str | None
    location: str | None
    start: datetime
    end: datetime
    time_zone: str
    status: MeetingStatus
    participants: tuple[MeetingParticipant, ...]
    copies: tuple[CalendarCopy, ...]
    version: int
    created_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None = None

    EVENT_ID_PREFIX = "mtg_"

    @property
    def content(self) -> Content:
        return Content.of(self.title, self.description, self.location, self.start, self.end)

    @property
    def fingerprint(self) -> str:
        return self.content.fingerprint

    @property
    def over_at(self) -> datetime:
        """When the meeting was over: its end, or its cancellation if that came first (retention counts from it)."""
        return min(self.end, self.cancelled_at) if self.cancelled_at is not None else self.end

    @property
    def event_id(self) -> str:
        """The same Cronofy event_id for every copy; upserts keyed by it are idempotent."""
        return self.EVENT_ID_PREFIX + self.id

    @classmethod
    def id_of_event(cls, event_id: str) -> str | None:
        """The meeting an event_id of ours stands for; None for anybody else's event."""
        return event_id.removeprefix(cls.EVENT_ID_PREFIX) if event_id.startswith(cls.EVENT_ID_PREFIX) else None

    def sync_of(self, participant: MeetingParticipant) -> CopySync:
        if participant.copy is None:
            return CopySync(SyncStatus.SYNCED, None, None)  # nothing outstanding (DESIGN.md §7)
        copy = self.copies[participant.copy]
        status = copy.status(self.version)
        return CopySync(
            status=status,
            last_error=copy.last_error if status is not SyncStatus.SYNCED else None,
            synced_at=copy.synced_at,
        )

    def pending_copies(self) -> list[int]:
        return [i for i, copy in enumerate(self.copies) if copy.status(self.version) is SyncStatus.PENDING]

    def due_copies(self, now: datetime) -> list[int]:
        """Pending copies whose backoff (if any) is over."""
        return [i for i in self.pending_copies() if not self.copies[i].backing_off(self.version, now)]

    def next_due(self, now: datetime) -> datetime | None:
        """When calendar work on this meeting is next due: None when nothing is pending."""
        waits = [
            self.copies[i].next_attempt_at if self.copies[i].attempt_version == self.version else None
            for i in self.pending_copies()
        ]
        if not waits:
            return None
        return min(wait or now for wait in waits)

    def with_copies(self, copies: dict[int, CalendarCopy]) -> Meeting:
        return dataclasses.replace(self, copies=tuple(copies.get(i, c) for i, c in enumerate(self.copies)))

    def invitees_of(self, copy: CalendarCopy) -> tuple[MeetingParticipant, ...]:
        """Only the host event invites: other calendars hold their own copy."""
        if not copy.is_host:
            return ()
        return tuple(p for p in self.participants if p.delivery is Delivery.INVITATION and not p.uninvited)

    def uninvited_of(self, copy: CalendarCopy) -> tuple[MeetingParticipant, ...]:
        """Invitations the host event withdraws: those who declined through the API."""
        if not copy.is_host:
            return ()
        return tuple(p for p in self.participants if p.delivery is Delivery.INVITATION and p.uninvited)

    def participant_of(self, user_id: str) -> int | None:
        return next((i for i, p in enumerate(self.participants) if p.user_id == user_id), None)

    def failed_on(self, connection_id: str, reason: str) -> Meeting:
        """The calendar needs relinking: a new version in which its copies (but the removed ones) show FAILED
        with `reason`, and every other copy stays as it was."""
        new = self.version + 1
        return dataclasses.replace(
            self,
            version=new,
            copies=tuple(
                dataclasses.replace(c, failed_version=new, last_error=reason)
                if c.connection_id == connection_id and not c.removed
                else c.carried_to(self.version, new)
                for c in self.copies
            ),
        )

    def retried_on(self, connection_id: str) -> Meeting | None:
        """The calendar was linked again: a new version in which its FAILED copies are pending once more;
        None when none of them failed."""
        again = {
            i
            for i, c in enumerate(self.copies)
            if c.connection_id == connection_id and c.status(self.version) is SyncStatus.FAILED
        }
        return self.next_version(again) if again else None

    def next_version(self, rewrite: set[int]) -> Meeting:
        """A new version in which only the copies in `rewrite` need writing again."""
        new = self.version + 1
        return dataclasses.replace(
            self,
            version=new,
            copies=tuple(c if i in rewrite else c.carried_to(self.version, new) for i, c in enumerate(self.copies)),
        )

    def owners_of(self, copy_index: int) -> list[int]:
        """The participants (by index) whose calendar holds that copy."""
        return [i for i, p in enumerate(self.participants) if p.copy == copy_index]

    def copy_on(self, connection_id: str, calendar_id: str) -> int | None:
        return next(
            (i for i, c in enumerate(self.copies) if c.connection_id == connection_id and c.calendar_id == calendar_id),
            None,
        )
