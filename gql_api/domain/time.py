"""Time as the domain sees it: instants in UTC, whole seconds where calendars store them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def whole_seconds(moment: datetime) -> datetime:
    """UTC, without the fraction: what Cronofy keeps of a time (cronofy.md §6.1)."""
    return moment.astimezone(UTC).replace(microsecond=0)
