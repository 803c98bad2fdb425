"""Use cases. No Strawberry, no aiohttp: they take domain values and raise `UserFacingError`."""

import dataclasses

from .linking import LinkingService
from .revocation import Revoker


@dataclasses.dataclass(frozen=True)
class Services:
    linking: LinkingService
    revoker: Revoker


__all__ = ["LinkingService", "Revoker", "Services"]
