"""The one test clock: the API and the sandbox both read it, and tests move it instead of sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    """Calling it gives the API's time (an aware datetime); `timestamp()` gives the sandbox's (seconds
    since the epoch). It starts at `start` (a datetime or epoch seconds), else now to the whole second."""

    def __init__(self, start: datetime | float | None = None) -> None:
        if start is None:
            start = datetime.now(UTC).replace(microsecond=0)
        elif not isinstance(start, datetime):
            start = datetime.fromtimestamp(start, UTC)
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def timestamp(self) -> float:
        return self.now.timestamp()

    def advance(self, seconds: float = 0, **delta: float) -> None:
        """Move on by `seconds` and timedelta's other keywords: advance(601), advance(minutes=15, seconds=1)."""
        self.now += timedelta(seconds=seconds, **delta)
