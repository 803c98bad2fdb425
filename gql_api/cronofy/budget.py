"""What each call to Cronofy is for, and how urgent it is (DESIGN.md §10).

One application shares Cronofy's limits (50 calls a second, 500 a minute) among all its users, so every
call is spent from one pot: each is tagged with a purpose (what it is for, for the metrics and the bench)
and a priority (who waits for it), and charged to the user whose action caused it (a fair share each).

A unit of work says what it is doing once, with `spending(...)`; every call made inside it, the refresh
of an access token included, is tagged accordingly (a contextvar, so it follows the unit into the tasks it
starts). The rate budget (gql_api/store/rate_budget.py) admits calls by priority; background calls that do
not fit are deferred (`BudgetDeferred`), user-facing ones wait.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import enum
from collections.abc import Iterator

DEFERRED = -1  # the status the metrics see for a call the rate budget deferred (never sent)


class Purpose(enum.Enum):
    LINKING = "linking"  # code exchange, calendars list, channels opened and closed by linking and unlinking
    REFRESH = "refresh"  # a new access token, for a call of any other purpose
    REVOKE = "revoke"  # ending a grant: unlink, relink, a link that failed
    EVENT_WRITE = "event_write"  # the outbox: a copy upserted or deleted
    PUSH_READ = "push_read"  # reading changes Cronofy told us about
    RECONCILIATION = "reconciliation"  # reading changes nobody told us about (missed pushes)
    CHANNEL_REPAIR = "channel_repair"  # opening a push channel that is missing or looks broken


class Priority(enum.IntEnum):
    """Lower is more urgent. Only USER may use the part of a window reserved for users; the others are
    deferred, not queued, when their share of a window is spent."""

    USER = 0  # someone waits for it: the linking flow, a mutation within its grace
    WRITE = 1  # the outbox: calendars catching up with meetings; owed revocations
    PUSH = 2  # reads after a push
    SWEEP = 3  # reconciliation and channel repair


@dataclasses.dataclass(frozen=True)
class Spending:
    purpose: Purpose
    priority: Priority
    user_id: str | None = None  # whose action caused the call: the share it is charged to


# Outside any unit of work (a tool, a test calling the gateway): a user-facing linking call.
_UNSPECIFIED = Spending(Purpose.LINKING, Priority.USER)
_current: contextvars.ContextVar[Spending | None] = contextvars.ContextVar("cronofy_spending", default=None)


@contextlib.contextmanager
def spending(purpose: Purpose, priority: Priority, user_id: str | None = None) -> Iterator[Spending]:
    """Tag every Cronofy call made inside (and in tasks started inside) with this purpose and priority."""
    current = Spending(purpose, priority, user_id)
    token = _current.set(current)
    try:
        yield current
    finally:
        _current.reset(token)


def current_spending(purpose: Purpose | None = None) -> Spending:
    """The tag of a call about to be made; `purpose` overrides the unit's for calls that have their own
    (a refresh is a refresh, whatever it serves), keeping its priority and user."""
    found = _current.get() or _UNSPECIFIED
    return dataclasses.replace(found, purpose=purpose) if purpose is not None else found
