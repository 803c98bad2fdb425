"""Use cases over the ports in `ports.py`: they take domain values and raise domain errors.

No Strawberry, aiohttp, bson or pymongo here (a test enforces it). Each service exposes single units of
work; the request path and the worker (`gql_api.worker`) share them.
"""

from __future__ import annotations

import dataclasses

from .calendar_access import CalendarAccess
from .calendar_changes import CalendarChanges
from .calendar_writes import CalendarWrites
from .linking import Linking
from .live import Announcer, LiveUpdates
from .meetings import Meetings
from .privacy import Erasures, Exports, Retention
from .push_channels import PushChannels
from .revocations import Revocations
from .throttle import Throttle


@dataclasses.dataclass(frozen=True)
class Services:
    access: CalendarAccess
    linking: Linking
    meetings: Meetings
    writes: CalendarWrites
    changes: CalendarChanges
    channels: PushChannels
    revocations: Revocations
    throttle: Throttle
    erasures: Erasures
    exports: Exports
    retention: Retention
    live: LiveUpdates


__all__ = [
    "Announcer",
    "CalendarAccess",
    "CalendarChanges",
    "CalendarWrites",
    "Erasures",
    "Exports",
    "Linking",
    "LiveUpdates",
    "Meetings",
    "PushChannels",
    "Retention",
    "Revocations",
    "Services",
    "Throttle",
]
