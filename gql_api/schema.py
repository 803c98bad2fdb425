"""The Strawberry schema: root types wired to the resolvers, and the extensions every request runs."""

from __future__ import annotations

import functools
import logging
import time
import uuid
from typing import Any

import strawberry
from aiohttp import web
from graphql import ExecutionResult, FieldNode, GraphQLError, OperationDefinitionNode
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext
from strawberry.types import ExecutionResult as StrawberryExecutionResult

from resolvers import connections as connection_resolvers
from resolvers import meetings as meeting_resolvers

from .graphql_limits import GraphQLLimits, limit_rules
from .observability import METRICS, OPERATION, REQUEST_ID
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


INTERNAL_ERROR_CODE = "INTERNAL_SERVER_ERROR"
UNEXPECTED_ERROR = "Unexpected error."

log = logging.getLogger("gql_api.graphql")


def request_id(request: web.Request) -> str:
    """The request's id (observability.request_ids sets it); one is made and kept when no middleware did."""
    value = request.get(REQUEST_ID)
    if not value:
        value = request[REQUEST_ID] = uuid.uuid4().hex
    return value


def _request_id_of(execution_context: ExecutionContext | None) -> str | None:
    request = getattr(getattr(execution_context, "context", None), "request", None)
    return request_id(request) if request is not None else None


def should_mask(error: GraphQLError) -> bool:
    """Mask what our code raised unexpectedly: an exception from a resolver (the error has a path) or
    from around execution (it points nowhere in the document). Keep GraphQL's own errors readable:
    syntax, validation and limits, a scalar refusing a value (they point at the document),
    authentication, and GraphQLErrors resolvers raise on purpose."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return False
    return error.path is not None or not error.nodes


def masked(error: GraphQLError, rid: str | None) -> GraphQLError:
    """"Unexpected error." with a code and the request id, so support can find the logged traceback."""
    extensions: dict[str, Any] = {"code": INTERNAL_ERROR_CODE}
    if rid is not None:
        extensions["requestId"] = rid
    return GraphQLError(UNEXPECTED_ERROR, nodes=error.nodes, source=error.source, positions=error.positions,
                        path=error.path, extensions=extensions)


class MaskUnexpectedErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=should_mask, error_message=UNEXPECTED_ERROR)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return masked(error, _request_id_of(self.execution_context))


class AppSchema(strawberry.Schema):
    async def execute(self, query: str | None, variable_values: dict[str, Any] | None = None,
                      context_value: Any | None = None, *args: Any, **kwargs: Any) -> StrawberryExecutionResult:
        """Masks once more after Strawberry: when an exception escapes an extension, Strawberry builds
        the error result outside the extensions, so MaskErrors never sees it."""
        result = await super().execute(query, variable_values, context_value, *args, **kwargs)
        if result.errors and any(should_mask(error) for error in result.errors):
            request = getattr(context_value, "request", None)
            rid = request_id(request) if request is not None else None
            result.errors = [masked(error, rid) if should_mask(error) else error for error in result.errors]
        return result

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Strawberry calls this once per error, before masking. Only what gets masked is our fault and
        logged at ERROR, with its traceback and the request id; the client's mistakes (syntax,
        validation, limits, authentication, bad arguments) are theirs, kept at DEBUG (authentication
        at INFO), so a stream of bad queries cannot flood the error log."""
        rid = _request_id_of(execution_context)
        operation = getattr(execution_context, "operation_name", None)
        for error in errors:
            if should_mask(error):
                original = error.original_error
                log.error("Unexpected error in GraphQL operation %r at %s (request %s)", operation,
                          ".".join(map(str, error.path or ())) or "(no path)", rid,
                          exc_info=(type(original), original, original.__traceback__),
                          extra={"request_id": rid, "operation": operation})
            else:
                code = (error.extensions or {}).get("code")
                log.log(logging.INFO if code == "UNAUTHENTICATED" else logging.DEBUG,
                        "GraphQL request refused (request %s): %s", rid, error.message[:300],
                        extra={"request_id": rid, "operation": operation, "code": code})


class ObserveOperation(SchemaExtension):
    """Names the operation on the request (for the access log line) and counts it in the metrics:
    by operation name and outcome, with its latency. Never the variables."""

    def on_operation(self):  # type: ignore[override]
        started = time.perf_counter()
        yield
        context = self.execution_context
        request = getattr(context.context, "request", None)
        if request is None:
            return
        name = context.operation_name
        request[OPERATION] = name or "anonymous"
        result = context.result
        outcome = "error" if (result and result.errors) or context.pre_execution_errors else "ok"
        if METRICS in request.app:
            request.app[METRICS].observe_graphql(name, outcome, time.perf_counter() - started)


def build_schema(limits: GraphQLLimits | None = None, *, introspection: bool = True) -> strawberry.Schema:
    """The schema with these limits: one per configuration, its validation rules built with it, once,
    so the ValidationCache's keys (schema, document, rules) repeat across requests."""
    return _build_schema(limits or GraphQLLimits(), introspection)


@functools.cache
def _build_schema(limits: GraphQLLimits, introspection: bool) -> strawberry.Schema:
    rules = list(limit_rules(limits, introspection))
    return AppSchema(
        query=Query,
        mutation=Mutation,
        extensions=[
            lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
            ParserCache,
            ValidationCache,
            lambda: AddValidationRules(rules),
            RequireAuthentication,
            MaskUnexpectedErrors,
            ObserveOperation,
        ],
        # Without introspection, "Did you mean ...?" would still spell out the schema.
        config=StrawberryConfig(scalar_map=SCALARS, disable_field_suggestions=not introspection),
    )


schema = build_schema()


def export_schema() -> str:
    return schema.as_str() + "\n"
