"""The sandbox's records: what it knows about accounts, calendars, events, codes, tokens, channels.

Plain dataclasses with the little behaviour that only needs the record itself, plus the constants
and exception types the state's parts share. Nothing in here changes more than one record, reads
the clock or knows HTTP: the parts (`accounts.py`, `calendars.py`, `tokens.py`,
`channels_state.py`) do that, and `render.py` turns the records into Cronofy's JSON. What the
control API lists of the sandbox's own doings (requests received, pushes sent) is in `journal.py`.
"""

from __future__ import annotations

import math
import secrets
import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .times import DEFAULT_TZID, EventTime

ACCESS = "access"
REFRESH = "refresh"

ALIVE = "alive"
REVOKED = "revoked"
EXPIRED = "expired"
SUPERSEDED = "superseded"

# Who wrote an event last: the app through the API, the user acting in their calendar (the
# control API's `act/...`), or someone before the calendar was linked (the seeded events).
# Cronofy never pushes a notification about the app's own changes, so channels must know.
BY_APP = "app"
BY_USER = "user"
BY_EXTERNAL = "external"

# Paged reads kept for their `next_page` links, and event writes remembered; the oldest
# are forgotten first, so a long-running sandbox stays small.
MAX_PAGED_READS = 1000
MAX_EVENT_CHANGES = 10_000

# Cronofy: at most 128 open channels per account (it recommends one).
MAX_CHANNELS = 128

# The notification types the sandbox sends by itself (others can be sent through the control API).
VERIFICATION = "verification"
CHANGE = "change"
PROFILE_DISCONNECTED = "profile_disconnected"

# Cronofy's `provider_service` for each `provider_name` the consent page offers (§4.2).
PROVIDER_SERVICES = {
    "google": "google",
    "apple": "icloud",
    "office365": "office365",
    "exchange": "exchange",
    "live_connect": "outlook_com",
}

# Scopes that carry others with them (Cronofy: read_events implies read_free_busy).
IMPLIED_SCOPES: dict[str, frozenset[str]] = {"read_events": frozenset({"read_free_busy"})}

ALPHANUMERIC = string.ascii_letters + string.digits
LOWER_ALPHANUMERIC = string.ascii_lowercase + string.digits


class InvalidGrant(Exception):
    """The code or refresh token cannot be used (OAuth `invalid_grant`)."""


class TooManyChannels(Exception):
    """The account already has `MAX_CHANNELS` open channels."""


class NotFound(LookupError):
    """The calendar, event, attendee, account or channel named does not exist."""


class Conflict(Exception):
    """The user cannot do that to this event (it is deleted)."""


def grants_scope(granted: Iterable[str], needed: str) -> bool:
    """Whether a token holding `granted` scopes may do what `needed` allows."""
    held = set(granted)
    return needed in held or any(needed in IMPLIED_SCOPES.get(scope, ()) for scope in held)


def random_token(length: int = 32, alphabet: str = ALPHANUMERIC) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def new_event_uid() -> str:
    return "evt_external_" + secrets.token_hex(12)


# -- calendars and events -------------------------------------------------------------


@dataclass
class Attendee:
    email: str
    display_name: str | None = None
    status: str = "needs_action"


@dataclass
class Event:
    """One event in a calendar. Managed events (written by the app) carry the app's `event_id`."""

    event_uid: str
    calendar_id: str
    summary: str
    start: EventTime
    end: EventTime
    created: float
    updated: float
    event_id: str | None = None
    description: str = ""
    tzid: str = DEFAULT_TZID
    location: dict[str, str] = field(default_factory=dict)
    transparency: str = "opaque"
    participation_status: str = "accepted"
    attendees: list[Attendee] = field(default_factory=list)
    deleted: bool = False
    last_written_by: str = BY_EXTERNAL

    @property
    def managed(self) -> bool:
        return self.event_id is not None

    def find_attendee(self, email: str) -> Attendee | None:
        wanted = email.casefold()
        return next((a for a in self.attendees if a.email.casefold() == wanted), None)


@dataclass
class Calendar:
    calendar_id: str
    name: str
    readonly: bool = False
    primary: bool = False
    deleted: bool = False
    integrated_conferencing_available: bool = False
    attachments_available: bool = False
    permission_level: str = "sandbox"
    events: dict[str, Event] = field(default_factory=dict, repr=False)  # by event_uid
    _managed: dict[str, str] = field(default_factory=dict, init=False, repr=False)  # event_id -> event_uid

    @property
    def writable(self) -> bool:
        return not (self.readonly or self.deleted)

    def managed_event(self, event_id: str) -> Event | None:
        uid = self._managed.get(event_id)
        return None if uid is None else self.events[uid]

    def add_event(self, event: Event) -> None:
        self.events[event.event_uid] = event
        if event.event_id is not None:
            self._managed[event.event_id] = event.event_uid


@dataclass
class Account:
    """One Cronofy account holding a single linked calendar profile."""

    sub: str
    provider_name: str
    profile_id: str
    profile_name: str
    calendars: list[Calendar] = field(default_factory=list)
    # A disconnected profile (the provider refused Cronofy) locks the account's events (423)
    # until the user authorizes the same profile again.
    connected: bool = True
    disconnected_at: float | None = None

    @property
    def provider_service(self) -> str:
        return PROVIDER_SERVICES.get(self.provider_name, self.provider_name)

    def find_calendar(self, calendar_id: str) -> Calendar | None:
        return next((c for c in self.calendars if c.calendar_id == calendar_id), None)

    def events(self) -> Iterator[Event]:
        for calendar in self.calendars:
            yield from calendar.events.values()


@dataclass
class EventChange:
    """One write to an event, remembered with who made it (the app or the calendar's user)."""

    sub: str
    calendar_id: str
    event_uid: str
    event_id: str | None
    action: str  # "upsert", "delete" or "respond"
    by: str  # BY_APP or BY_USER
    at: float

    @property
    def managed(self) -> bool:
        return self.event_id is not None


@dataclass
class PagedRead:
    """The result of one `GET /v1/events`, kept so its `next_page` links show the same query."""

    sub: str
    only_managed: bool  # decides the scope the next pages need, like the first
    events: list[dict[str, Any]]
    page_size: int

    @property
    def total_pages(self) -> int:
        return max(1, math.ceil(len(self.events) / self.page_size))

    def page(self, number: int) -> list[dict[str, Any]]:
        first = (number - 1) * self.page_size
        return self.events[first : first + self.page_size]


# -- authorization ----------------------------------------------------------------------


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    sub: str
    expires_at: float
    used: bool = False

    def is_outstanding(self, now: float) -> bool:
        return not self.used and now < self.expires_at


@dataclass
class IssuedToken:
    token: str
    kind: str  # ACCESS or REFRESH
    sub: str
    scope: tuple[str, ...]
    grant_id: str  # one per authorization: revoking a token revokes its whole grant
    issued_at: float
    expires_at: float | None  # access tokens only; refresh tokens never time out
    status: str = ALIVE

    @property
    def scope_string(self) -> str:
        return " ".join(self.scope)

    def status_at(self, now: float) -> str:
        if self.status == ALIVE and self.expires_at is not None and now >= self.expires_at:
            return EXPIRED
        return self.status

    def is_alive(self, now: float) -> bool:
        return self.status_at(now) == ALIVE


@dataclass
class TokenGrant:
    """What a successful code exchange or refresh hands out, for the account `sub`."""

    sub: str
    access: IssuedToken
    refresh: IssuedToken
    expires_in: int


# -- channels and pushes ----------------------------------------------------------------


@dataclass
class Channel:
    """A push notification channel (§7.1). `calendar_ids` None: every calendar of the account."""

    channel_id: str
    sub: str
    callback_url: str
    calendar_ids: tuple[str, ...] | None = None
    only_managed: bool = False
    # Silently loses every push (`POST /_control/silence`), as a broken channel does: only reconciliation
    # finds what it should have announced. A channel opened afresh hears again.
    silent: bool = False

    def same_request(self, callback_url: str, calendar_ids: tuple[str, ...] | None, only_managed: bool) -> bool:
        mine = None if self.calendar_ids is None else frozenset(self.calendar_ids)
        theirs = None if calendar_ids is None else frozenset(calendar_ids)
        return (self.callback_url, mine, self.only_managed) == (callback_url, theirs, only_managed)

    def covers(self, calendar_id: str, managed: bool) -> bool:
        """Whether a change to an event in this calendar (managed or not) is notified here."""
        if self.calendar_ids is not None and calendar_id not in self.calendar_ids:
            return False
        return managed or not self.only_managed


@dataclass(frozen=True)
class Notification:
    type: str
    changes_since: str | None = None  # a Time; Cronofy sends it only with `change`


@dataclass
class Push:
    """One notification to send to one channel."""

    channel: Channel
    notification: Notification
