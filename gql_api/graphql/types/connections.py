"""Calendar connections and the linking flow."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import strawberry

from ...domain import connections as domain
from ...domain.changes import ConnectionChangeKind
from ...services.live import ConnectionUpdate
from ..ids import CALENDAR, CONNECTION, encode_id, join
from .common import Node, UserError, graphql_enum

# graphql_enum names the GraphQL enum on the domain's class itself: each name
# below is the domain enum, a type mypy can check, registered under its GraphQL name.
Provider = domain.CalendarProvider
CalendarProvider = Provider
graphql_enum(
    CalendarProvider,
    name="CalendarProvider",
    values={
        Provider.GOOGLE: "Google Calendar (Google Workspace or a Gmail account).",
        Provider.APPLE: "iCloud.",
        Provider.OFFICE365: "Microsoft 365 (Office 365).",
        Provider.EXCHANGE: "Microsoft Exchange on premises.",
        Provider.OUTLOOK_COM: "Outlook.com, Hotmail or Live.",
        Provider.OTHER: "Any other calendar Cronofy reaches.",
    },
)
Status = domain.ConnectionStatus
CalendarConnectionStatus = Status
graphql_enum(
    CalendarConnectionStatus,
    name="CalendarConnectionStatus",
    values={
        Status.ACTIVE: "Credentials work; meetings are written to the calendar.",
        Status.NEEDS_RELINK: "Cronofy or the provider no longer accepts the credentials: link the same account again.",
    },
)


@strawberry.type(description="The calendar of a linked account that receives meeting events.")
class Calendar(Node):
    id: strawberry.ID = strawberry.field(description="Opaque, like every id (it used to be Cronofy's own calendar id).")
    name: str
    primary: bool


@strawberry.type(description="A calendar account the signed-in user has linked through Cronofy.")
class CalendarConnection(Node):
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
            calendar=Calendar(
                id=strawberry.ID(encode_id(CALENDAR, join(connection.id, target.id))),
                name=target.name,
                primary=target.primary,
            )
            if target
            else None,
            linked_at=connection.linked_at,
            last_synced_at=connection.last_synced_at,
        )


CalendarConnectionChangeKind = ConnectionChangeKind
graphql_enum(
    CalendarConnectionChangeKind,
    name="CalendarConnectionChangeKind",
    values={
        ConnectionChangeKind.LINKED: "A calendar account was linked: a new connection.",
        ConnectionChangeKind.RELINKED: "An account linked before was linked again (the same connection, ACTIVE again).",
        ConnectionChangeKind.UNLINKED: "The connection was unlinked: `connection` is null, `connectionId` says which.",
        ConnectionChangeKind.NEEDS_RELINK: "The connection's credentials stopped working: its status is NEEDS_RELINK.",
        ConnectionChangeKind.SYNCED: "Changes in the calendar were read (`lastSyncedAt` moved on).",
    },
)


@strawberry.type(description="One of the signed-in user's calendar connections changed (subscription payload).")
class CalendarConnectionChange:
    kind: CalendarConnectionChangeKind
    connection_id: strawberry.ID = strawberry.field(
        description="The connection's id, also when it is gone (Relay: `connectionId @deleteRecord`)."
    )
    connection: CalendarConnection | None = strawberry.field(
        description="The connection as it is now; null once unlinked."
    )

    @classmethod
    def of(cls, update: ConnectionUpdate) -> CalendarConnectionChange:
        return cls(
            kind=update.kind,
            connection_id=strawberry.ID(encode_id(CONNECTION, update.connection_id)),
            connection=CalendarConnection.of(update.connection) if update.connection else None,
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
