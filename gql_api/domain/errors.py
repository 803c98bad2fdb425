"""Expected failures a client can act on, and the conditions services meet on the way.

A `UserFacingError` names the field at fault by its domain path, e.g. `("participants", 0, "user_id")`;
the GraphQL layer alone turns that into a `UserError` with the client's path (`["input",
"participants", "0", "userId"]`). Anything else that escapes a service is unexpected and gets masked.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

FieldPath = tuple[str | int, ...]


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
    def __init__(self, code: ErrorCode, message: str, field: Sequence[str | int] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field: FieldPath | None = tuple(field) if field else None

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


def invalid(field: str | FieldPath, message: str, code: ErrorCode = ErrorCode.INVALID_INPUT) -> UserFacingError:
    return UserFacingError(code, message, (field,) if isinstance(field, str) else field)


class BadArgument(Exception):
    """A query argument that cannot be served (`first` out of range, say): not a user error in a
    payload but an error the client sees on the field it asked for."""


class ConnectionGone(Exception):
    """The calendar connection was unlinked."""


class NeedsRelink(Exception):
    """Cronofy no longer accepts this connection's credentials; the user must link the account again."""


class CredentialUnreadable(Exception):
    """The stored credential cannot be decrypted (its key is gone): only a new link brings one back."""
