"""Expected failures a client can act on. Services raise them; the GraphQL layer turns them into
`userErrors` entries. Anything else is unexpected and gets masked."""

from __future__ import annotations

import enum
from collections.abc import Sequence


class ErrorCode(enum.Enum):
    INVALID_INPUT = "INVALID_INPUT"
    INVALID_TIME_RANGE = "INVALID_TIME_RANGE"
    INVALID_TIME_ZONE = "INVALID_TIME_ZONE"
    INVALID_REDIRECT_URI = "INVALID_REDIRECT_URI"
    INVALID_STATE = "INVALID_STATE"
    AUTHORIZATION_REJECTED = "AUTHORIZATION_REJECTED"
    NOT_FOUND = "NOT_FOUND"
    NOT_ALLOWED = "NOT_ALLOWED"
    ALREADY_CANCELLED = "ALREADY_CANCELLED"
    CALENDAR_NEEDS_RELINK = "CALENDAR_NEEDS_RELINK"
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"


class UserFacingError(Exception):
    def __init__(self, code: ErrorCode, message: str, field: Sequence[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = tuple(field) if field else None

    @property
    def errors(self) -> tuple[UserFacingError, ...]:
        """Every failure this error stands for (several when a whole input was checked at once)."""
        return (self,)


class InvalidInput(UserFacingError):
    """Several input fields failed validation; each carries its own code and field path."""

    def __init__(self, errors: Sequence[UserFacingError]) -> None:
        first = errors[0]
        super().__init__(first.code, first.message, first.field)
        self._errors = tuple(errors)

    @property
    def errors(self) -> tuple[UserFacingError, ...]:
        return self._errors


class BadArgument(Exception):
    """A query argument that cannot be served (a bad cursor, `first` out of range): not a user error in a
    payload but a GraphQL error the client sees as such."""
