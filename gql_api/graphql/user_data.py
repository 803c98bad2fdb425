"""Exports and erasure receipts as JSON documents: the `JSON` of `exportUserData`, `myData` and `eraseUser`, and
what `gql-api export-user` and `gql-api erase-user` print (README "Your users' data" documents the schema).

Meetings and connections are written from the GraphQL types themselves (`Meeting.of`, `CalendarConnection.of`),
field by field with the schema's names, so an export shows them exactly as the API does.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from strawberry.utils.str_converters import to_camel_case

from ..domain.erasure import Erasure
from ..domain.user_data import UserData
from .scalars import serialize_datetime
from .types.connections import CalendarConnection
from .types.meetings import Meeting

FORMAT = "gql-api/user-data/1"


def user_data_json(data: UserData) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "userId": data.user_id,
        "exportedAt": serialize_datetime(data.exported_at),
        "calendarConnections": [
            {
                **as_json(CalendarConnection.of(held.connection)),
                "credentials": {"held": True, "encryptedAtRest": True, "since": _instant(held.credentials_since)},
            }
            for held in data.connections
        ],
        "meetings": [as_json(Meeting.of(meeting)) for meeting in data.meetings],
        "pendingRevocations": [
            {
                "owedSince": serialize_datetime(owed.owed_since),
                "attempts": owed.attempts,
                "nextAttemptAt": serialize_datetime(owed.next_attempt_at),
                "lastError": owed.last_error,
            }
            for owed in data.revocations
        ],
        "linkRequests": [
            {"redirectUri": state.redirect_uri, "expiresAt": serialize_datetime(state.expires_at)}
            for state in data.link_requests
        ],
    }


def receipt_json(erasure: Erasure) -> dict[str, Any]:
    return {
        "status": erasure.status.value,
        "subject": erasure.subject,
        "startedAt": _instant(erasure.started_at),
        "finishedAt": _instant(erasure.finished_at),
        "waitingFor": erasure.waiting_for,
        "counts": {to_camel_case(name): n for name, n in erasure.counts.as_dict().items()},
    }


def as_json(value: Any) -> Any:
    """A value of a GraphQL output type as the API serializes it (plain fields; enums by name)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, datetime):
        return serialize_datetime(value)
    if isinstance(value, (list, tuple)):
        return [as_json(item) for item in value]
    definition = type(value).__strawberry_definition__
    return {
        field.graphql_name or to_camel_case(field.python_name): as_json(getattr(value, field.python_name))
        for field in definition.fields
        if field.base_resolver is None
    }


def _instant(value: datetime | None) -> str | None:
    return serialize_datetime(value) if value is not None else None
