"""The Strawberry schema: root types wired to the resolvers, and the extensions every request runs."""

from __future__ import annotations

import strawberry
from graphql import ExecutionResult, FieldNode, GraphQLError, OperationDefinitionNode
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.schema.config import StrawberryConfig

from resolvers import connections as connection_resolvers
from resolvers import meetings as meeting_resolvers

from .types import (
    SCALARS,
    BeginCalendarLinkPayload,
    CalendarConnection,
    CancelMeetingPayload,
    LinkCalendarPayload,
    Meeting,
    MeetingConnection,
    ScheduleMeetingPayload,
    UnlinkCalendarPayload,
    UpdateMeetingPayload,
)


@strawberry.type
class Query:
    calendar_connections: list[CalendarConnection] = strawberry.field(
        resolver=connection_resolvers.calendar_connections,
        description="Calendar accounts the signed-in user has linked, newest first.",
    )
    calendar_connection: CalendarConnection | None = strawberry.field(
        resolver=connection_resolvers.calendar_connection,
        description="One of the signed-in user's connections; null when it does not exist or is not theirs.",
    )
    meetings: MeetingConnection = strawberry.field(
        resolver=meeting_resolvers.meetings, description="Meetings the signed-in user organizes or attends, by start time."
    )
    meeting: Meeting | None = strawberry.field(
        resolver=meeting_resolvers.meeting, description="One meeting the signed-in user takes part in; null otherwise."
    )


@strawberry.type
class Mutation:
    begin_calendar_link: BeginCalendarLinkPayload = strawberry.mutation(
        resolver=connection_resolvers.begin_calendar_link,
        description="Starts linking a calendar: returns the Cronofy authorization URL to send the browser to.",
    )
    link_calendar: LinkCalendarPayload = strawberry.mutation(
        resolver=connection_resolvers.link_calendar,
        description="Finishes linking with the code and state that Cronofy sent back to the redirect URI.",
    )
    unlink_calendar: UnlinkCalendarPayload = strawberry.mutation(
        resolver=connection_resolvers.unlink_calendar,
        description="Revokes Cronofy's access to that calendar account and deletes its stored credentials.",
    )
    schedule_meeting: ScheduleMeetingPayload = strawberry.mutation(
        resolver=meeting_resolvers.schedule_meeting, description="Creates a meeting and puts it in every participant's calendar."
    )
    update_meeting: UpdateMeetingPayload = strawberry.mutation(
        resolver=meeting_resolvers.update_meeting, description="Changes a meeting's time or details and updates every calendar copy."
    )
    cancel_meeting: CancelMeetingPayload = strawberry.mutation(
        resolver=meeting_resolvers.cancel_meeting, description="Cancels a meeting and removes it from every calendar."
    )


class RequireAuthentication(SchemaExtension):
    """Every operation needs a signed-in user, except pure introspection (developers generating clients).

    Runs after parsing and validation, so malformed documents still get their precise errors, and
    before execution, so an unauthenticated request gets no data at all.
    """

    def on_execute(self):  # type: ignore[override]
        context = self.execution_context.context
        if context.user is None and not _introspection_only(self.execution_context):
            error = GraphQLError(context.auth_error or "Authentication required.",
                                 extensions={"code": "UNAUTHENTICATED"})
            self.execution_context.result = ExecutionResult(data=None, errors=[error])
        yield


def _introspection_only(execution_context) -> bool:
    document = execution_context.graphql_document
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)] if document else []
    name = execution_context.operation_name
    chosen = [op for op in operations if name is None or (op.name and op.name.value == name)]
    return bool(chosen) and all(
        isinstance(selection, FieldNode) and selection.name.value.startswith("__")
        for op in chosen
        for selection in op.selection_set.selections
    )


def should_mask(error: GraphQLError) -> bool:
    """Mask what our resolvers raised unexpectedly (errors with a path); keep GraphQL's own readable:
    syntax, validation (a scalar refusing a literal included), authentication."""
    original = error.original_error
    return error.path is not None and original is not None and not isinstance(original, GraphQLError)


schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    extensions=[RequireAuthentication, lambda: MaskErrors(should_mask_error=should_mask)],
    config=StrawberryConfig(scalar_map=SCALARS),
)


def export_schema() -> str:
    return schema.as_str() + "\n"
