"""Calendar connections: queries and the link/unlink mutations."""

from __future__ import annotations

import strawberry

from gql_api.context import Info
from gql_api.errors import UserFacingError
from gql_api.ids import decode_id
from gql_api.types import (
    CONNECTION_ID_KIND,
    BeginCalendarLinkInput,
    BeginCalendarLinkPayload,
    CalendarConnection,
    LinkCalendarInput,
    LinkCalendarPayload,
    UnlinkCalendarInput,
    UnlinkCalendarPayload,
    UserError,
)


async def calendar_connections(info: Info) -> list[CalendarConnection]:
    connections = await info.context.services.linking.connections(info.context.viewer)
    return [CalendarConnection.of(connection) for connection in connections]


async def calendar_connection(info: Info, id: strawberry.ID) -> CalendarConnection | None:
    raw_id = decode_id(CONNECTION_ID_KIND, id)
    connection = raw_id and await info.context.services.linking.connection(info.context.viewer, raw_id)
    return CalendarConnection.of(connection) if connection else None


async def begin_calendar_link(info: Info, input: BeginCalendarLinkInput) -> BeginCalendarLinkPayload:
    try:
        request = await info.context.services.linking.begin(
            info.context.viewer, redirect_uri=input.redirect_uri, provider=input.provider or None
        )
    except UserFacingError as error:
        return BeginCalendarLinkPayload(user_errors=UserError.all_of(error))
    return BeginCalendarLinkPayload(authorization_url=request.authorization_url, expires_at=request.expires_at)


async def link_calendar(info: Info, input: LinkCalendarInput) -> LinkCalendarPayload:
    try:
        connection = await info.context.services.linking.link(info.context.viewer, code=input.code, state=input.state)
    except UserFacingError as error:
        return LinkCalendarPayload(user_errors=UserError.all_of(error))
    return LinkCalendarPayload(connection=CalendarConnection.of(connection))


async def unlink_calendar(info: Info, input: UnlinkCalendarInput) -> UnlinkCalendarPayload:
    raw_id = decode_id(CONNECTION_ID_KIND, input.connection_id) or ""  # malformed ids are simply not found
    try:
        await info.context.services.linking.unlink(info.context.viewer, raw_id)
    except UserFacingError as error:
        return UnlinkCalendarPayload(user_errors=UserError.all_of(error))
    return UnlinkCalendarPayload(unlinked_connection_id=strawberry.ID(input.connection_id))
