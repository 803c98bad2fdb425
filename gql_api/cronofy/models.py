"""What the gateway takes and gives: plain values, free of HTTP, so services can import them cheaply."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from ..domain.secrets import Secret

# Least privilege (privacy notice §3): write our own events, nothing else is read. What the authorization
# URL asks for, and all a stored credential may hold.
LINK_SCOPES = ("list_calendars", "create_event", "delete_event")


@dataclasses.dataclass(frozen=True)
class LinkingProfile:
    provider_name: str | None
    profile_id: str | None
    profile_name: str | None


@dataclasses.dataclass(frozen=True)
class TokenGrant:
    access_token: Secret
    refresh_token: Secret
    expires_in: int
    scope: tuple[str, ...]
    sub: str | None = None
    linking_profile: LinkingProfile | None = None

    def expires_at(self, now: datetime) -> datetime:
        return datetime.fromtimestamp(now.timestamp() + self.expires_in, tz=UTC)


@dataclasses.dataclass(frozen=True)
class CronofyCalendar:
    calendar_id: str
    name: str
    primary: bool
    readonly: bool
    deleted: bool
    provider_name: str | None = None
    profile_name: str | None = None

    @property
    def writable(self) -> bool:
        return not (self.readonly or self.deleted)


@dataclasses.dataclass(frozen=True)
class Attendee:
    email: str
    display_name: str | None = None


@dataclasses.dataclass(frozen=True)
class CalendarEvent:
    """A managed event as we write it; `event_id` is ours, so every write is an idempotent upsert."""

    event_id: str
    summary: str
    description: str | None
    location: str | None
    start: datetime
    end: datetime
    tzid: str
    attendees: tuple[Attendee, ...] = ()
    rejected: tuple[Attendee, ...] = ()  # invitations to withdraw (Cronofy's `attendees.reject`)


@dataclasses.dataclass(frozen=True)
class EventAttendee:
    email: str
    status: str  # needs_action, accepted, declined, tentative, unknown


@dataclasses.dataclass(frozen=True)
class ManagedEvent:
    """An event the app created, as Cronofy reports it now. Timed events only carry start/end."""

    calendar_id: str
    event_id: str
    deleted: bool
    updated: datetime | None
    summary: str | None = None
    description: str | None = None
    location: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    attendees: tuple[EventAttendee, ...] = ()
