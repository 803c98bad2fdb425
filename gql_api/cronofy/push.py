"""Cronofy push notifications: signature check and parsing (cronofy.md §7.2, §7.3)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
from datetime import UTC, datetime

SIGNATURE_HEADER = "Cronofy-HMAC-SHA256"
# Instants a real notification can carry. Outside them the instant is not Cronofy's (a signed body can
# still be wrong), and near datetime's own ends, later arithmetic (a minute of overlap subtracted before
# reading changes) would overflow.
EARLIEST_CHANGE = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_CHANGE = datetime(2100, 1, 1, tzinfo=UTC)


def signature_valid(header: str | None, body: bytes, secret: str) -> bool:
    """base64(HMAC-SHA256(client secret, raw body)); during a secret rotation the header carries one
    value per active secret, comma-separated, and any match passes. Constant-time per value."""
    if not header or not secret:
        return False
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    # surrogateescape: header bytes that were not UTF-8 arrive as surrogates, and compare as the bytes they were
    values = [value.strip().encode("utf-8", "surrogateescape") for value in header.split(",")]
    return any(hmac.compare_digest(expected, value) for value in values if value)


@dataclasses.dataclass(frozen=True)
class Notification:
    type: str
    changes_since: datetime | None = None


def parse_notification(body: bytes) -> Notification:
    """Raises ValueError for anything that is not a notification; unknown types parse fine.

    Only ValueError: the body is signed but still not trusted to be well-formed, and whatever else
    parsing raises (RecursionError for deep nesting, OverflowError for an instant at the calendar's
    edge) would be a 500."""
    try:
        data = json.loads(body)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    notification = data.get("notification") if isinstance(data, dict) else None
    if not isinstance(notification, dict) or not isinstance(notification.get("type"), str):
        raise ValueError("not a Cronofy notification")
    changes_since = None
    if isinstance(notification.get("changes_since"), str):
        changes_since = _instant(notification["changes_since"])
    return Notification(type=notification["type"], changes_since=changes_since)


def _instant(text: str) -> datetime:
    try:
        instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        in_range = EARLIEST_CHANGE <= instant < LATEST_CHANGE  # compares in UTC, may overflow at the edges
    except OverflowError:
        in_range = False
    if not in_range:
        raise ValueError("changes_since is not a plausible instant")
    return instant
