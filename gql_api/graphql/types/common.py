"""Types every domain shares: errors and page info."""

from __future__ import annotations

from typing import Any

import strawberry

from ...domain.errors import ErrorCode

# strawberry.enum names the GraphQL enum on the domain's class itself (and returns that class): UserErrorCode
# is the domain's ErrorCode, a type mypy can check, registered under its GraphQL name.
UserErrorCode = ErrorCode
strawberry.enum(UserErrorCode, name="UserErrorCode")


@strawberry.type(
    description="An expected failure the client can act on. Unexpected failures are GraphQL "
    "errors with masked messages."
)
class UserError:
    code: UserErrorCode
    message: str
    field: list[str] | None = strawberry.field(description='Path to the input field at fault, e.g. ["input", "end"].')


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


def given(value: Any) -> Any:
    """An optional input field's value; None when the client left it out."""
    return None if value is strawberry.UNSET else value
