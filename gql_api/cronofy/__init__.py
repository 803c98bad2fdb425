"""Cronofy: the gateway (the only place that builds Cronofy URLs) and its typed errors."""

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
from .gateway import LINK_SCOPES, CronofyGateway, CronofyHosts, hosts_for
from .models import (
    Attendee,
    CalendarEvent,
    CronofyCalendar,
    EventAttendee,
    LinkingProfile,
    ManagedEvent,
    TokenGrant,
)

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
