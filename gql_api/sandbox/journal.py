"""What the sandbox itself did and saw, kept for the control API: requests received, pushes sent.

`GET /_control/requests` and `GET /_control/pushes` list these records as they are; `DELETE`
clears them. A `Journal` keeps them in order and, given a limit, forgets the oldest first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Generic, TypeVar

# Push deliveries kept; the oldest are forgotten first, so a long-running sandbox stays small.
MAX_PUSH_RECORDS = 10_000


@dataclass
class PushRecord:
    """One delivery attempt of a push, as `GET /_control/pushes` lists it."""

    channel_id: str
    type: str
    callback_url: str
    body: str  # exactly the bytes sent, as UTF-8 text
    hmac: str  # the Cronofy-HMAC-SHA256 header sent
    at: float
    status: int | None = None  # HTTP status; 0 for a connection error or timeout; None if dropped or pending
    dropped: bool = False  # the sandbox was told to lose it: never sent


@dataclass
class RecordedRequest:
    method: str
    path: str  # relative to the sandbox root, never with the query string
    at: float
    status: int | None = None  # None while the request is still being answered; 0 for a dropped connection


Record = TypeVar("Record", PushRecord, RecordedRequest)


class Journal(Generic[Record]):
    """Records in the order they were made; past `limit` the oldest are forgotten."""

    def __init__(self, limit: int | None = None) -> None:
        self._records: list[Record] = []
        self._limit = limit

    def add(self, record: Record) -> Record:
        self._records.append(record)
        if self._limit is not None:
            del self._records[: -self._limit]
        return record

    def clear(self) -> int:
        """Forget every record; how many there were."""
        cleared = len(self._records)
        self._records.clear()
        return cleared

    def to_json(self) -> list[dict[str, Any]]:
        return [asdict(record) for record in self._records]
