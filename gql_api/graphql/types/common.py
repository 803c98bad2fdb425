"""Types every domain shares: the Node interface, errors, page info, and enum descriptions."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, TypeVar

import strawberry

from ...domain.errors import ErrorCode

E = TypeVar("E", bound=enum.Enum)


def graphql_enum(cls: type[E], *, name: str, values: Mapping[E, str], description: str | None = None) -> None:
    """Registers a domain enum under its GraphQL name with a description per value. The domain's enums
    import no Strawberry, so `strawberry.enum_value(...)` cannot sit in their bodies; the descriptions
    are set here, on the definition `strawberry.enum` just made (tests/e2e/test_schema.py checks that
    every value of the schema has one)."""
    strawberry.enum(cls, name=name, description=description)
    for value in cls.__strawberry_definition__.values:  # type: ignore[attr-defined]
        member = cls[value.name]
        if member in values:
            value.description = values[member]


# graphql_enum names the GraphQL enum on the domain's class itself: UserErrorCode
# is the domain's ErrorCode, a type mypy can check, registered under its GraphQL name.
UserErrorCode = ErrorCode
graphql_enum(
    UserErrorCode,
    name="UserErrorCode",
    values={
        ErrorCode.INVALID_INPUT: "An input field's value is not acceptable; `field` says which and `message` why.",
        ErrorCode.INVALID_TIME_RANGE: "The meeting would not end after it starts.",
        ErrorCode.INVALID_TIME_ZONE: "Not an IANA time zone name (e.g. Europe/London).",
        ErrorCode.INVALID_REDIRECT_URI: "The redirect URI is not one of the server's allowed redirect URIs.",
        ErrorCode.INVALID_STATE: "The state is unknown, expired, already used, or belongs to another user.",
        ErrorCode.AUTHORIZATION_REJECTED: "Cronofy refused the authorization code.",
        ErrorCode.NOT_FOUND: "No such object among the signed-in user's (the same if it is missing or not theirs).",
        ErrorCode.NOT_ALLOWED: "The signed-in user may not do this (not the organizer, not a partner, no calendars).",
        ErrorCode.ALREADY_CANCELLED: "The meeting is cancelled already; it can no longer change.",
        ErrorCode.CALENDAR_NEEDS_RELINK: "The calendar's credentials no longer work: link the same account again.",
        ErrorCode.UPSTREAM_UNAVAILABLE: "Cronofy did not answer in time or failed; try again later.",
    },
)


@strawberry.interface(
    description="An object with an opaque, globally unique id: `node(id:)` fetches it again (Relay's Global "
    "Object Identification). Clients never parse ids."
)
class Node:
    id: strawberry.ID


@strawberry.type(
    description="An expected failure the client can act on. Unexpected failures are GraphQL "
    "errors with masked messages."
)
class UserError:
    code: UserErrorCode
    message: str
    field: list[str] | None = strawberry.field(description='Path to the input field at fault, e.g. ["input", "end"].')


@strawberry.type(description="Where a page stands in its list (Relay's cursor connections).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow `endCursor`.")
    end_cursor: str | None = strawberry.field(
        description="The last edge's cursor; pass it as `after` for the next page."
    )
    has_previous_page: bool = strawberry.field(
        default=False,
        description="Always false: lists page forwards only (`first`/`after`), and the Relay spec lets a server "
        "answer false then.",
    )
    start_cursor: str | None = strawberry.field(default=None, description="The first edge's cursor.")


def given(value: Any) -> Any:
    """An optional input field's value; None when the client left it out."""
    return None if value is strawberry.UNSET else value
