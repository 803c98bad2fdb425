"""Cronofy push notifications: signature check and parsing (cronofy.md §7.2, §7.3)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
from datetime import UTC, datetime

SIGNATURE_HEADER = "Cronofy-HMAC-SHA256"


def signature_valid(header: str | None, body: bytes, secret: str) -> bool:
    """base64(HMAC-SHA256(client secret, raw body)); during a secret rotation the header carries one
    value per active secret, comma-separated, and any match passes. Constant-time per value."""
    if not header or not secret:
        return False
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    values = [value.strip().encode() for value in header.split(",")]
    return any(hmac.compare_digest(expected, value) for value in values if value)


@dataclasses.dataclass(frozen=True)
class Notification:
    type: str
    changes_since: datetime | None = None


def parse_notification(body: bytes) -> Notification:
    """Raises ValueError for anything that is not a notification; unknown types parse fine."""
    data = json.loads(body)
    notification = data.get("notification") if isinstance(data, dict) else None
    if not isinstance(notification, dict) or not isinstance(notification.get("type"), str):
        raise ValueError("not a Cronofy notification")
    changes_since = None
    if isinstance(notification.get("changes_since"), str):
        changes_since = datetime.fromisoformat(notification["changes_since"].replace("Z", "+00:00"))
        if changes_since.tzinfo is None:
            changes_since = changes_since.replace(tzinfo=UTC)
    return Notification(type=notification["type"], changes_since=changes_since)
