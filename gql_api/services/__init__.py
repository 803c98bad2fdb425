"""Use cases. No Strawberry, no aiohttp: they take domain values and raise `UserFacingError`."""

import dataclasses

from .calendar_access import CalendarAccess
from .calendar_inbound import CalendarInbound
from .calendar_sync import CalendarSync
from .linking import LinkingService
from .meetings import MeetingService
from .revocation import Revoker


@dataclasses.dataclass(frozen=True)
class Services:
    access: CalendarAccess
    linking: LinkingService
    meetings: MeetingService
    revoker: Revoker
    sync: CalendarSync
    inbound: CalendarInbound


__all__ = ["CalendarAccess", "CalendarInbound", "CalendarSync", "LinkingService", "MeetingService", "Revoker", "Services"]
