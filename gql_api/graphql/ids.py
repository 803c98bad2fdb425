"""Opaque public ids and page cursors: clients never see (or need) our database keys.

Every id is `base64url("Kind:raw")` without padding, unique across the whole schema (the kind is part of
it), so a client's normalized cache can key any object by its `id` alone, and `node(id:)` can tell which
kind of object an id names. The raw parts:

- CalendarConnection, Meeting: the stored document's key;
- Calendar: its connection's key and Cronofy's calendar id (`connection:calendar`), so the calendar is
  found through a connection of the viewer's;
- Participant, CalendarEventSync: the meeting's key and the participant's place in it (`meeting:index`);
  participants are never reordered or removed, so the place is a stable key within the meeting.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime

CONNECTION = "CalendarConnection"
MEETING = "Meeting"
CALENDAR = "Calendar"
PARTICIPANT = "Participant"
CALENDAR_EVENT_SYNC = "CalendarEventSync"
NODE_KINDS = frozenset({CONNECTION, MEETING, CALENDAR})  # what `node(id:)` answers

_OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")


def encode_id(kind: str, raw: str) -> str:
    return _encode(f"{kind}:{raw}")


def decode_id(kind: str, public_id: str) -> str | None:
    """The raw key behind a public ID of `kind`; None for anything else (malformed or another kind)."""
    decoded = _decode(public_id)
    if decoded is None:
        return None
    prefix, sep, raw = decoded.partition(":")
    return raw if sep and prefix == kind and raw else None


def decode_any(public_id: str) -> tuple[str, str] | None:
    """(kind, raw) behind any public id of ours; None for anything malformed."""
    decoded = _decode(public_id)
    if decoded is None:
        return None
    kind, sep, raw = decoded.partition(":")
    return (kind, raw) if sep and kind and raw else None


def join(*parts: str | int) -> str:
    """The raw part of an id made of several keys (`connection:calendar`, `meeting:index`)."""
    return ":".join(str(part) for part in parts)


def split(raw: str) -> tuple[str, str] | None:
    """The two keys joined by `join`: the first never holds a colon (our keys are hex), the second may."""
    first, sep, second = raw.partition(":")
    return (first, second) if sep and first and second else None


def meeting_cursor(start: datetime, meeting_id: str) -> str:
    """Where a meeting stands in the list, by (start, id): a keyset position, not an offset."""
    return _encode(f"{int(start.timestamp() * 1000)}:{meeting_id}")


def decode_meeting_cursor(cursor: str) -> tuple[datetime, str] | None:
    decoded = _decode(cursor)
    if decoded is None:
        return None
    millis, _, raw_id = decoded.partition(":")
    if not _OBJECT_ID.match(raw_id) or not millis.lstrip("-").isdigit():
        return None
    try:
        return datetime.fromtimestamp(int(millis) / 1000, tz=UTC), raw_id
    except (ValueError, OverflowError, OSError):
        return None


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(value: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, ValueError):
        return None
