"""Cronofy's Time and Date values: `EventTime`, parsing and formatting them, and time zones.

A Time is ISO 8601 in UTC with whole seconds (`2014-08-05T14:30:00Z`); an all-day event's start
and end are Dates (`2014-08-05`). Pure functions, shared by the request parsers and the state
(reference/cronofy.md §6.1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

DEFAULT_TZID = "Etc/UTC"

# Cronofy's Time: ISO 8601 in UTC, whole seconds. A zero fraction is harmless; anything else is
# refused, and so are offsets other than UTC (the SDKs always send `Z`; §6.1 says don't rely on
# others, so the sandbox catches a caller that does).
_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class EventTime:
    """A timed moment (aware, UTC, whole seconds) or, for all-day events, a date."""

    value: datetime | date

    @property
    def all_day(self) -> bool:
        return not isinstance(self.value, datetime)

    def to_json(self) -> str:
        if isinstance(self.value, datetime):
            return format_time(self.value)
        return self.value.isoformat()

    def as_datetime(self) -> datetime:
        """For ordering: a date counts from its midnight in UTC."""
        if isinstance(self.value, datetime):
            return self.value
        return datetime.combine(self.value, time(), UTC)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def timestamp_to_time(seconds: float) -> datetime:
    """The sandbox clock as a Cronofy Time: UTC, whole seconds (rounded down)."""
    return datetime.fromtimestamp(int(seconds // 1), UTC)


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_valid_tzid(tzid: Any) -> bool:
    return isinstance(tzid, str) and tzid in _known_zones()


def zone(tzid: str) -> ZoneInfo:
    return ZoneInfo(tzid)


def parse_time(text: Any) -> tuple[datetime | None, str | None]:
    """A Cronofy Time, or why not."""
    if not isinstance(text, str):
        return None, "must be a time such as 2014-08-05T14:30:00Z"
    match = _TIME.fullmatch(text)
    if match is None:
        return None, "must be a time such as 2014-08-05T14:30:00Z"
    day, hour, minute, second, fraction, offset = match.groups()
    if fraction and fraction.strip("0"):
        return None, "must be whole seconds: non-zero milliseconds are not allowed"
    if offset not in ("Z", "+00:00", "-00:00"):
        return None, "must be in UTC (Z or +00:00)"
    try:
        moment = datetime.fromisoformat(f"{day}T{hour}:{minute}:{second}+00:00")
    except ValueError:
        return None, "is not a real date and time"
    return moment, None


def parse_date(text: Any) -> date | None:
    if not isinstance(text, str) or _DATE.fullmatch(text) is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_event_time(raw: Any) -> tuple[EventTime | None, str | None, tuple[str, str] | None]:
    """(time, its own tzid if it came as `{time, tzid}`, (error key, description))."""
    tzid = None
    if isinstance(raw, dict):
        tzid = raw.get("tzid")
        if tzid is not None and not is_valid_tzid(tzid):
            return None, None, ("invalid_tzid", "tzid must be a known IANA time zone such as Europe/London")
        raw = raw.get("time")
        if raw is None:
            return None, None, ("required", "time is required")
    day = parse_date(raw)
    if day is not None:
        return EventTime(day), tzid, None
    moment, problem = parse_time(raw)
    if moment is None:
        return None, None, ("invalid_time", f"{problem}, or a date such as 2014-08-05")
    return EventTime(moment), tzid, None
