"""Calendar connections: one linked Cronofy account of a user, its credential and the linking flow."""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime

from .secrets import Secret


class CalendarProvider(enum.Enum):
    GOOGLE = "google"
    APPLE = "apple"
    OFFICE365 = "office365"
    EXCHANGE = "exchange"
    OUTLOOK_COM = "live_connect"
    OTHER = "other"

    @classmethod
    def from_cronofy(cls, provider_name: str | None) -> CalendarProvider:
        """DESIGN.md §7: Cronofy's provider_name to our enum; anything unknown is OTHER."""
        for provider in cls:
            if provider.value == provider_name and provider is not cls.OTHER:
                return provider
        return cls.OTHER


class ConnectionStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    NEEDS_RELINK = "NEEDS_RELINK"


@dataclasses.dataclass(frozen=True)
class TargetCalendar:
    id: str
    name: str
    primary: bool


@dataclasses.dataclass(frozen=True)
class Credential:
    """The Cronofy credential in the clear; lives only in memory, never in a response or log."""

    access_token: Secret
    refresh_token: Secret
    access_token_expires_at: datetime


@dataclasses.dataclass(frozen=True)
class CalendarConnection:
    id: str
    user_id: str
    sub: str
    provider: CalendarProvider
    profile_name: str
    status: ConnectionStatus
    scopes: tuple[str, ...]
    calendar: TargetCalendar | None
    data_center: str
    linked_at: datetime
    last_synced_at: datetime | None = None
    channel_id: str | None = None  # the push channel that tells us about changes in this calendar


@dataclasses.dataclass(frozen=True)
class LinkState:
    user_id: str
    redirect_uri: str
    data_center: str
    expires_at: datetime


@dataclasses.dataclass(frozen=True)
class AuthorizationRequest:
    authorization_url: str
    expires_at: datetime


@dataclasses.dataclass(frozen=True)
class PendingRevocation:
    """Revoke `refresh_token` (one grant) and/or everything of the account `sub` (an unlink)."""

    id: str
    refresh_token: Secret | None
    sub: str | None
    data_center: str
    attempts: int
    owed_at: datetime  # a grant stored after this is not the one owed, and must survive the payment


class ReadReason(enum.Enum):
    """Why a read of a calendar's changes is due: what it is for, and so how urgent it is."""

    PUSH = "push"  # Cronofy told us something changed
    RECONCILE = "reconcile"  # nobody told us: a push may have been missed (the calendar holds an upcoming meeting)
    CHANNEL = "channel"  # the push channel is missing: open it first


@dataclasses.dataclass(frozen=True)
class ChangeReading:
    """Where the reading of a connection's calendar changes stands, as a worker claimed it."""

    channel_id: str | None
    changes_since: datetime | None
    requests_seen: int
    reason: ReadReason = ReadReason.PUSH
