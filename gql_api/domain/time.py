"""Time as the domain sees it: instants in UTC, whole seconds where calendars store them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def whole_seconds(moment: datetime) -> datetime:
    """UTC, without the fraction: what Cronofy keeps of a time (cronofy.md §6.1)."""
    return moment.astimezone(timezone.utc).replace(microsecond=0)
