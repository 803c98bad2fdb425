"""Cronofy's failures as typed exceptions (reference/cronofy.md §8.1).

Messages name the status and the endpoint only: upstream bodies can echo tokens, so they are
never copied into an exception, except the 422 `errors` map, whose keys are meant for code.
"""

from __future__ import annotations

from typing import Any


class CronofyError(Exception):
    status: int | None = None

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class CronofyUnavailable(CronofyError):
    """Cronofy could not be reached, timed out, or failed on its side (5xx)."""


class CronofyServerError(CronofyUnavailable):
    """A 5xx answer."""


class CronofyRateLimited(CronofyError):
    status = 429

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InvalidGrant(CronofyError):
    """400 invalid_grant: the code or refresh token is unknown, used, revoked or mismatched."""

    status = 400


class InvalidClient(CronofyError):
    """Our client id or secret was refused: a configuration error, never the user's fault."""


class CronofyBadRequest(CronofyError):
    status = 400


class CronofyUnauthorized(CronofyError):
    """401 on a user call: the access token expired or was revoked."""

    status = 401


class CronofyForbidden(CronofyError):
    """403: the token lacks a scope."""

    status = 403


class CronofyNotFound(CronofyError):
    status = 404


class CronofyValidationError(CronofyError):
    """422, with Cronofy's `errors` map: {field: [{"key": "errors.required", "description": ...}]}."""

    status = 422

    def __init__(self, message: str, *, errors: dict[str, list[dict[str, Any]]]) -> None:
        super().__init__(message)
        self.errors = errors


class CronofyLocked(CronofyError):
    """423: the profile has no valid provider credentials; the user must relink."""

    status = 423


class BudgetDeferred(CronofyError):
    """Not sent: the background share of the application's rate budget is spent for now. Nothing failed;
    the work stays due and is tried again after `retry_after` seconds, without counting as an attempt."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
