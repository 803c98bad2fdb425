"""Meetings. The contract's shapes are served now; scheduling arrives with the meetings issue (#4).

Until then nobody can have a meeting, so the queries answer truthfully (empty, null) and the
mutations refuse with NOT_ALLOWED rather than pretending to write to anyone's calendar.
"""

from __future__ import annotations

import strawberry

from gql_api.context import Info
from gql_api.errors import ErrorCode, UserFacingError
from gql_api.types import (
    CancelMeetingInput,
    CancelMeetingPayload,
    Meeting,
    MeetingConnection,
    MeetingFilter,
    PageInfo,
    ScheduleMeetingInput,
    ScheduleMeetingPayload,
    UpdateMeetingInput,
    UpdateMeetingPayload,
    UserError,
)

NOT_YET = UserFacingError(ErrorCode.NOT_ALLOWED, "Scheduling meetings is not available on this server yet.")


async def meetings(
    info: Info,
    first: int | None = 20,
    after: str | None = strawberry.UNSET,
    filter: MeetingFilter | None = strawberry.UNSET,
) -> MeetingConnection:
    return MeetingConnection(edges=[], page_info=PageInfo(has_next_page=False, end_cursor=None))


async def meeting(info: Info, id: strawberry.ID) -> Meeting | None:
    return None


async def schedule_meeting(info: Info, input: ScheduleMeetingInput) -> ScheduleMeetingPayload:
    return ScheduleMeetingPayload(user_errors=[UserError.of(NOT_YET)])


async def update_meeting(info: Info, input: UpdateMeetingInput) -> UpdateMeetingPayload:
    return UpdateMeetingPayload(user_errors=[UserError.of(NOT_YET)])


async def cancel_meeting(info: Info, input: CancelMeetingInput) -> CancelMeetingPayload:
    return CancelMeetingPayload(user_errors=[UserError.of(NOT_YET)])
