"""Meetings: the list and one meeting, and scheduling, updating and cancelling."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import strawberry

from gql_api.domain.errors import BadArgument
from gql_api.graphql.context import Info
from gql_api.graphql.errors import UserErrors, report_bad_argument
from gql_api.graphql.ids import MEETING, decode_id, decode_meeting_cursor, meeting_cursor
from gql_api.graphql.live import watching
from gql_api.graphql.types.common import PageInfo, given
from gql_api.graphql.types.meetings import (
    CancelMeetingInput,
    CancelMeetingPayload,
    Meeting,
    MeetingChange,
    MeetingConnection,
    MeetingEdge,
    MeetingFilter,
    RespondToMeetingInput,
    RespondToMeetingPayload,
    ScheduleMeetingInput,
    ScheduleMeetingPayload,
    UpdateMeetingInput,
    UpdateMeetingPayload,
)
from gql_api.services.meetings import DEFAULT_PAGE, MAX_PAGE


def _meeting_id(public_id: str) -> str:
    return decode_id(MEETING, public_id) or ""  # unknown and malformed ids are simply not found


FIRST = (
    f"How many meetings, from 1 to {MAX_PAGE} (default {DEFAULT_PAGE}). Outside those bounds the nearest one is "
    "served, with a BAD_USER_INPUT error at this field."
)
AFTER = (
    "The `endCursor` of the page before (`pageInfo.endCursor`). A cursor this API did not give out answers an "
    "empty page, with a BAD_USER_INPUT error at this field."
)


# strawberry.field(...) and strawberry.mutation(...) as decorator factories are typed as returning Any (those
# overloads describe dataclass-style fields), hence `type: ignore[untyped-decorator]` on each resolver below.
@strawberry.type
class MeetingQuery:
    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Meetings the signed-in user organizes or attends, by start time. A bad argument answers a "
        "page anyway (see each argument) and a BAD_USER_INPUT error at this field: the rest of the response stays."
    )
    async def meetings(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = DEFAULT_PAGE,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = strawberry.UNSET,
        filter: MeetingFilter | None = strawberry.UNSET,
    ) -> MeetingConnection:
        chosen = given(filter)
        cursor = given(after)
        position = decode_meeting_cursor(cursor) if cursor is not None else None
        if first is not None and not 1 <= first <= MAX_PAGE:
            report_bad_argument(
                info, BadArgument(f"`first` must be between 1 and {MAX_PAGE}."), argument="first", min=1, max=MAX_PAGE
            )
            first = min(max(first, 1), MAX_PAGE)
        try:
            if cursor is not None and position is None:
                raise BadArgument("`after` is not a cursor this API gave out.")
            page = await info.context.services.meetings.page(
                info.context.viewer,
                first=first,
                after=position,
                status=given(chosen.status) if chosen else None,
                ends_from=given(chosen.from_) if chosen else None,
                starts_before=given(chosen.to) if chosen else None,
            )
        except BadArgument as error:
            report_bad_argument(info, error)
            return MeetingConnection.empty()
        edges = [MeetingEdge(cursor=meeting_cursor(m.start, m.id), node=Meeting.of(m)) for m in page.meetings]
        return MeetingConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                end_cursor=edges[-1].cursor if edges else None,
                start_cursor=edges[0].cursor if edges else None,
            ),
        )

    @strawberry.field(description="One meeting the signed-in user takes part in; null otherwise.")  # type: ignore[untyped-decorator]
    async def meeting(self, info: Info, id: strawberry.ID) -> Meeting | None:
        found = await info.context.services.meetings.get(info.context.viewer, _meeting_id(id))
        return Meeting.of(found) if found else None


@strawberry.type
class MeetingMutation:
    @strawberry.mutation(  # type: ignore[untyped-decorator]
        description="Creates a meeting and puts it in every participant's calendar.", extensions=[UserErrors()]
    )
    async def schedule_meeting(self, info: Info, input: ScheduleMeetingInput) -> ScheduleMeetingPayload:
        scheduled = await info.context.services.meetings.schedule(info.context.viewer, input.to_request())
        return ScheduleMeetingPayload(meeting=Meeting.of(scheduled))

    @strawberry.mutation(  # type: ignore[untyped-decorator]
        description="Changes a meeting's time or details and updates every calendar copy.", extensions=[UserErrors()]
    )
    async def update_meeting(self, info: Info, input: UpdateMeetingInput) -> UpdateMeetingPayload:
        updated = await info.context.services.meetings.update(
            info.context.viewer, _meeting_id(input.meeting_id), input.to_changes()
        )
        return UpdateMeetingPayload(meeting=Meeting.of(updated))

    @strawberry.mutation(description="Cancels a meeting and removes it from every calendar.", extensions=[UserErrors()])  # type: ignore[untyped-decorator]
    async def cancel_meeting(self, info: Info, input: CancelMeetingInput) -> CancelMeetingPayload:
        cancelled = await info.context.services.meetings.cancel(info.context.viewer, _meeting_id(input.meeting_id))
        return CancelMeetingPayload(meeting=Meeting.of(cancelled))

    @strawberry.mutation(  # type: ignore[untyped-decorator]
        description="Answers a meeting you were invited to (the organizer changes or cancels it instead).",
        extensions=[UserErrors()],
    )
    async def respond_to_meeting(self, info: Info, input: RespondToMeetingInput) -> RespondToMeetingPayload:
        answered = await info.context.services.meetings.respond(
            info.context.viewer, _meeting_id(input.meeting_id), input.response
        )
        return RespondToMeetingPayload(meeting=Meeting.of(answered))


@strawberry.type
class MeetingSubscription:
    @strawberry.subscription(  # type: ignore[untyped-decorator]
        description="The signed-in user's meetings as they change: scheduled, updated, cancelled, answered, a "
        "calendar copy's sync status. Over a WebSocket (graphql-transport-ws) only."
    )
    async def meeting_changed(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="Only this meeting (nothing ever comes for an id that is not one of your meetings)."
            ),
        ] = None,
    ) -> AsyncIterator[MeetingChange]:
        meeting_id = _meeting_id(id) if id is not None else None
        return await watching(
            info, lambda live, viewer, socket: live.meetings(viewer, meeting_id, socket=socket), MeetingChange.of
        )
