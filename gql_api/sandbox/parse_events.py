"""Reading Cronofy's event requests: pure functions that parse, or say what is wrong.

Each parser returns what it understood and Cronofy's 422 `errors` map,
`{field: [{"key": "errors.xxx", "description": "..."}]}`, empty when all is well.
No HTTP and no state in here (reference/cronofy.md §6.1, §6.2, §6.3, §6.5, §8.1). The Time and
Date values they read are in `times.py`, the errors map in `problems.py`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from .problems import Errors, Problems, malformed_body_errors
from .times import EventTime, is_valid_tzid, parse_date, parse_event_time, parse_time, zone

MAX_EVENT_ID = 64
MAX_SUMMARY = 1024
MAX_DESCRIPTION = 4096
TRANSPARENCIES = ("opaque", "transparent")

_EVENT_ID = re.compile(r"[\w.@-]+", re.ASCII)


class QueryParams(Protocol):
    """A query string with repeated keys kept, as aiohttp's `request.query` is."""

    def get(self, key: str, /) -> str | None: ...
    def getall(self, key: str, default: list[str], /) -> list[str]: ...


# -- upsert --------------------------------------------------------------------------


@dataclass(frozen=True)
class Invitee:
    email: str
    display_name: str | None = None


@dataclass(frozen=True)
class EventWrite:
    """One valid upsert. `None` on an optional field means "not sent: leave it as it is"."""

    event_id: str
    summary: str
    start: EventTime
    end: EventTime
    tzid: str | None = None
    description: str | None = None
    location: dict[str, str] | None = None  # {} removes the location
    transparency: str | None = None
    invite: tuple[Invitee, ...] = ()
    reject: tuple[str, ...] = ()  # e-mail addresses


def readonly_calendar_errors() -> Errors:
    problems = Problems()
    problems.add(
        "calendar_id", "calendar_readonly", "the calendar is read-only or deleted: events cannot be written to it"
    )
    return problems.errors


def parse_upsert(body: Any) -> tuple[EventWrite | None, Errors]:
    """An upsert body (§6.2) as an `EventWrite`, or the errors map."""
    if not isinstance(body, dict):
        return None, malformed_body_errors()
    problems = Problems()

    event_id = _event_id(body, problems)
    summary = body.get("summary")
    if summary is None or summary == "":
        problems.add("summary", "required", "required")
    elif not isinstance(summary, str):
        problems.add("summary", "invalid", "must be a string")
    elif len(summary) > MAX_SUMMARY:
        problems.add("summary", "too_long", f"must be at most {MAX_SUMMARY} characters")

    description = body.get("description")
    if description is not None and not isinstance(description, str):
        problems.add("description", "invalid", "must be a string")
    elif description is not None and len(description) > MAX_DESCRIPTION:
        problems.add("description", "too_long", f"must be at most {MAX_DESCRIPTION} characters")

    tzid = body.get("tzid")
    if tzid is not None and not is_valid_tzid(tzid):
        problems.add("tzid", "invalid_tzid", "must be a known IANA time zone such as Europe/London")

    start, start_tzid = _event_time(body, "start", problems)
    end, _ = _event_time(body, "end", problems)
    if start is not None and end is not None:
        if start.all_day != end.all_day:
            problems.add("end", "invalid", "start and end must both be times or both be dates")
        elif end.all_day and end.value <= start.value:
            problems.add("end", "end_before_start", "the end date (exclusive) must be after the start date")
        elif end.value < start.value:
            problems.add("end", "end_before_start", "must not be before start")

    location = _location(body, problems)
    transparency = body.get("transparency")
    if transparency is not None and transparency not in TRANSPARENCIES:
        problems.add("transparency", "invalid", "must be opaque or transparent")
    invite, reject = _attendees(body.get("attendees"), problems)

    if problems.errors:
        return None, problems.errors
    assert event_id is not None and isinstance(summary, str) and start is not None and end is not None
    return (
        EventWrite(
            event_id=event_id,
            summary=summary,
            start=start,
            end=end,
            tzid=start_tzid or tzid,
            description=description,
            location=location,
            transparency=transparency,
            invite=invite,
            reject=reject,
        ),
        {},
    )


def parse_delete(body: Any) -> tuple[str | None, Errors]:
    """The `event_id` of a delete body (§6.3), or the errors map."""
    if not isinstance(body, dict):
        return None, malformed_body_errors()
    problems = Problems()
    event_id = _event_id(body, problems)
    return event_id, problems.errors


def _event_id(body: Mapping[str, Any], problems: Problems) -> str | None:
    event_id = body.get("event_id")
    if event_id is None or event_id == "":
        problems.add("event_id", "required", "required")
    elif not isinstance(event_id, str) or _EVENT_ID.fullmatch(event_id) is None:
        problems.add("event_id", "invalid", "may contain only letters, digits, '_', '.', '@' and '-'")
    elif len(event_id) > MAX_EVENT_ID:
        problems.add("event_id", "too_long", f"must be at most {MAX_EVENT_ID} characters")
    else:
        return event_id
    return None


def _event_time(body: Mapping[str, Any], name: str, problems: Problems) -> tuple[EventTime | None, str | None]:
    raw = body.get(name)
    if raw is None:
        problems.add(name, "required", "required")
        return None, None
    parsed, tzid, problem = parse_event_time(raw)
    if problem is not None:
        problems.add(name, *problem)
    return parsed, tzid


def _location(body: Mapping[str, Any], problems: Problems) -> dict[str, str] | None:
    if "location" not in body:
        return None
    location = body["location"]
    if location is None:
        return {}
    if not isinstance(location, dict) or not all(
        isinstance(location.get(part), str) for part in ("description", "lat", "long") if part in location
    ):
        problems.add("location", "invalid", 'must be {"description": "...", "lat": "...", "long": "..."}')
        return None
    return {part: location[part] for part in ("description", "lat", "long") if part in location}


def _attendees(raw: Any, problems: Problems) -> tuple[tuple[Invitee, ...], tuple[str, ...]]:
    if raw is None:
        return (), ()
    if not isinstance(raw, dict):
        problems.add("attendees", "invalid", 'must be {"invite": [...], "reject": [...]}')
        return (), ()
    invite = _people(raw.get("invite"), "attendees.invite", problems)
    # The Ruby docs and PHP tests say `reject`, the C# SDK sends `remove` (§12): take both.
    removed = _people(raw.get("reject"), "attendees.reject", problems)
    removed += _people(raw.get("remove"), "attendees.remove", problems)
    return tuple(invite), tuple(person.email for person in removed)


def _people(raw: Any, name: str, problems: Problems) -> list[Invitee]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.add(name, "invalid", 'must be a list of {"email": "...", "display_name": "..."}')
        return []
    people = []
    for person in raw:
        email = person.get("email") if isinstance(person, dict) else None
        display_name = person.get("display_name") if isinstance(person, dict) else None
        if not isinstance(email, str) or "@" not in email.strip("@") or any(c.isspace() for c in email):
            problems.add(name, "invalid_email", f"not an e-mail address: {email!r}")
        elif display_name is not None and not isinstance(display_name, str):
            problems.add(name, "invalid", "display_name must be a string")
        else:
            people.append(Invitee(email, display_name))
    return people


# -- reading -------------------------------------------------------------------------

# §12: the default window is uncertain (16 or 42 days back, about 201 ahead); take the wider.
DEFAULT_DAYS_BACK = 42
DEFAULT_DAYS_AHEAD = 201


@dataclass(frozen=True)
class ReadQuery:
    """A `GET /v1/events` query. `from_`/`to` are None when not given (the default window)."""

    tzid: str
    from_: date | None = None
    to: date | None = None
    last_modified: datetime | None = None
    include_deleted: bool = False
    include_managed: bool = False
    only_managed: bool = False
    calendar_ids: tuple[str, ...] | None = None

    def window(self, now: datetime) -> tuple[date, date]:
        """(from, to) as given, else the default window around today: dates in `tzid`."""
        today = now.astimezone(zone(self.tzid)).date()
        return (
            self.from_ or today - timedelta(days=DEFAULT_DAYS_BACK),
            self.to or today + timedelta(days=DEFAULT_DAYS_AHEAD),
        )

    def midnight(self, day: date) -> datetime:
        """Where a `from`/`to` date begins for timed events: midnight in `tzid`, as UTC."""
        return datetime.combine(day, time(), zone(self.tzid)).astimezone(UTC)


def only_managed_requested(query: QueryParams) -> bool:
    """Whether the query asks for managed events only (decides the scope needed)."""
    return _parse_bool(query.get("only_managed")) is True


def parse_read_query(query: QueryParams) -> tuple[ReadQuery | None, Errors]:
    """A read events query (§6.5). Unknown parameters are ignored, as Cronofy does."""
    problems = Problems()

    tzid = query.get("tzid")
    if tzid is None or tzid == "":
        problems.add("tzid", "required", "required")
    elif not is_valid_tzid(tzid):
        problems.add("tzid", "invalid_tzid", "must be a known IANA time zone such as Europe/London")

    dates: dict[str, date | None] = {}
    for name in ("from", "to"):
        raw = query.get(name)
        dates[name] = None if raw in (None, "") else parse_date(raw)
        if raw not in (None, "") and dates[name] is None:
            problems.add(name, "invalid_date", "must be a date such as 2014-08-05")
    if dates["from"] and dates["to"] and dates["to"] < dates["from"]:
        problems.add("to", "invalid_date", "must not be before from")

    last_modified = None
    raw_modified = query.get("last_modified")
    if raw_modified not in (None, ""):
        last_modified, problem = parse_time(raw_modified)
        if problem is not None:
            problems.add("last_modified", "invalid_time", problem)

    flags: dict[str, bool] = {}
    for name in ("include_deleted", "include_managed", "only_managed"):
        value = _parse_bool(query.get(name))
        if value is None:
            problems.add(name, "invalid", "must be true or false")
        flags[name] = bool(value)

    calendar_ids = [*query.getall("calendar_ids[]", []), *query.getall("calendar_ids", [])]

    if problems.errors:
        return None, problems.errors
    assert tzid is not None
    return (
        ReadQuery(
            tzid=tzid,
            from_=dates["from"],
            to=dates["to"],
            last_modified=last_modified,
            calendar_ids=tuple(calendar_ids) or None,
            **flags,
        ),
        {},
    )


def _parse_bool(raw: Any) -> bool | None:
    """SDKs send true, True, false or False (§6.5); absent means false; None: not a boolean."""
    if raw is None or raw == "":
        return False
    lowered = str(raw).strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return None
