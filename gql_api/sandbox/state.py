"""The sandbox's in-memory Cronofy: accounts, calendars and their events, codes, tokens, channels.

Plain Python with no HTTP in it. What the user does in a calendar comes back as a list of
`Push`es (a notification for a channel) for `push.Pusher` to deliver.
"""

from __future__ import annotations

import math
import secrets
import string
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from .config import SandboxConfig
from .parse_events import EventWrite, ReadQuery
from .times import DEFAULT_TZID, EventTime, format_time, timestamp_to_time
from .faults import FaultQueue
from .limits import RateLimiter

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
MAX_PUSH_RECORDS = 10_000

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

_ALPHANUMERIC = string.ascii_letters + string.digits
_LOWER_ALPHANUMERIC = string.ascii_lowercase + string.digits


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


def random_token(length: int = 32, alphabet: str = _ALPHANUMERIC) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass
class Attendee:
    email: str
    display_name: str | None = None
    status: str = "needs_action"

    def to_json(self) -> dict[str, Any]:
        return {"email": self.email, "display_name": self.display_name, "status": self.status}


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

    def apply(self, write: EventWrite) -> None:
        """Replace what the upsert sent; leave the rest (§6.2: editing means resending)."""
        kind_changed = write.start.all_day != self.start.all_day
        self.summary, self.start, self.end = write.summary, write.start, write.end
        if write.tzid is not None:
            self.tzid = write.tzid
        if write.description is not None:
            self.description = write.description
        if write.location is not None:
            self.location = dict(write.location)
        if write.transparency is not None:
            self.transparency = write.transparency
        elif kind_changed:
            self.transparency = _default_transparency(write.start)
        for invitee in write.invite:
            if self.find_attendee(invitee.email) is None:
                self.attendees.append(Attendee(invitee.email, invitee.display_name))
        removed = {email.casefold() for email in write.reject}
        self.attendees = [a for a in self.attendees if a.email.casefold() not in removed]


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

    def calendar_json(self, calendar: Calendar) -> dict[str, Any]:
        """A calendar as Cronofy's `GET /v1/calendars` shows it."""
        return {
            "provider_name": self.provider_name,
            "profile_id": self.profile_id,
            "profile_name": self.profile_name,
            "calendar_id": calendar.calendar_id,
            "calendar_name": calendar.name,
            "calendar_readonly": calendar.readonly,
            "calendar_deleted": calendar.deleted,
            "calendar_primary": calendar.primary,
            "calendar_integrated_conferencing_available": calendar.integrated_conferencing_available,
            "calendar_attachments_available": calendar.attachments_available,
            "permission_level": calendar.permission_level,
        }

    def calendars_json(self) -> list[dict[str, Any]]:
        return [self.calendar_json(calendar) for calendar in self.calendars]

    def events(self) -> Iterator[Event]:
        for calendar in self.calendars:
            yield from calendar.events.values()

    def event_json(self, event: Event) -> dict[str, Any]:
        """An event as Cronofy's `GET /v1/events` shows it (§6.5)."""
        shown: dict[str, Any] = {"calendar_id": event.calendar_id, "event_uid": event.event_uid}
        if event.managed:
            shown["event_id"] = event.event_id
        shown.update(
            {
                "summary": event.summary,
                "description": event.description,
                "start": event.start.to_json(),
                "end": event.end.to_json(),
                "deleted": event.deleted,
                "created": _time_json(event.created),
                "updated": _time_json(event.updated),
            }
        )
        if event.location:
            shown["location"] = dict(event.location)
        shown.update(
            {
                "participation_status": event.participation_status,
                "attendees": [attendee.to_json() for attendee in event.attendees],
                "organizer": {"email": self.profile_name},
                "transparency": event.transparency,
                "status": "cancelled" if event.deleted else "confirmed",
                "categories": [],
                "recurring": False,
                "event_private": False,
                # Calendars have `sandbox` permission: the app may change only what it created.
                "options": {
                    "delete": event.managed,
                    "update": event.managed,
                    "change_participation_status": False,
                },
            }
        )
        return shown

    def control_event_json(self, event: Event) -> dict[str, Any]:
        """An event as the control API lists it: everything the sandbox knows."""
        return {
            "sub": self.sub,
            "calendar_id": event.calendar_id,
            "event_id": event.event_id,
            "event_uid": event.event_uid,
            "summary": event.summary,
            "description": event.description,
            "start": event.start.to_json(),
            "end": event.end.to_json(),
            "tzid": event.tzid,
            "location": dict(event.location) or None,
            "attendees": [attendee.to_json() for attendee in event.attendees],
            "deleted": event.deleted,
            "managed": event.managed,
            "last_written_by": event.last_written_by,
            "created": _time_json(event.created),
            "updated": _time_json(event.updated),
        }

    def linking_profile_json(self) -> dict[str, str]:
        return {
            "provider_name": self.provider_name,
            "profile_id": self.profile_id,
            "profile_name": self.profile_name,
        }

    def profile_json(self, relink_url: str) -> dict[str, Any]:
        """The account's profile as `GET /v1/profiles` shows it (§4.2)."""
        shown: dict[str, Any] = {
            "provider_name": self.provider_name,
            "provider_service": self.provider_service,
            "profile_id": self.profile_id,
            "profile_name": self.profile_name,
            "profile_connected": self.connected,
            "profile_initial_sync_required": False,
        }
        if not self.connected:
            shown["profile_relink_url"] = relink_url
        return shown

    def userinfo_json(self, scope: str, relink_url: str) -> dict[str, Any]:
        """`GET /v1/userinfo` (§4.3): the profile with its calendars."""
        calendars = [
            {name: value for name, value in self.calendar_json(calendar).items()
             if name not in ("provider_name", "profile_id", "profile_name")}
            for calendar in self.calendars
        ]
        return {
            "sub": self.sub,
            "email": self.profile_name,
            "name": None,
            "zoneinfo": DEFAULT_TZID,
            "cronofy.type": "account",
            "cronofy.data": {
                "authorization": {"scope": scope, "status": "active"},
                "profiles": [{**self.profile_json(relink_url), "profile_calendars": calendars}],
                "conferencing_profiles": [],
            },
        }


@dataclass
class Channel:
    """A push notification channel (§7.1). `calendar_ids` None: every calendar of the account."""

    channel_id: str
    sub: str
    callback_url: str
    calendar_ids: tuple[str, ...] | None = None
    only_managed: bool = False

    def filters_json(self) -> dict[str, Any]:
        # Cronofy echoes only the filters that differ from the defaults.
        filters: dict[str, Any] = {}
        if self.calendar_ids is not None:
            filters["calendar_ids"] = list(self.calendar_ids)
        if self.only_managed:
            filters["only_managed"] = True
        return filters

    def to_json(self) -> dict[str, Any]:
        return {"channel_id": self.channel_id, "callback_url": self.callback_url, "filters": self.filters_json()}

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

    def to_json(self) -> dict[str, str]:
        shown = {"type": self.type}
        if self.changes_since is not None:
            shown["changes_since"] = self.changes_since
        return shown


@dataclass
class Push:
    """One notification to send to one channel."""

    channel: Channel
    notification: Notification


@dataclass
class PushRecord:
    """One delivery attempt of a push, as `GET /_control/pushes` lists it."""

    channel_id: str
    type: str
    callback_url: str
    body: str  # exactly the bytes sent, as UTF-8 text
    hmac: str  # the Cronofy-HMAC-SHA256 header sent
    at: float
    status: int | None = None  # HTTP status; 0 for a connection error or timeout; None if dropped or pending
    dropped: bool = False  # the sandbox was told to lose it: never sent


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
    """What a successful code exchange or refresh hands out."""

    account: Account
    access: IssuedToken
    refresh: IssuedToken
    expires_in: int


@dataclass
class EventChange:
    """One write to an event, remembered with who made it (the app or the calendar's user)."""

    sub: str
    calendar_id: str
    event_uid: str
    event_id: str | None
    action: str  # "upsert" or "delete"
    by: str  # BY_APP or BY_USER
    at: float


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


@dataclass
class RecordedRequest:
    method: str
    path: str  # relative to the sandbox root, never with the query string
    at: float
    status: int | None = None  # None while the request is still being answered; 0 for a dropped connection


class SandboxState:
    def __init__(self, config: SandboxConfig) -> None:
        self._initial_config = replace(config)
        self.config = replace(config)
        self.faults = FaultQueue()
        self.requests: list[RecordedRequest] = []
        self._forget_everything()

    def _forget_everything(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.channels: dict[str, Channel] = {}  # open channels, by channel_id
        self.pushes: list[PushRecord] = []
        self._account_by_profile: dict[tuple[str, str], str] = {}
        self._codes: dict[str, AuthorizationCode] = {}
        self._tokens: dict[str, IssuedToken] = {}
        self.changes: list[EventChange] = []
        self._pages: OrderedDict[str, tuple[PagedRead, int]] = OrderedDict()
        self.requests.clear()
        self.faults.clear()
        self.limits = RateLimiter()

    def reset(self) -> None:
        """Back to a freshly started sandbox, including the configuration."""
        self.config = replace(self._initial_config)
        self._forget_everything()

    def now(self) -> float:
        return self.config.clock()

    # -- accounts --------------------------------------------------------------------

    def link_account(self, provider_name: str, profile_name: str) -> Account:
        """The account of this calendar profile, created on first sight.

        The same provider and profile name (e-mail addresses ignore case) always give the
        same account and `sub`, which is how relinking a calendar keeps its identity.
        """
        sub = self._account_by_profile.get((provider_name, profile_name.casefold()))
        if sub is not None:
            return self.accounts[sub]
        account = _new_account(provider_name, profile_name, self.now())
        self.accounts[account.sub] = account
        self._account_by_profile[(provider_name, profile_name.casefold())] = account.sub
        return account

    def account(self, sub: str) -> Account | None:
        return self.accounts.get(sub)

    def account_by_profile(self, provider_name: str, profile_name: str) -> Account | None:
        sub = self._account_by_profile.get((provider_name, profile_name.casefold()))
        return None if sub is None else self.accounts[sub]

    def disconnect(self, sub: str) -> list[Push]:
        """The provider refused Cronofy: the profile needs relinking. Pushes for every channel.

        Disconnecting a disconnected profile changes nothing and pushes nothing.
        """
        account = self.accounts.get(sub)
        if account is None:
            raise NotFound(f"no account {sub!r}")
        if not account.connected:
            return []
        account.connected = False
        account.disconnected_at = self.now()
        notification = Notification(PROFILE_DISCONNECTED)
        return [Push(channel, notification) for channel in self.open_channels(sub)]

    def reconnect(self, account: Account) -> list[Push]:
        """The user authorized the profile again. Cronofy then syncs the calendar and notifies
        what the user changed while it could not see it (a `change` since the first such change).
        """
        if account.connected:
            return []
        since = account.disconnected_at or self.now()
        account.connected, account.disconnected_at = True, None
        missed = [c for c in self.changes if c.sub == account.sub and c.by == BY_USER and c.at >= since]
        if not missed:
            return []
        notification = Notification(CHANGE, _time_json(min(c.at for c in missed)))
        return [
            Push(channel, notification)
            for channel in self.open_channels(account.sub)
            if any(channel.covers(c.calendar_id, c.event_id is not None) for c in missed)
        ]

    # -- events ----------------------------------------------------------------------

    def upsert_event(self, account: Account, calendar: Calendar, write: EventWrite) -> Event:
        """Create or update the app's event `(calendar, event_id)` (§6.2)."""
        now = self.now()
        event = calendar.managed_event(write.event_id)
        if event is None:
            event = Event(
                event_uid=new_event_uid(),
                calendar_id=calendar.calendar_id,
                event_id=write.event_id,
                summary=write.summary,
                start=write.start,
                end=write.end,
                created=now,
                updated=now,
                transparency=_default_transparency(write.start),
            )
            calendar.add_event(event)
        elif event.deleted:
            # Upserting a deleted event brings it back, and its invitations go out again.
            event.deleted = False
            for attendee in event.attendees:
                attendee.status = "needs_action"
        event.apply(write)
        event.updated = now
        self._record_change(account, event, "upsert", BY_APP)
        return event

    def delete_event(self, account: Account, calendar: Calendar, event_id: str) -> Event | None:
        """Mark the app's event deleted (kept, so `include_deleted` reads still see it).

        Unknown or already deleted events change nothing (§6.3 leaves it open; idempotent).
        """
        event = calendar.managed_event(event_id)
        if event is None or event.deleted:
            return None
        event.deleted = True
        event.updated = self.now()
        self._record_change(account, event, "delete", BY_APP)
        return event

    def read_events(self, account: Account, query: ReadQuery) -> PagedRead:
        """Run a read events query (§6.5) and keep its result for paging."""
        from_, to = query.window(timestamp_to_time(self.now()))
        wanted = None if query.calendar_ids is None else set(query.calendar_ids)
        found = []
        for event in account.events():
            if wanted is not None and event.calendar_id not in wanted:
                continue
            if event.deleted and not query.include_deleted:
                continue
            if event.managed and not (query.include_managed or query.only_managed):
                continue
            if query.only_managed and not event.managed:
                continue
            if query.last_modified is not None and timestamp_to_time(event.updated) < query.last_modified:
                continue
            # Managed events escape the default window, not dates the caller gave (§6.5).
            ends_from = from_ if query.from_ is not None or not event.managed else None
            starts_before = to if query.to is not None or not event.managed else None
            if not _in_window(event, query, ends_from, starts_before):
                continue
            found.append(event)
        # By time; ties keep calendar then creation order (a stable sort), so pages are repeatable.
        found.sort(key=lambda e: (e.start.as_datetime(), e.end.as_datetime()))
        return PagedRead(
            sub=account.sub,
            only_managed=query.only_managed,
            events=[account.event_json(event) for event in found],
            page_size=self.config.events_page_size,
        )

    def page_token(self, read: PagedRead, number: int) -> str:
        """An opaque token for page `number` of `read`, to put in a `next_page` link."""
        token = secrets.token_hex(8)
        self._pages[token] = (read, number)
        while len(self._pages) > MAX_PAGED_READS:
            self._pages.popitem(last=False)
        return token

    def paged_read(self, token: str, sub: str) -> tuple[PagedRead, int] | None:
        """The read and page number behind a `next_page` token, for the account that made it."""
        found = self._pages.get(token)
        if found is None or found[0].sub != sub:
            return None
        return found

    def all_events(self, *, sub: str | None = None, calendar_id: str | None = None) -> list[dict[str, Any]]:
        """Every calendar's events as the control API shows them, optionally filtered."""
        return [
            account.control_event_json(event)
            for account in self.accounts.values()
            if sub is None or account.sub == sub
            for event in account.events()
            if calendar_id is None or event.calendar_id == calendar_id
        ]

    # -- the user, acting in their calendar --------------------------------------------

    def find_calendar(self, calendar_id: str) -> tuple[Account, Calendar]:
        for account in self.accounts.values():
            calendar = account.find_calendar(calendar_id)
            if calendar is not None:
                return account, calendar
        raise NotFound(f"no calendar {calendar_id!r}")

    def find_event(self, calendar_id: str, event_ref: str) -> tuple[Account, Event]:
        """An event by the app's `event_id`, or by `event_uid` (the only id external events have)."""
        account, calendar = self.find_calendar(calendar_id)
        event = calendar.managed_event(event_ref) or calendar.events.get(event_ref)
        if event is None:
            raise NotFound(f"no event {event_ref!r} in calendar {calendar_id!r}")
        return account, event

    def user_move(self, calendar_id: str, event_ref: str, start: EventTime, end: EventTime,
                  tzid: str | None = None) -> tuple[Event, list[Push]]:
        account, event = self._live_event(calendar_id, event_ref)
        event.start, event.end = start, end
        if tzid is not None:
            event.tzid = tzid
        return event, self._user_changed(account, event, "upsert")

    def user_edit(self, calendar_id: str, event_ref: str, *, summary: str | None = None,
                  description: str | None = None, location: dict[str, str] | None = None,
                  ) -> tuple[Event, list[Push]]:
        account, event = self._live_event(calendar_id, event_ref)
        if summary is not None:
            event.summary = summary
        if description is not None:
            event.description = description
        if location is not None:
            event.location = dict(location)
        return event, self._user_changed(account, event, "upsert")

    def user_delete(self, calendar_id: str, event_ref: str) -> tuple[Event, list[Push]]:
        account, event = self._live_event(calendar_id, event_ref)
        event.deleted = True
        return event, self._user_changed(account, event, "delete")

    def user_respond(self, calendar_id: str, event_ref: str, email: str, status: str) -> tuple[Event, list[Push]]:
        """An invitee answers; the calendar's owner answering sets the event's participation status."""
        account, event = self._live_event(calendar_id, event_ref)
        attendee = event.find_attendee(email)
        if attendee is not None:
            attendee.status = status
        elif email.casefold() == account.profile_name.casefold():
            event.participation_status = status
        else:
            raise NotFound(f"{email!r} is not invited to this event")
        return event, self._user_changed(account, event, "respond")

    def _live_event(self, calendar_id: str, event_ref: str) -> tuple[Account, Event]:
        account, event = self.find_event(calendar_id, event_ref)
        if event.deleted:
            raise Conflict("the event is deleted")
        return account, event

    def _user_changed(self, account: Account, event: Event, action: str) -> list[Push]:
        """Bump `updated`, remember the change, and say which channels hear of it.

        While the profile is disconnected Cronofy cannot see the calendar: the change is kept
        and notified when the profile is reconnected.
        """
        now = self.now()
        event.updated = now
        self._record_change(account, event, action, BY_USER)
        if not account.connected:
            return []
        notification = Notification(CHANGE, _time_json(now))
        return [
            Push(channel, notification)
            for channel in self.open_channels(account.sub)
            if channel.covers(event.calendar_id, event.managed)
        ]

    def _record_change(self, account: Account, event: Event, action: str, by: str) -> None:
        event.last_written_by = by
        self.changes.append(
            EventChange(account.sub, event.calendar_id, event.event_uid, event.event_id, action, by, event.updated)
        )
        del self.changes[:-MAX_EVENT_CHANGES]

    # -- authorization codes ---------------------------------------------------------

    def issue_code(
        self, *, client_id: str, redirect_uri: str, scope: tuple[str, ...], account: Account
    ) -> AuthorizationCode:
        now = self.now()
        # Expired codes can go: an unknown code is refused exactly like an expired one.
        self._codes = {c: code for c, code in self._codes.items() if now < code.expires_at}
        code = AuthorizationCode(
            code=secrets.token_urlsafe(24),
            client_id=client_id,
            redirect_uri=redirect_uri,
            scope=scope,
            sub=account.sub,
            expires_at=now + self.config.code_ttl,
        )
        self._codes[code.code] = code
        return code

    def redeem_code(self, code: str, *, client_id: str, redirect_uri: str) -> TokenGrant:
        issued = self._codes.get(code)
        if issued is None:
            raise InvalidGrant("unknown code")
        was_usable = issued.is_outstanding(self.now())
        # Codes are single use: any attempt naming the code uses it up, even a failed one.
        issued.used = True
        if not was_usable:
            raise InvalidGrant("code expired or already used")
        if issued.client_id != client_id or issued.redirect_uri != redirect_uri:
            raise InvalidGrant("code issued to another client or redirect_uri")
        account = self.accounts[issued.sub]
        grant_id = secrets.token_hex(8)
        refresh = self._issue_token(REFRESH, account.sub, issued.scope, grant_id)
        access = self._issue_token(ACCESS, account.sub, issued.scope, grant_id)
        return TokenGrant(account, access, refresh, self.config.access_token_ttl)

    def codes_outstanding(self) -> int:
        now = self.now()
        return sum(1 for code in self._codes.values() if code.is_outstanding(now))

    # -- tokens ----------------------------------------------------------------------

    def refresh(self, refresh_token: str) -> TokenGrant:
        current = self._tokens.get(refresh_token)
        if current is None or current.kind != REFRESH or not current.is_alive(self.now()):
            raise InvalidGrant("unknown, revoked or superseded refresh token")
        refresh = current
        if self.config.rotate_refresh_tokens:
            refresh = self._issue_token(REFRESH, current.sub, current.scope, current.grant_id)
            current.status = SUPERSEDED
        access = self._issue_token(ACCESS, current.sub, current.scope, current.grant_id)
        return TokenGrant(self.accounts[current.sub], access, refresh, self.config.access_token_ttl)

    def authenticate(self, access_token: str) -> IssuedToken | None:
        """The live access token presented as a bearer credential, if it is one."""
        issued = self._tokens.get(access_token)
        if issued is None or issued.kind != ACCESS or not issued.is_alive(self.now()):
            return None
        return issued

    def revoke_token(self, token: str) -> None:
        """Revoke the authorization this token belongs to (Cronofy's "revoke authorization").

        A token that is unknown or already dead changes nothing; the caller still gets 200
        (RFC 7009). This is also why Cronofy advises revoking with the refresh token: an
        expired access token can no longer revoke anything.
        """
        issued = self._tokens.get(token)
        if issued is None or not issued.is_alive(self.now()):
            return
        self._revoke(lambda t: t.grant_id == issued.grant_id)

    def revoke_account(self, sub: str) -> None:
        self._revoke(lambda t: t.sub == sub)

    def expire_access_tokens(self, sub: str | None = None) -> int:
        now = self.now()
        expired = 0
        for issued in self._tokens.values():
            if issued.kind == ACCESS and (sub is None or issued.sub == sub) and issued.is_alive(now):
                issued.status = EXPIRED
                expired += 1
        return expired

    def _revoke(self, selects: Callable[[IssuedToken], bool]) -> None:
        affected = set()
        for issued in self._tokens.values():
            if selects(issued) and issued.status != SUPERSEDED:
                issued.status = REVOKED
                affected.add(issued.sub)
        # An account whose authorization is gone (no live refresh token) loses its channels.
        now = self.now()
        authorized = {t.sub for t in self._tokens.values() if t.kind == REFRESH and t.is_alive(now)}
        for sub in affected - authorized:
            self.close_channels(sub)

    # -- channels --------------------------------------------------------------------

    def open_channels(self, sub: str) -> list[Channel]:
        return [channel for channel in self.channels.values() if channel.sub == sub]

    def create_channel(
        self, account: Account, callback_url: str, calendar_ids: tuple[str, ...] | None, only_managed: bool
    ) -> tuple[Channel, bool]:
        """The channel, and whether it is new: an identical request gives the existing one."""
        mine = self.open_channels(account.sub)
        for channel in mine:
            if channel.same_request(callback_url, calendar_ids, only_managed):
                return channel, False
        if len(mine) >= MAX_CHANNELS:
            raise TooManyChannels()
        channel = Channel("chn_" + secrets.token_hex(12), account.sub, callback_url, calendar_ids, only_managed)
        self.channels[channel.channel_id] = channel
        return channel, True

    def close_channel(self, sub: str, channel_id: str) -> bool:
        channel = self.channels.get(channel_id)
        if channel is None or channel.sub != sub:
            return False
        del self.channels[channel_id]
        return True

    def close_channels(self, sub: str) -> None:
        for channel in self.open_channels(sub):
            del self.channels[channel.channel_id]

    def find_channel(self, channel_id: str) -> Channel:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise NotFound(f"no open channel {channel_id!r}")
        return channel

    def record_push(self, record: PushRecord) -> PushRecord:
        self.pushes.append(record)
        del self.pushes[:-MAX_PUSH_RECORDS]
        return record

    def _issue_token(self, kind: str, sub: str, scope: tuple[str, ...], grant_id: str) -> IssuedToken:
        now = self.now()
        issued = IssuedToken(
            token=random_token(32),
            kind=kind,
            sub=sub,
            scope=scope,
            grant_id=grant_id,
            issued_at=now,
            expires_at=now + self.config.access_token_ttl if kind == ACCESS else None,
        )
        self._tokens[issued.token] = issued
        return issued

    # -- inspection ------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything the sandbox knows, for the control API (a dev tool: tokens included)."""
        now = self.now()
        return {
            "accounts": [
                {
                    "sub": account.sub,
                    **account.linking_profile_json(),
                    "profile_connected": account.connected,
                    "calendars": account.calendars_json(),
                    "events": [account.control_event_json(event) for event in account.events()],
                    "channels": [channel.to_json() for channel in self.open_channels(account.sub)],
                }
                for account in self.accounts.values()
            ],
            "tokens": [
                {
                    "sub": issued.sub,
                    "kind": issued.kind,
                    "token": issued.token,
                    "status": issued.status_at(now),
                    "scope": issued.scope_string,
                    "issued_at": issued.issued_at,
                    "expires_at": issued.expires_at,
                }
                for issued in self._tokens.values()
            ],
            "codes_outstanding": self.codes_outstanding(),
        }

    def recorded_requests(self) -> list[dict[str, Any]]:
        return [asdict(recorded) for recorded in self.requests]

    def recorded_pushes(self) -> list[dict[str, Any]]:
        return [asdict(record) for record in self.pushes]


def new_event_uid() -> str:
    return "evt_external_" + secrets.token_hex(12)


def _time_json(seconds: float) -> str:
    return format_time(timestamp_to_time(seconds))


def _default_transparency(start: EventTime) -> str:
    # §6.2: transparent for all-day events, opaque for timed ones.
    return "transparent" if start.all_day else "opaque"


def _in_window(event: Event, query: ReadQuery, ends_from: date | None, starts_before: date | None) -> bool:
    """Whether the event ends on or after `ends_from` and starts before `starts_before`.

    The dates are days in the query's `tzid`. All-day events are compared by date (their end
    date is exclusive), timed ones against midnight of those days in that zone.
    """
    if event.start.all_day:
        start, end = event.start.value, event.end.value
        if ends_from is not None and end <= ends_from:  # type: ignore[operator]
            return False
        return starts_before is None or start < starts_before  # type: ignore[operator]
    if ends_from is not None and event.end.as_datetime() < query.midnight(ends_from):
        return False
    return starts_before is None or event.start.as_datetime() < query.midnight(starts_before)


def _new_account(provider_name: str, profile_name: str, now: float) -> Account:
    profile_id = "pro_" + random_token(10, _LOWER_ALPHANUMERIC)
    profile_part = profile_id.removeprefix("pro_")
    # Real calendar ids may contain "@" and "-", so callers must URL-encode them; make sure
    # the sandbox's do too.
    writable = {"integrated_conferencing_available": provider_name in ("google", "office365")}
    calendars = [
        Calendar(f"cal_{profile_part}_{random_token(12)}", "Holidays", readonly=True),
        Calendar(f"cal_{profile_part}_{random_token(8)}-{random_token(6)}", "Work", **writable),
        Calendar(f"cal_{profile_part}_{random_token(8)}@{random_token(6)}", profile_name, primary=True, **writable),
    ]
    calendars[-1].add_event(_dentist(calendars[-1].calendar_id, now))
    return Account(
        sub="acc_" + secrets.token_hex(12),
        provider_name=provider_name,
        profile_id=profile_id,
        profile_name=profile_name,
        calendars=calendars,
    )


def _dentist(calendar_id: str, now: float) -> Event:
    """An event the user made in their own calendar, so reads can prove they leave it out."""
    tomorrow = timestamp_to_time(now).date() + timedelta(days=1)
    starts = datetime.combine(tomorrow, time(9), UTC)
    written = now - 86400  # it was there before the calendar was linked
    return Event(
        event_uid=new_event_uid(),
        calendar_id=calendar_id,
        summary="Dentist",
        description="Check-up",
        start=EventTime(starts),
        end=EventTime(starts + timedelta(minutes=30)),
        created=written,
        updated=written,
        location={"description": "Dental clinic"},
    )
