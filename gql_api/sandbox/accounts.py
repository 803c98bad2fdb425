"""The accounts the sandbox knows, each made on a profile's first consent with seeded calendars.

The same provider and profile name always give the same account and `sub`, which is how
relinking a calendar keeps its identity. Every new account gets three calendars (a read-only
"Holidays", "Work" and the primary one, named after the profile) and in the primary calendar one
event the user made themselves, so reads can prove they leave unmanaged events out.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time, timedelta

from .model import LOWER_ALPHANUMERIC, Account, Calendar, Event, NotFound, new_event_uid, random_token
from .times import EventTime, timestamp_to_time


class Accounts:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._by_sub: dict[str, Account] = {}
        self._by_profile: dict[tuple[str, str], str] = {}

    def __getitem__(self, sub: str) -> Account:
        return self._by_sub[sub]

    def __iter__(self) -> Iterator[Account]:
        return iter(self._by_sub.values())

    def get(self, sub: str) -> Account | None:
        return self._by_sub.get(sub)

    def link(self, provider_name: str, profile_name: str) -> Account:
        """The account of this calendar profile, created on first sight.

        The same provider and profile name (e-mail addresses ignore case) always give the
        same account and `sub`.
        """
        account = self.by_profile(provider_name, profile_name)
        if account is None:
            account = _new_account(provider_name, profile_name, self._clock())
            self._by_sub[account.sub] = account
            self._by_profile[(provider_name, profile_name.casefold())] = account.sub
        return account

    def by_profile(self, provider_name: str, profile_name: str) -> Account | None:
        sub = self._by_profile.get((provider_name, profile_name.casefold()))
        return None if sub is None else self._by_sub[sub]

    def require(self, sub: str) -> Account:
        account = self._by_sub.get(sub)
        if account is None:
            raise NotFound(f"no account {sub!r}")
        return account

    def find_calendar(self, calendar_id: str) -> tuple[Account, Calendar]:
        for account in self._by_sub.values():
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


def _new_account(provider_name: str, profile_name: str, now: float) -> Account:
    profile_id = "pro_" + random_token(10, LOWER_ALPHANUMERIC)
    profile_part = profile_id.removeprefix("pro_")
    conferencing = provider_name in ("google", "office365")
    # Real calendar ids may contain "@" and "-", so callers must URL-encode them; make sure
    # the sandbox's do too.
    calendars = [
        Calendar(f"cal_{profile_part}_{random_token(12)}", "Holidays", readonly=True),
        Calendar(
            f"cal_{profile_part}_{random_token(8)}-{random_token(6)}",
            "Work",
            integrated_conferencing_available=conferencing,
        ),
        Calendar(
            f"cal_{profile_part}_{random_token(8)}@{random_token(6)}",
            profile_name,
            primary=True,
            integrated_conferencing_available=conferencing,
        ),
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
