"""Domain objects shared by services, the store and the GraphQL layer (no framework imports)."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timezone

from .vault import Secret

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class CalendarProvider(enum.Enum):
    GOOGLE = "google"
    APPLE = "apple"
    OFFICE365 = "office365"
    EXCHANGE = "exchange"
    OUTLOOK_COM = "live_connect"
    OTHER = "other"

    @classmethod
    def from_cronofy(cls, provider_name: str | None) -> CalendarProvider:
        """DESIGN.md §7: Cronofy's provider_name to our enum; anything unknown is OTHER."""
        for provider in cls:
            if provider.value == provider_name and provider is not cls.OTHER:
                return provider
        return cls.OTHER


class ConnectionStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    NEEDS_RELINK = "NEEDS_RELINK"


@dataclasses.dataclass(frozen=True)
class TargetCalendar:
    id: str
    name: str
    primary: bool


@dataclasses.dataclass(frozen=True)
class Credential:
    """The Cronofy credential in the clear; lives only in memory, never in a response or log."""

    access_token: Secret
    refresh_token: Secret
    access_token_expires_at: datetime


@dataclasses.dataclass(frozen=True)
class CalendarConnection:
    id: str
    user_id: str
    sub: str
    provider: CalendarProvider
    profile_name: str
    status: ConnectionStatus
    scopes: tuple[str, ...]
    calendar: TargetCalendar | None
    data_center: str
    linked_at: datetime
    last_synced_at: datetime | None = None
    channel_id: str | None = None  # the push channel that tells us about changes in this calendar


@dataclasses.dataclass(frozen=True)
class LinkState:
    user_id: str
    redirect_uri: str
    data_center: str
    expires_at: datetime


@dataclasses.dataclass(frozen=True)
class AuthorizationRequest:
    authorization_url: str
    expires_at: datetime


# --- meetings ----------------------------------------------------------------------------

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
    """One event in one calendar. Its sync state is relative to the meeting's `version`: a copy is
    SYNCED when it carries the current version, FAILED when the retry budget for the current version
    ran out, else PENDING. A change to the meeting (a new version) makes every copy pending again."""

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
    removed: bool = False  # its owner deleted it from their calendar (declined): left alone from then on
    written: str | None = None  # fingerprint of what we last wrote there: reading it back is no edit

    def status(self, version: int) -> SyncStatus:
        if self.removed or self.synced_version >= version:
            return SyncStatus.SYNCED
        if self.failed_version >= version:
            return SyncStatus.FAILED
        return SyncStatus.PENDING


def content_fingerprint(title: str | None, description: str | None, location: str | None,
                        start: datetime | None, end: datetime | None) -> str:
    """What a calendar event says about a meeting, reduced to a short hash (our writes are whole
    seconds in UTC, and an empty description is no description)."""
    def moment(value: datetime | None) -> str | None:
        return value.astimezone(timezone.utc).replace(microsecond=0).isoformat() if value else None

    canonical = json.dumps([title or "", description or "", location or "", moment(start), moment(end)])
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclasses.dataclass(frozen=True)
class MeetingParticipant:
    email: str
    user_id: str | None = None
    display_name: str | None = None
    is_organizer: bool = False
    response: ParticipantResponse = ParticipantResponse.NEEDS_ACTION
    delivery: Delivery = Delivery.NONE
    copy: int | None = None  # index into Meeting.copies: own calendar, or the host event for invitations


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
    def fingerprint(self) -> str:
        return content_fingerprint(self.title, self.description, self.location, self.start, self.end)

    @property
    def event_id(self) -> str:
        """The same Cronofy event_id for every copy; upserts keyed by it are idempotent."""
        return self.EVENT_ID_PREFIX + self.id

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


@dataclasses.dataclass(frozen=True)
class MeetingDraft:
    """What a client asks for, validated; the organizer is the signed-in user."""

    title: str
    description: str | None
    location: str | None
    start: datetime
    end: datetime
    time_zone: str
    participants: tuple[MeetingParticipant, ...]
