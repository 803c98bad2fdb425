"""Who is asking: the platform user a verified bearer token names, and what the platform says they may do.

The platform, not this service, knows mentoring relationships and programs; it says so in the token
(DESIGN.md §9), and the services enforce it.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class User:
    id: str
    email: str | None = None
    name: str | None = None
    # Platform user ids this user may put meetings in calendars with (the `partners` claim).
    partners: frozenset[str] = frozenset()
    # Whether the user's program has the calendar integration on (the `calendar_integration` claim).
    calendar_integration: bool = True
    # Roles of a service token (the `roles` claim), e.g. the admin role that may erase users.
    roles: frozenset[str] = frozenset()
