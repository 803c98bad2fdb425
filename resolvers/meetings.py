"""Meetings: the list and one meeting, and scheduling, updating and cancelling."""

from __future__ import annotations

import strawberry

from gql_api.domain.errors import BadArgument
from gql_api.graphql.context import Info
from gql_api.graphql.errors import UserErrors, bad_argument
from gql_api.graphql.ids import MEETING, decode_id, decode_meeting_cursor, meeting_cursor
from gql_api.graphql.types.common import PageInfo, given
from gql_api.graphql.types.meetings import (
    CancelMeetingInput,
    CancelMeetingPayload,
    Meeting,
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


def _meeting_id(public_id: str) -> str:
    return decode_id(MEETING, public_id) or ""  # unknown and malformed ids are simply not found


# strawberry.field(...) and strawberry.mutation(...) as decorator factories are typed as returning Any (those
# overloads describe dataclass-style fields), hence `type: ignore[untyped-decorator]` on each resolver below.
@strawberry.type
class MeetingQuery:
    @strawberry.field(description="Meetings the signed-in user organizes or attends, by start time.")  # type: ignore[untyped-decorator]
    async def meetings(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = strawberry.UNSET,
        filter: MeetingFilter | None = strawberry.UNSET,
    ) -> MeetingConnection:
        chosen = given(filter)
        cursor = given(after)
        position = decode_meeting_cursor(cursor) if cursor is not None else None
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
            raise bad_argument(error) from None
        edges = [MeetingEdge(cursor=meeting_cursor(m.start, m.id), node=Meeting.of(m)) for m in page.meetings]
        return MeetingConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=edges[-1].cursor if edges else None),
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
