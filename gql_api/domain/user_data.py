"""Everything the service holds about one user, as an export shows it (README "Your users' data").

Credentials never: of a connection only the fact that encrypted credentials are held, and since when.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from .connections import CalendarConnection, LinkState
from .meetings import Meeting


@dataclasses.dataclass(frozen=True)
class HeldConnection:
    connection: CalendarConnection
    credentials_since: datetime | None  # when the credential now stored (encrypted) was granted


@dataclasses.dataclass(frozen=True)
class OwedRevocation:
    """A grant of theirs that Cronofy has not confirmed revoking yet (an unlink while Cronofy was away)."""

    owed_since: datetime
    attempts: int
    next_attempt_at: datetime
    last_error: str | None


@dataclasses.dataclass(frozen=True)
class UserData:
    user_id: str
    exported_at: datetime
    connections: tuple[HeldConnection, ...]
    meetings: tuple[Meeting, ...]  # the meetings they organize or attend, by start
    revocations: tuple[OwedRevocation, ...]
    link_requests: tuple[LinkState, ...]  # calendar links begun and not finished (they expire in minutes)
