"""Events in the accounts' calendars: written and read by the app, changed by the calendar's user.

`Calendars` is the app's side (§6): upserting and deleting its managed events, reading events with
the `only_managed`, `include_deleted`, `last_modified` and window filters, and remembering every
write with who made it. `Pages` keeps the results of reads for their `next_page` links. `User`
plays the person who owns the calendar (the control API's `act/...`): moving, editing, deleting
and answering events, and losing and regaining the profile's connection; what the user does
comes back as the pushes Cronofy would send about it (`channels_state.py`).
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Callable
from datetime import date

from .accounts import Accounts
from .channels_state import Channels
from .config import SandboxConfig
from .model import (
    BY_APP,
    BY_USER,
    MAX_EVENT_CHANGES,
    MAX_PAGED_READS,
    PROFILE_DISCONNECTED,
    Account,
    Attendee,
    Calendar,
    Conflict,
    Event,
    EventChange,
    NotFound,
    Notification,
    PagedRead,
    Push,
    new_event_uid,
)
from .parse_events import EventWrite, ReadQuery
from .render import event_json
from .times import EventTime, timestamp_to_time


class Calendars:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.changes: list[EventChange] = []

    def upsert(self, account: Account, calendar: Calendar, write: EventWrite) -> Event:
        """Create or update the app's event `(calendar, event_id)` (§6.2)."""
        now = self.config.clock()
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
        _apply(event, write)
        self.written(account, event, "upsert", BY_APP, now)
        return event

    def delete(self, account: Account, calendar: Calendar, event_id: str) -> Event | None:
        """Mark the app's event deleted (kept, so `include_deleted` reads still see it).

        Unknown or already deleted events change nothing (§6.3 leaves it open; idempotent).
        """
        event = calendar.managed_event(event_id)
        if event is None or event.deleted:
            return None
        event.deleted = True
        self.written(account, event, "delete", BY_APP, self.config.clock())
        return event

    def read(self, account: Account, query: ReadQuery) -> PagedRead:
        """Run a read events query (§6.5); its result is kept whole for paging."""
        from_, to = query.window(timestamp_to_time(self.config.clock()))
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
            events=[event_json(account, event) for event in found],
            page_size=self.config.events_page_size,
        )

    def written(self, account: Account, event: Event, action: str, by: str, at: float) -> EventChange:
        """The event was just written at `at`: bump `updated` and remember who did what."""
        event.updated = at
        event.last_written_by = by
        change = EventChange(account.sub, event.calendar_id, event.event_uid, event.event_id, action, by, at)
        self.changes.append(change)
        del self.changes[:-MAX_EVENT_CHANGES]
        return change

    def user_changes_since(self, sub: str, since: float) -> list[EventChange]:
        return [c for c in self.changes if c.sub == sub and c.by == BY_USER and c.at >= since]


class Pages:
    """Reads kept for their `next_page` links; past `MAX_PAGED_READS` the oldest are forgotten."""

    def __init__(self) -> None:
        self._pages: OrderedDict[str, tuple[PagedRead, int]] = OrderedDict()

    def remember(self, read: PagedRead, number: int) -> str:
        """An opaque token for page `number` of `read`, to put in a `next_page` link."""
        token = secrets.token_hex(8)
        self._pages[token] = (read, number)
        while len(self._pages) > MAX_PAGED_READS:
            self._pages.popitem(last=False)
        return token

    def recall(self, token: str, sub: str) -> tuple[PagedRead, int] | None:
        """The read and page number behind a `next_page` token, for the account that made it."""
        found = self._pages.get(token)
        if found is None or found[0].sub != sub:
            return None
        return found


class User:
    """The calendar's owner. Each act gives the pushes Cronofy would send about it.

    An event is named by the app's `event_id` or by its `event_uid`. Acting on an unknown
    calendar, event or attendee raises `NotFound`; acting on a deleted event, `Conflict`.
    """

    def __init__(
        self, accounts: Accounts, calendars: Calendars, channels: Channels, clock: Callable[[], float]
    ) -> None:
        self._accounts = accounts
        self._calendars = calendars
        self._channels = channels
        self._clock = clock

    def move(
        self, calendar_id: str, event_ref: str, start: EventTime, end: EventTime, tzid: str | None = None
    ) -> tuple[Event, list[Push]]:
        account, event = self._live_event(calendar_id, event_ref)
        event.start, event.end = start, end
        if tzid is not None:
            event.tzid = tzid
        return event, self._changed(account, event, "upsert")

    def edit(
        self,
        calendar_id: str,
        event_ref: str,
        *,
        summary: str | None = None,
        description: str | None = None,
        location: dict[str, str] | None = None,
    ) -> tuple[Event, list[Push]]:
        account, event = self._live_event(calendar_id, event_ref)
        if summary is not None:
            event.summary = summary
        if description is not None:
            event.description = description
        if location is not None:
            event.location = dict(location)
        return event, self._changed(account, event, "upsert")

    def delete(self, calendar_id: str, event_ref: str) -> tuple[Event, list[Push]]:
        account, event = self._live_event(calendar_id, event_ref)
        event.deleted = True
        return event, self._changed(account, event, "delete")

    def respond(self, calendar_id: str, event_ref: str, email: str, status: str) -> tuple[Event, list[Push]]:
        """An invitee answers; the calendar's owner answering sets the event's participation status."""
        account, event = self._live_event(calendar_id, event_ref)
        attendee = event.find_attendee(email)
        if attendee is not None:
            attendee.status = status
        elif email.casefold() == account.profile_name.casefold():
            event.participation_status = status
        else:
            raise NotFound(f"{email!r} is not invited to this event")
        return event, self._changed(account, event, "respond")

    def disconnect(self, sub: str) -> list[Push]:
        """The provider refused Cronofy: the profile needs relinking. Pushes for every channel.

        Disconnecting a disconnected profile changes nothing and pushes nothing.
        """
        account = self._accounts.require(sub)
        if not account.connected:
            return []
        account.connected = False
        account.disconnected_at = self._clock()
        return self._channels.tell(sub, Notification(PROFILE_DISCONNECTED))

    def reconnect(self, account: Account) -> list[Push]:
        """The user authorized the profile again. Cronofy then syncs the calendar and notifies
        what the user changed while it could not see it (a `change` since the first such change).
        """
        if account.connected:
            return []
        since = account.disconnected_at or self._clock()
        account.connected, account.disconnected_at = True, None
        return self._channels.tell_changes(account.sub, self._calendars.user_changes_since(account.sub, since))

    def _live_event(self, calendar_id: str, event_ref: str) -> tuple[Account, Event]:
        account, event = self._accounts.find_event(calendar_id, event_ref)
        if event.deleted:
            raise Conflict("the event is deleted")
        return account, event

    def _changed(self, account: Account, event: Event, action: str) -> list[Push]:
        """Remember the change and say which channels hear of it.

        While the profile is disconnected Cronofy cannot see the calendar: the change is kept
        and notified when the profile is reconnected.
        """
        change = self._calendars.written(account, event, action, BY_USER, self._clock())
        return self._channels.tell_changes(account.sub, [change]) if account.connected else []


def _apply(event: Event, write: EventWrite) -> None:
    """Replace what the upsert sent; leave the rest (§6.2: editing means resending)."""
    kind_changed = write.start.all_day != event.start.all_day
    event.summary, event.start, event.end = write.summary, write.start, write.end
    if write.tzid is not None:
        event.tzid = write.tzid
    if write.description is not None:
        event.description = write.description
    if write.location is not None:
        event.location = dict(write.location)
    if write.transparency is not None:
        event.transparency = write.transparency
    elif kind_changed:
        event.transparency = _default_transparency(write.start)
    for invitee in write.invite:
        if event.find_attendee(invitee.email) is None:
            event.attendees.append(Attendee(invitee.email, invitee.display_name))
    removed = {email.casefold() for email in write.reject}
    event.attendees = [a for a in event.attendees if a.email.casefold() not in removed]


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
        if ends_from is not None and end <= ends_from:
            return False
        return starts_before is None or start < starts_before
    if ends_from is not None and event.end.as_datetime() < query.midnight(ends_from):
        return False
    return starts_before is None or event.start.as_datetime() < query.midnight(starts_before)
