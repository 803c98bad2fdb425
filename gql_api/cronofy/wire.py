"""Cronofy's JSON, read and written (reference/cronofy.md): pure functions, no I/O, no HTTP client.

What Cronofy sends is checked as it is read: a shape we cannot use becomes `CronofyUnavailable`, and
upstream text is never copied into an exception, because an upstream body can echo our tokens.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Any

from ..domain.secrets import Secret
from .errors import (
    CronofyBadRequest,
    CronofyError,
    CronofyForbidden,
    CronofyLocked,
    CronofyNotFound,
    CronofyRateLimited,
    CronofyServerError,
    CronofyUnauthorized,
    CronofyUnavailable,
    CronofyValidationError,
    InvalidClient,
    InvalidGrant,
)
from .models import Attendee, CalendarEvent, CronofyCalendar, EventAttendee, LinkingProfile, ManagedEvent, TokenGrant

OAUTH_ERRORS = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
    }
)  # RFC 6749 §5.2
MAX_EXPIRES_IN = 2_147_483_647  # cronofy.md §3.3
USUAL_EXPIRES_IN = 3600
MAX_RETRY_AFTER = 86_400.0


# --- what we send -------------------------------------------------------------------------------


def cronofy_time(moment: datetime) -> str:
    """Whole-second UTC: Cronofy rejects non-zero milliseconds (cronofy.md §6.1)."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_body(event: CalendarEvent) -> dict[str, Any]:
    """The upsert body of a managed event; optional parts are left out rather than sent empty."""
    body: dict[str, Any] = {
        "event_id": event.event_id,
        "summary": event.summary,
        "description": event.description or "",
        "start": cronofy_time(event.start),
        "end": cronofy_time(event.end),
        "tzid": event.tzid,
    }
    if event.location:
        body["location"] = {"description": event.location}
    if event.attendees or event.rejected:
        body["attendees"] = {
            key: [_attendee(a) for a in people]
            for key, people in (("invite", event.attendees), ("reject", event.rejected))
            if people
        }
    return body


def event_fingerprint(event: CalendarEvent) -> str:
    """The upsert body, reduced to a short hash: the same fingerprint, the same write."""
    return hashlib.sha256(json.dumps(event_body(event), sort_keys=True).encode()).hexdigest()[:32]


def _attendee(attendee: Attendee) -> dict[str, str]:
    return {"email": attendee.email, **({"display_name": attendee.display_name} if attendee.display_name else {})}


# --- what Cronofy answers -----------------------------------------------------------------------


def token_grant(data: Any, *, previous_refresh_token: Secret | None) -> TokenGrant:
    if not isinstance(data, dict) or not isinstance(data.get("access_token"), str) or not data["access_token"]:
        raise CronofyUnavailable("Cronofy sent an unexpected token response")
    refresh = data.get("refresh_token")
    if isinstance(refresh, str) and refresh:
        refresh_token = Secret(refresh)
    elif previous_refresh_token is not None:
        refresh_token = previous_refresh_token  # a refresh may leave the refresh token as it was
    else:
        raise CronofyUnavailable("Cronofy sent a token response without a refresh token")
    profile = data.get("linking_profile")
    return TokenGrant(
        access_token=Secret(data["access_token"]),
        refresh_token=refresh_token,
        expires_in=expires_in(data.get("expires_in")),
        scope=scopes(data.get("scope")),
        sub=_text(data.get("sub")) or _text(data.get("account_id")),
        linking_profile=LinkingProfile(
            provider_name=_text(profile.get("provider_name")),
            profile_id=_text(profile.get("profile_id")),
            profile_name=_text(profile.get("profile_name")),
        )
        if isinstance(profile, dict)
        else None,
    )


def expires_in(value: Any) -> int:
    """Seconds, as Cronofy documents them (1..2**31-1); anything else gets the usual hour."""
    digits = isinstance(value, str) and value.isascii() and value.isdigit()
    if digits or (isinstance(value, float) and value.is_integer()):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_EXPIRES_IN:
        return value
    return USUAL_EXPIRES_IN


def scopes(value: Any) -> tuple[str, ...]:
    return tuple(value.split()) if isinstance(value, str) else ()


def calendars(data: Any) -> list[CronofyCalendar]:
    """The calendar list; items without a calendar id are skipped."""
    items = data.get("calendars") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise CronofyUnavailable("Cronofy sent an unexpected calendars response")
    return [
        calendar(item)
        for item in items
        if isinstance(item, dict) and isinstance(item.get("calendar_id"), str) and item["calendar_id"]
    ]


def calendar(item: dict[str, Any]) -> CronofyCalendar:
    return CronofyCalendar(
        calendar_id=item["calendar_id"],
        name=_text(item.get("calendar_name")) or item["calendar_id"],
        primary=item.get("calendar_primary") is True,
        readonly=item.get("calendar_readonly") is True,
        deleted=item.get("calendar_deleted") is True,
        provider_name=_text(item.get("provider_name")),
        profile_name=_text(item.get("profile_name")),
    )


def managed_events_page(data: Any, api: str) -> tuple[list[ManagedEvent], str | None]:
    """One page of a managed-events read: its events, and the next page's URL on `api` (or None)."""
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise CronofyUnavailable("Cronofy sent an unexpected events response")
    events = [event for item in data["events"] if (event := managed_event(item)) is not None]
    pages: dict[str, Any] = data["pages"] if isinstance(data.get("pages"), dict) else {}
    return events, next_page(pages.get("next_page"), api)


def managed_event(item: Any) -> ManagedEvent | None:
    """None for an item without an event or calendar id; deleted covers `deleted` and a cancelled status."""
    if not isinstance(item, dict) or not _text(item.get("event_id")) or not _text(item.get("calendar_id")):
        return None
    location = item.get("location")
    attendees: list[Any] = item["attendees"] if isinstance(item.get("attendees"), list) else []
    return ManagedEvent(
        calendar_id=item["calendar_id"],
        event_id=item["event_id"],
        deleted=item.get("deleted") is True or item.get("status") == "cancelled",
        updated=instant(item.get("updated")),
        summary=item.get("summary") if isinstance(item.get("summary"), str) else None,
        description=item.get("description") if isinstance(item.get("description"), str) else None,
        location=_text(location.get("description")) if isinstance(location, dict) else None,
        start=instant(item.get("start")),
        end=instant(item.get("end")),
        attendees=tuple(
            EventAttendee(a["email"], a["status"] if isinstance(a.get("status"), str) else "unknown")
            for a in attendees
            if isinstance(a, dict) and _text(a.get("email"))
        ),
    )


def instant(value: Any) -> datetime | None:
    """A Cronofy Time ("2014-08-05T14:30:00Z"); None for dates (all-day) and anything unreadable."""
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def next_page(value: Any, api: str) -> str | None:
    """next_page is absolute; follow it only on the host (and path) we called, never elsewhere."""
    if not isinstance(value, str) or not value:
        return None
    if not value.startswith(api + "/"):
        raise CronofyUnavailable("Cronofy's next_page pointed outside the data center's API host")
    return value


def channel_id(data: Any) -> str:
    channel = data.get("channel") if isinstance(data, dict) else None
    if not isinstance(channel, dict) or not isinstance(ident := channel.get("channel_id"), str):
        raise CronofyUnavailable("Cronofy sent an unexpected channel response")
    return ident


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# --- failures -----------------------------------------------------------------------------------


def error_for(
    status: int, body: Any, *, what: str, token_endpoint: bool, retry_after: str | None = None
) -> CronofyError:
    """The typed error for a failed answer (cronofy.md §8.1). `body` is the decoded JSON, or None when
    the body was not JSON; `what` names the call ("POST /oauth/token") and is all the message says."""
    body = body if isinstance(body, dict) else {}
    oauth_error = body.get("error") if isinstance(body.get("error"), str) else None
    message = f"Cronofy answered {status} to {what}"
    if token_endpoint and (status == 401 or oauth_error == "invalid_client"):
        return InvalidClient(message, status=status)
    if status == 400:
        if oauth_error == "invalid_grant":
            return InvalidGrant(message)
        known = oauth_error if oauth_error in OAUTH_ERRORS else "bad request"  # never copy upstream text
        return CronofyBadRequest(f"{message} ({known})")
    if status == 401:
        return CronofyUnauthorized(message)
    if status == 403:
        return CronofyForbidden(message)
    if status == 404:
        return CronofyNotFound(message)
    if status == 422:
        errors = body.get("errors") if isinstance(body.get("errors"), dict) else {}
        return CronofyValidationError(message, errors=errors)
    if status == 423:
        return CronofyLocked(message)
    if status == 429:
        return CronofyRateLimited(message, retry_after=parse_retry_after(retry_after))
    if status >= 500:
        return CronofyServerError(message, status=status)
    return CronofyError(message, status=status)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait, from delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(MAX_RETRY_AFTER, max(0.0, when.timestamp() - (time.time() if now is None else now)))
