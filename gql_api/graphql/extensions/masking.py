"""Unexpected errors are masked ("Unexpected error." with a request id); the client's own mistakes stay
readable (strawberry-graphql.md §0.4: MaskErrors hides everything by default)."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from ...keys import REQUEST_ID
from ...observability.logging import request_id_var

INTERNAL_ERROR_CODE = "INTERNAL_SERVER_ERROR"
UNEXPECTED_ERROR = "Unexpected error."


def should_mask(error: GraphQLError) -> bool:
    """Mask what our code raised unexpectedly: an exception from a resolver (the error has a path) or
    from around execution (it points nowhere in the document). Keep GraphQL's own errors readable:
    syntax, validation and limits, a scalar refusing a value (they point at the document),
    authentication, and GraphQLErrors resolvers raise on purpose."""
    original = error.original_error
    if original is None or isinstance(original, (GraphQLError, InvalidOperationTypeError, CannotGetOperationTypeError)):
        return False  # (a query sent over a WebSocket is the client's mistake too)
    return error.path is not None or not error.nodes


def masked(error: GraphQLError, request_id: str | None) -> GraphQLError:
    """ "Unexpected error." with a code and the request id, so support can find the logged traceback."""
    extensions: dict[str, Any] = {"code": INTERNAL_ERROR_CODE}
    if request_id is not None:
        extensions["requestId"] = request_id
    return GraphQLError(
        UNEXPECTED_ERROR,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


def request_id_of(context: Any) -> str | None:
    """The id the HTTP middleware gave this request (or, outside a request, the bound one)."""
    request = getattr(context, "request", None)
    found = request.get(REQUEST_ID) if request is not None else None
    return found or request_id_var.get()


class MaskUnexpectedErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=should_mask, error_message=UNEXPECTED_ERROR)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return masked(error, request_id_of(getattr(self.execution_context, "context", None)))
