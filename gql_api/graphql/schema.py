"""The schema: the merged root types from `resolvers`, and the extensions every operation runs.

The only module of `gql_api` that imports `resolvers` (a test enforces it).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.validation import ASTValidationRule
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, ParserCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext
from strawberry.types import ExecutionResult as StrawberryExecutionResult
from strawberry.types.graphql import OperationType

from resolvers import Mutation, Query, Subscription

from ..observability.logging import safe_operation_name
from .extensions.authentication import UNAUTHENTICATED, RequireAuthentication
from .extensions.field_errors import ReportFieldErrors
from .extensions.masking import MaskUnexpectedErrors, masked, request_id_of, should_mask
from .extensions.observe import ObserveOperation
from .extensions.persisted_documents import PersistedDocumentsExtension
from .extensions.rate_limit import MutationRateLimit
from .extensions.validation import CachedValidation
from .limits import GraphQLLimits, limit_rules
from .scalars import SCALARS

log = logging.getLogger("gql_api.graphql")


class AppSchema(strawberry.Schema):
    def __init__(self, *args: Any, hide_suggestions: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hide_suggestions = hide_suggestions

    def _get_execute_function(self) -> Callable[..., Any]:
        """graphql-core's execution with `hide_suggestions`, for what it suggests while coercing the
        variables (an enum value or an input field spelt nearly right). Validation's suggestions are
        hidden by CachedValidation. Strawberry's one hook for the function it executes with; a test
        (tests/graphql/test_graphql_suggestions.py) sees when it stops being called."""
        execute = super()._get_execute_function()
        return functools.partial(execute, hide_suggestions=True) if self.hide_suggestions else execute

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> StrawberryExecutionResult:
        """Masks once more after Strawberry: when an exception escapes an extension, Strawberry builds
        the error result outside the extensions, so MaskErrors never sees it."""
        result = await super().execute(query, variable_values, context_value, *args, **kwargs)
        if result.errors and any(should_mask(error) for error in result.errors):
            rid = request_id_of(context_value)
            result.errors = [masked(error, rid) if should_mask(error) else error for error in result.errors]
        return result

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Any = None,
    ) -> Any:
        """Only subscriptions run over a WebSocket (the one streaming transport served): queries and mutations
        go over HTTP, where every limit of a request applies to them."""
        return await super().stream(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            operation_extensions,
            allowed_operation_types=(OperationType.SUBSCRIPTION,),
        )

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Strawberry calls this once per error, before masking. Only what gets masked is our fault and
        logged at ERROR, with its traceback and the request id; the client's mistakes (syntax,
        validation, limits, authentication, bad arguments) are theirs, kept at DEBUG (authentication
        at INFO), so a stream of bad queries cannot flood the error log."""
        rid = request_id_of(getattr(execution_context, "context", None))
        operation = safe_operation_name(getattr(execution_context, "operation_name", None))
        for error in errors:
            if should_mask(error):
                original = error.original_error
                assert original is not None
                log.error(
                    "Unexpected error in GraphQL operation %r at %s (request %s)",
                    operation,
                    ".".join(map(str, error.path or ())) or "(no path)",
                    rid,
                    exc_info=(type(original), original, original.__traceback__),
                    extra={"request_id": rid, "operation": operation},
                )
            else:
                code = (error.extensions or {}).get("code")
                log.log(
                    logging.INFO if code == UNAUTHENTICATED else logging.DEBUG,
                    "GraphQL request refused (request %s): %s",
                    rid,
                    error.message[:300],
                    extra={"request_id": rid, "operation": operation, "code": code},
                )


def build_schema(limits: GraphQLLimits | None = None, *, introspection: bool = True) -> strawberry.Schema:
    """The schema with these limits: one per configuration, its validation rules built with it, once,
    so the validation cache's keys (schema, document, rules) repeat across requests."""
    return _build_schema(limits or GraphQLLimits(), introspection)


@functools.cache
def _build_schema(limits: GraphQLLimits, introspection: bool) -> strawberry.Schema:
    rules: list[type[ASTValidationRule]] = list(limit_rules(limits, introspection))
    return AppSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            PersistedDocumentsExtension,  # first: it may answer before any other extension has begun
            lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
            ParserCache,
            lambda: CachedValidation(hide_suggestions=not introspection),
            lambda: AddValidationRules(rules),
            RequireAuthentication,
            MutationRateLimit,
            ReportFieldErrors,
            MaskUnexpectedErrors,
            ObserveOperation,
        ],
        # Without introspection, "Did you mean ...?" would still spell out the schema: no suggestion then,
        # of any kind (CachedValidation, _get_execute_function), to anyone.
        config=StrawberryConfig(scalar_map=SCALARS, disable_field_suggestions=not introspection),
        hide_suggestions=not introspection,
    )


schema = build_schema()


def export_schema() -> str:
    return schema.as_str() + "\n"
