"""Faults queued through the control API and served instead of normal answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# A fault that sleeps longer than this would only make a test hang.
MAX_DELAY_SECONDS = 60.0


class InvalidFault(ValueError):
    """The control API was asked to queue a fault that makes no sense."""


@dataclass
class Fault:
    path: str  # prefix of the path relative to the sandbox root, e.g. "/oauth/token"
    method: str | None = None  # None matches any method
    status: int | None = None  # None: only delay, then handle the request normally
    times: int = 1
    delay_seconds: float = 0.0
    retry_after: str | None = None
    body: Any = None  # JSON body of the faulty answer; None sends an empty body
    reset: bool = False  # drop the connection instead of answering

    def matches(self, method: str, path: str) -> bool:
        method_ok = self.method is None or self.method == method.upper()
        return method_ok and path.startswith(self.path)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "method": self.method,
            "status": self.status,
            "times": self.times,
            "delay_seconds": self.delay_seconds,
            "retry_after": self.retry_after,
            "body": self.body,
            "reset": self.reset,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fault:
        known = {"path", "method", "status", "times", "delay_seconds", "retry_after", "body", "reset"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidFault(f"unknown fields: {', '.join(unknown)}")

        path = data.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            raise InvalidFault("path must be a string starting with '/'")
        method = data.get("method")
        if method is not None and (not isinstance(method, str) or not method.strip()):
            raise InvalidFault("method must be an HTTP method name")
        status = data.get("status")
        if status is not None and (not _is_int(status) or not 100 <= status <= 599):
            raise InvalidFault("status must be an integer between 100 and 599")
        times = data.get("times", 1)
        if not _is_int(times) or times < 1:
            raise InvalidFault("times must be a positive integer")
        delay = data.get("delay_seconds", 0.0)
        if not _is_number(delay) or not 0 <= delay <= MAX_DELAY_SECONDS:
            raise InvalidFault(f"delay_seconds must be a number between 0 and {MAX_DELAY_SECONDS:g}")
        retry_after = data.get("retry_after")
        if retry_after is not None and not (isinstance(retry_after, str) or _is_int(retry_after)):
            raise InvalidFault("retry_after must be a string or an integer")
        reset = data.get("reset", False)
        if not isinstance(reset, bool):
            raise InvalidFault("reset must be a boolean")
        if status is None and not reset and delay == 0:
            raise InvalidFault("a fault needs a status, a delay_seconds or reset")

        return cls(
            path=path,
            method=method.strip().upper() if method else None,
            status=status,
            times=times,
            delay_seconds=float(delay),
            retry_after=None if retry_after is None else str(retry_after),
            body=data.get("body"),
            reset=reset,
        )


class FaultQueue:
    """Faults in the order they were queued; the oldest matching one is served first."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self._faults.append(fault)

    def take(self, method: str, path: str) -> Fault | None:
        """Use up one round of the oldest fault matching this request, if any."""
        for fault in self._faults:
            if fault.matches(method, path):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def pending(self) -> list[Fault]:
        return list(self._faults)

    def clear(self) -> int:
        """Drop every queued fault; how many there were."""
        cleared = len(self._faults)
        self._faults.clear()
        return cleared


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
