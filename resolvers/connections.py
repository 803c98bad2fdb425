"""Calendar connections: the list and one connection, and linking and unlinking."""

from __future__ import annotations

from collections.abc import AsyncIterator

import strawberry

from gql_api.graphql.context import Info
from gql_api.graphql.errors import UserErrors
from gql_api.graphql.ids import CONNECTION, decode_id
from gql_api.graphql.live import watching
from gql_api.graphql.types.common import given
from gql_api.graphql.types.connections import (
    BeginCalendarLinkInput,
    BeginCalendarLinkPayload,
    CalendarConnection,
    CalendarConnectionChange,
    LinkCalendarInput,
    LinkCalendarPayload,
    UnlinkCalendarInput,
    UnlinkCalendarPayload,
)


# strawberry.field(...) and strawberry.mutation(...) as decorator factories are typed as returning Any (those
# overloads describe dataclass-style fields), hence `type: ignore[untyped-decorator]` on each resolver below.
@strawberry.type
class ConnectionQuery:
    @strawberry.field(description="Calendar accounts the signed-in user has linked, newest first.")  # type: ignore[untyped-decorator]
    async def calendar_connections(self, info: Info) -> list[CalendarConnection]:
        connections = await info.context.services.linking.connections(info.context.viewer)
        return [CalendarConnection.of(connection) for connection in connections]

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="One of the signed-in user's connections; null when it does not exist or is not theirs."
    )
    async def calendar_connection(self, info: Info, id: strawberry.ID) -> CalendarConnection | None:
        raw_id = decode_id(CONNECTION, id)
        connection = raw_id and await info.context.services.linking.connection(info.context.viewer, raw_id)
        return CalendarConnection.of(connection) if connection else None


@strawberry.type
class ConnectionMutation:
    @strawberry.mutation(  # type: ignore[untyped-decorator]
        description="Starts linking a calendar: returns the Cronofy authorization URL to send the browser to.",
        extensions=[UserErrors()],
    )
    async def begin_calendar_link(self, info: Info, input: BeginCalendarLinkInput) -> BeginCalendarLinkPayload:
        request = await info.context.services.linking.begin(
            info.context.viewer, redirect_uri=input.redirect_uri, provider=given(input.provider)
        )
        return BeginCalendarLinkPayload(authorization_url=request.authorization_url, expires_at=request.expires_at)

    @strawberry.mutation(  # type: ignore[untyped-decorator]
        description="Finishes linking with the code and state that Cronofy sent back to the redirect URI.",
        extensions=[UserErrors()],
    )
    async def link_calendar(self, info: Info, input: LinkCalendarInput) -> LinkCalendarPayload:
        connection = await info.context.services.linking.link(info.context.viewer, code=input.code, state=input.state)
        return LinkCalendarPayload(connection=CalendarConnection.of(connection))

    @strawberry.mutation(  # type: ignore[untyped-decorator]
        description="Revokes Cronofy's access to that calendar account and deletes its stored credentials.",
        extensions=[UserErrors()],
    )
    async def unlink_calendar(self, info: Info, input: UnlinkCalendarInput) -> UnlinkCalendarPayload:
        raw_id = decode_id(CONNECTION, input.connection_id) or ""  # malformed ids are simply not found
        await info.context.services.linking.unlink(info.context.viewer, raw_id)
        return UnlinkCalendarPayload(unlinked_connection_id=input.connection_id)


@strawberry.type
class ConnectionSubscription:
    @strawberry.subscription(  # type: ignore[untyped-decorator]
        description="The signed-in user's calendar connections as they change: linked, linked again, unlinked, "
        "needing a relink, synced. Over a WebSocket (graphql-transport-ws) only."
    )
    async def calendar_connection_changed(self, info: Info) -> AsyncIterator[CalendarConnectionChange]:
        return await watching(
            info, lambda live, viewer, socket: live.connections(viewer, socket=socket), CalendarConnectionChange.of
        )
