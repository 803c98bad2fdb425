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
from .gateway import LINK_SCOPES, CronofyCalendar, CronofyGateway, CronofyHosts, LinkingProfile, TokenGrant, hosts_for

__all__ = [
    "LINK_SCOPES",
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
    "InvalidClient",
    "InvalidGrant",
    "LinkingProfile",
    "TokenGrant",
    "hosts_for",
]
