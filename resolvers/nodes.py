"""Relay's Global Object Identification: `node(id:)` and `nodes(ids:)` fetch any object by its id.

They answer only what the signed-in user may see, and null otherwise: the same null whether the object
is missing, not theirs, or the id malformed, so an id tells nobody whether its object exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import strawberry

from gql_api.domain.errors import BadArgument
from gql_api.graphql.context import Info
from gql_api.graphql.errors import report_bad_argument
from gql_api.graphql.ids import CALENDAR, CONNECTION, MEETING, decode_any, split
from gql_api.graphql.limits import MAX_NODES
from gql_api.graphql.types.common import Node
from gql_api.graphql.types.connections import CalendarConnection
from gql_api.graphql.types.meetings import Meeting

IDS = (
    f"At most {MAX_NODES}; beyond that, only the first {MAX_NODES} are looked up (the rest answer null) and a "
    "BAD_USER_INPUT error stands at this field."
)


async def find_nodes(info: Info, ids: Sequence[str]) -> list[Node | None]:
    """Each id's object, in order: one read of the meetings asked for, one of the viewer's connections."""
    viewer, services = info.context.viewer, info.context.services
    wanted = [decode_any(public_id) for public_id in ids]
    meeting_ids = [raw for kind, raw in filter(None, wanted) if kind == MEETING]
    meetings = await services.meetings.get_many(viewer, meeting_ids) if meeting_ids else {}
    connections = (
        {c.id: c for c in await services.linking.connections(viewer)}
        if any(kind in (CONNECTION, CALENDAR) for kind, _ in filter(None, wanted))
        else {}
    )

    def found(kind: str, raw: str) -> Node | None:
        if kind == MEETING:
            meeting = meetings.get(raw)
            return Meeting.of(meeting) if meeting else None
        if kind == CONNECTION:
            connection = connections.get(raw)
            return CalendarConnection.of(connection) if connection else None
        if kind == CALENDAR and (keys := split(raw)) is not None:
            connection = connections.get(keys[0])
            if connection and connection.calendar and connection.calendar.id == keys[1]:
                return CalendarConnection.of(connection).calendar
        return None

    return [found(*key) if key else None for key in wanted]


# strawberry.field(...) as a decorator factory is typed as returning Any, hence the type: ignore below.
@strawberry.type
class NodeQuery:
    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Any object by its id (Relay): a Meeting, CalendarConnection or Calendar the signed-in user "
        "may see; null otherwise, the same whether it does not exist or is not theirs."
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return (await find_nodes(info, [id]))[0]

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Objects by their ids, in the same order, each as `node(id:)` would answer it."
    )
    async def nodes(
        self, info: Info, ids: Annotated[list[strawberry.ID], strawberry.argument(description=IDS)]
    ) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            report_bad_argument(
                info, BadArgument(f"`ids` may hold at most {MAX_NODES} ids."), argument="ids", max=MAX_NODES
            )
            return [*await find_nodes(info, ids[:MAX_NODES]), *[None] * (len(ids) - MAX_NODES)]
        return await find_nodes(info, ids)
