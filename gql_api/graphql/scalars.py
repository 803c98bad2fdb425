"""Custom scalars: `DateTime` (RFC 3339 instants, `@specifiedBy` RFC 3339 so generated clients type it)."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry
from strawberry.types.scalar import ScalarDefinition

MIN_YEAR, MAX_YEAR = 1900, 9000  # far beyond any meeting, and safe from overflow in any arithmetic
RFC_3339 = "https://datatracker.ietf.org/doc/html/rfc3339"


def serialize_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    utc = value.astimezone(UTC)
    return utc.isoformat(timespec="milliseconds" if utc.microsecond else "seconds").replace("+00:00", "Z")


def parse_datetime(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO 8601 string, e.g. 2026-11-24T09:30:00Z")
    try:
        parsed = datetime.fromisoformat(value.upper())  # RFC 3339 §5.6 allows a lower-case "t" and "z"
        parsed.astimezone(UTC)  # instants at the edges of year 1 or 9999 do not exist in UTC
    except (ValueError, OverflowError):
        raise ValueError(f"DateTime is not an ISO 8601 instant: {value[:40]!r}") from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise ValueError(f"DateTime must fall in the years {MIN_YEAR} to {MAX_YEAR}")
    return parsed  # without an offset it stays naive: services answer that with a UserError on its field


DateTimeScalar = strawberry.scalar(
    name="DateTime",
    description="An instant with an explicit UTC offset, RFC 3339 (ISO 8601), e.g. 2026-11-24T09:30:00Z. Answers "
    "are always in UTC, to the second (milliseconds when there are any).",
    specified_by_url=RFC_3339,
    serialize=serialize_datetime,
    parse_value=parse_datetime,
)
SCALARS: dict[object, ScalarDefinition] = {datetime: DateTimeScalar}
