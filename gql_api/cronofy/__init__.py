"""Cronofy: the gateway (the only place that builds Cronofy URLs), its values and its typed errors.

The values (models.py) and errors load eagerly and need nothing beyond the standard library; the
gateway and its httpx client load on first use (PEP 562), so services can import the values cheaply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
from .models import (
    LINK_SCOPES,
    Attendee,
    CalendarEvent,
    CronofyCalendar,
    EventAttendee,
    LinkingProfile,
    ManagedEvent,
    TokenGrant,
)

if TYPE_CHECKING:
    from .gateway import CronofyGateway, CronofyHosts, hosts_for

_FROM_GATEWAY = frozenset({"CronofyGateway", "CronofyHosts", "hosts_for"})

__all__ = [
    "LINK_SCOPES",
    "Attendee",
    "CalendarEvent",
    "CronofyBadRequest",
    "CronofyCalendar",
    "CronofyError",
    "CronofyForbidden",
    "CronofyGateway",
    "CronofyHosts",
    "CronofyLocked",
    "CronofyNotFound",
    "CronofyRateLimited",
    "CronofyServerError",
    "CronofyUnauthorized",
    "CronofyUnavailable",
    "CronofyValidationError",
    "EventAttendee",
    "InvalidClient",
    "InvalidGrant",
    "LinkingProfile",
    "ManagedEvent",
    "TokenGrant",
    "hosts_for",
]


def __getattr__(name: str) -> Any:
    if name in _FROM_GATEWAY:
        from . import gateway

        return getattr(gateway, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
