"""Meetings: the list and one meeting, and schedule/update/cancel."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError

from gql_api.context import Info
from gql_api.errors import BadArgument, UserFacingError
from gql_api.ids import decode_id
from gql_api.services.meetings import UNCHANGED, MeetingChanges, MeetingPage, ParticipantRequest
from gql_api.types import (
    MEETING_ID_KIND,
    CancelMeetingInput,
    CancelMeetingPayload,
    Meeting,
    MeetingConnection,
    MeetingEdge,
    MeetingFilter,
    PageInfo,
    ScheduleMeetingInput,
    ScheduleMeetingPayload,
    UpdateMeetingInput,
    UpdateMeetingPayload,
    UserError,
)


def _given(value: Any) -> Any:
    return None if value is strawberry.UNSET else value


def _change(value: Any) -> Any:
    return UNCHANGED if value is strawberry.UNSET else value


def _meeting_id(public_id: str) -> str:
    return decode_id(MEETING_ID_KIND, public_id) or ""  # unknown and malformed ids are simply not found


async def meetings(
    info: Info,
    first: int | None = 20,
    after: str | None = strawberry.UNSET,
    filter: MeetingFilter | None = strawberry.UNSET,
) -> MeetingConnection:
    chosen = _given(filter)
    try:
        page = await info.context.services.meetings.page(
            info.context.viewer,
            first=first,
            after=_given(after),
            status=_given(chosen.status) if chosen else None,
            ends_from=_given(chosen.from_) if chosen else None,
            starts_before=_given(chosen.to) if chosen else None,
        )
    except BadArgument as error:
        raise GraphQLError(str(error), extensions={"code": "BAD_USER_INPUT"}) from None
    edges = [MeetingEdge(cursor=MeetingPage.cursor(m), node=Meeting.of(m)) for m in page.meetings]
    return MeetingConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=edges[-1].cursor if edges else None),
    )


async def meeting(info: Info, id: strawberry.ID) -> Meeting | None:
    found = await info.context.services.meetings.get(info.context.viewer, _meeting_id(id))
    return Meeting.of(found) if found else None


async def schedule_meeting(info: Info, input: ScheduleMeetingInput) -> ScheduleMeetingPayload:
    try:
        scheduled = await info.context.services.meetings.schedule(
            info.context.viewer,
            title=input.title,
            description=_given(input.description),
            location=_given(input.location),
            start=input.start,
            end=input.end,
            time_zone=input.time_zone,
            participants=[ParticipantRequest(email=p.email, user_id=_given(p.user_id),
                                             display_name=_given(p.display_name)) for p in input.participants],
            idempotency_key=_given(input.idempotency_key),
        )
    except UserFacingError as error:
        return ScheduleMeetingPayload(user_errors=UserError.all_of(error))
    return ScheduleMeetingPayload(meeting=Meeting.of(scheduled))


async def update_meeting(info: Info, input: UpdateMeetingInput) -> UpdateMeetingPayload:
    changes = MeetingChanges(
        title=_change(input.title),
        description=_change(input.description),
        location=_change(input.location),
        start=_change(input.start),
        end=_change(input.end),
        time_zone=_change(input.time_zone),
    )
    try:
        updated = await info.context.services.meetings.update(info.context.viewer, _meeting_id(input.meeting_id),
                                                              changes)
    except UserFacingError as error:
        return UpdateMeetingPayload(user_errors=UserError.all_of(error))
    return UpdateMeetingPayload(meeting=Meeting.of(updated))


async def cancel_meeting(info: Info, input: CancelMeetingInput) -> CancelMeetingPayload:
    try:
        cancelled = await info.context.services.meetings.cancel(info.context.viewer, _meeting_id(input.meeting_id))
    except UserFacingError as error:
        return CancelMeetingPayload(user_errors=UserError.all_of(error))
    return CancelMeetingPayload(meeting=Meeting.of(cancelled))
