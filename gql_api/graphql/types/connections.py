"""Calendar connections and the linking flow."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import strawberry

from ...domain import connections as domain
from ..ids import CONNECTION, encode_id
from .common import UserError

# strawberry.enum names the GraphQL enum on the domain's class itself (and returns that class): each name
# below is the domain enum, a type mypy can check, registered under its GraphQL name.
CalendarProvider = domain.CalendarProvider
strawberry.enum(CalendarProvider, name="CalendarProvider")
CalendarConnectionStatus = domain.ConnectionStatus
strawberry.enum(
    CalendarConnectionStatus,
    name="CalendarConnectionStatus",
    description="ACTIVE: credentials work and meetings are written to the calendar. NEEDS_RELINK: Cronofy or the "
    "provider no longer accepts the credentials; link the same account again.",
)


@strawberry.type
class Calendar:
    id: strawberry.ID
    name: str
    primary: bool


@strawberry.type
class CalendarConnection:
    id: strawberry.ID
    provider: CalendarProvider
    profile_name: str = strawberry.field(description="The account as the provider shows it, usually an e-mail address.")
    status: CalendarConnectionStatus
    scopes: list[str] = strawberry.field(description="Cronofy scopes granted to this connection.")
    calendar: Calendar | None = strawberry.field(description="The calendar that receives meeting events.")
    linked_at: datetime
    last_synced_at: datetime | None = strawberry.field(
        description="Last time changes from this calendar were read successfully."
    )

    @classmethod
    def of(cls, connection: domain.CalendarConnection) -> CalendarConnection:
        target = connection.calendar
        return cls(
            id=strawberry.ID(encode_id(CONNECTION, connection.id)),
            provider=connection.provider,
            profile_name=connection.profile_name,
            status=connection.status,
            scopes=list(connection.scopes),
            calendar=Calendar(id=strawberry.ID(target.id), name=target.name, primary=target.primary)
            if target
            else None,
            linked_at=connection.linked_at,
            last_synced_at=connection.last_synced_at,
        )


@strawberry.input
class BeginCalendarLinkInput:
    redirect_uri: str = strawberry.field(description="Must be one of the server's allowed redirect URIs.")
    provider: CalendarProvider | None = strawberry.field(
        default=strawberry.UNSET, description="Pre-selects a provider on Cronofy's page."
    )


@strawberry.type
class BeginCalendarLinkPayload:
    authorization_url: str | None = None
    expires_at: datetime | None = strawberry.field(
        default=None, description="After this the state in the URL is no longer accepted."
    )
    user_errors: list[UserError] = dataclasses.field(default_factory=list)


@strawberry.input
class LinkCalendarInput:
    code: str
    state: str


@strawberry.type
class LinkCalendarPayload:
    connection: CalendarConnection | None = None
    user_errors: list[UserError] = dataclasses.field(default_factory=list)


@strawberry.input
class UnlinkCalendarInput:
    connection_id: strawberry.ID


@strawberry.type
class UnlinkCalendarPayload:
    unlinked_connection_id: strawberry.ID | None = None
    user_errors: list[UserError] = dataclasses.field(default_factory=list)
