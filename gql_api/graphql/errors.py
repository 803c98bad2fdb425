"""The one place where domain errors become GraphQL answers.

- `UserFacingError` (expected, the client can act on it) becomes `userErrors` entries of the mutation's
  payload, its domain field path turned into the client's: ("participants", 0, "user_id") is
  ["input", "participants", "0", "userId"]. Mutations opt in with `extensions=[UserErrors()]`.
- `BadArgument` (a query argument that cannot be served) becomes a GraphQL error with code BAD_USER_INPUT:
  raised (`bad_argument`), it nulls the field; reported (`report_bad_argument`), it stands next to the
  value the field still answers, so a non-null field (`meetings`) does not null every sibling with it.
- A `UserFacingError` of a query (no payload to hold it: `exportUserData` refused, say) becomes a GraphQL
  error whose code is the UserError's (`NOT_ALLOWED`), so clients handle one set of codes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from graphql import GraphQLError
from strawberry.extensions import FieldExtension
from strawberry.types import Info
from strawberry.types.field import StrawberryField

from ..domain.errors import BadArgument, FieldPath, UserFacingError
from .types.common import UserError

INPUT_ARGUMENT = "input"  # every mutation takes its fields in one `input` argument


def client_path(field: FieldPath | None) -> list[str] | None:
    if not field:
        return None
    return [INPUT_ARGUMENT, *(_camel(part) if isinstance(part, str) else str(part) for part in field)]


def user_errors(error: UserFacingError) -> list[UserError]:
    return [UserError(code=e.code, message=e.message, field=client_path(e.field)) for e in error.errors]


BAD_USER_INPUT = "BAD_USER_INPUT"


def bad_argument(error: BadArgument, **extensions: Any) -> GraphQLError:
    return GraphQLError(str(error), extensions={"code": BAD_USER_INPUT, **extensions})


def report_bad_argument(info: Info, error: BadArgument, **extensions: Any) -> None:
    """A BAD_USER_INPUT error at this field's path, in the response's `errors` next to whatever value the
    field answers (a partial result, as GraphQL allows)."""
    info.context.field_errors.append(
        GraphQLError(
            str(error),
            path=info.path.as_list(),
            extensions={"code": BAD_USER_INPUT, **extensions},
        )
    )


def query_error(error: UserFacingError) -> GraphQLError:
    return GraphQLError(error.message, extensions={"code": error.code.value})


class UserErrors(FieldExtension):
    """Answers a `UserFacingError` raised by the resolver with the field's payload type holding only
    `userErrors`, so resolvers say what succeeds and nothing else."""

    def apply(self, field: StrawberryField) -> None:
        self._field = field  # its type (the payload) is read when first needed, once annotations resolve

    async def resolve_async(self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info, **kwargs: Any) -> Any:
        try:
            return await next_(source, info, **kwargs)
        except UserFacingError as error:
            # The field's type is its payload class; Strawberry types `.type` as any annotation it may resolve to.
            payload = cast("type[Any]", self._field.type)
            return payload(user_errors=user_errors(error))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
