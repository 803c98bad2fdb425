"""What a meeting request may say: limits, formats and the checks behind every INVALID_* user error.

Every check reports all faults at once, each on its domain field path, e.g. ("participants", 2, "email").
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from .errors import ErrorCode, UserFacingError, invalid
from .identity import User
from .time import whole_seconds

MAX_TITLE = 1024
MAX_DESCRIPTION = 4096
MAX_LOCATION = 1024
MAX_DISPLAY_NAME = 256
MAX_EMAIL = 254
MAX_PARTICIPANTS = 50
MAX_IDEMPOTENCY_KEY = 255
MAX_USER_ID = 256
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class _Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Any = _Unchanged()  # an update field the client did not send


@dataclasses.dataclass(frozen=True)
class ParticipantRequest:
    email: str
    user_id: str | None = None
    display_name: str | None = None


@dataclasses.dataclass(frozen=True)
class MeetingRequest:
    """A new meeting as a client asks for it; the organizer is the signed-in user."""

    title: str
    start: datetime
    end: datetime
    time_zone: str
    participants: tuple[ParticipantRequest, ...]
    description: str | None = None
    location: str | None = None
    idempotency_key: str | None = None


@dataclasses.dataclass(frozen=True)
class MeetingChanges:
    """An update: each field is a new value, or UNCHANGED. None clears description and location."""

    title: Any = UNCHANGED
    description: Any = UNCHANGED
    location: Any = UNCHANGED
    start: Any = UNCHANGED
    end: Any = UNCHANGED
    time_zone: Any = UNCHANGED

    REQUIRED = ("title", "start", "end", "time_zone")

    def given(self) -> dict[str, Any]:
        """The fields the client sent, with their values as sent."""
        return {
            field.name: getattr(self, field.name)
            for field in dataclasses.fields(self)
            if getattr(self, field.name) is not UNCHANGED
        }


def check_request(organizer: User, request: MeetingRequest) -> list[UserFacingError]:
    errors = check_details(
        title=request.title,
        description=request.description,
        location=request.location,
        start=request.start,
        end=request.end,
        time_zone=request.time_zone,
    )
    errors += check_participants(organizer, request.participants)
    key = request.idempotency_key
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
        errors.append(invalid("idempotency_key", f"Use 1 to {MAX_IDEMPOTENCY_KEY} characters."))
    return errors


def check_changes(current: dict[str, Any], changes: MeetingChanges) -> list[UserFacingError]:
    """Check the meeting as it would be after `changes` (`current`: its fields as stored now), blaming only
    fields the client sent: a mutation is never refused for a value it did not send (DESIGN.md §9)."""
    given = changes.given()
    errors = []
    for error in check_details(**{**current, **given}):
        name = error.field[0] if error.field else None
        if error.code is ErrorCode.INVALID_TIME_RANGE and ("start" in given or "end" in given):
            errors.append(invalid("end" if "end" in given else "start", error.message, error.code))
        elif name in given:
            errors.append(error)
    errors += [
        invalid(name, "This field cannot be null.")
        for name in MeetingChanges.REQUIRED
        if name in given and given[name] is None
    ]
    return errors


def normalized_changes(changes: MeetingChanges) -> dict[str, Any]:
    """The sent fields as they are stored: whole UTC seconds, a trimmed title, empty text as none."""
    return {name: _stored(name, value) for name, value in changes.given().items()}


def check_details(
    *,
    title: str | None,
    description: str | None,
    location: str | None,
    start: datetime | None,
    end: datetime | None,
    time_zone: str | None,
) -> list[UserFacingError]:
    errors = []
    if title is not None and not 1 <= len(title.strip()) <= MAX_TITLE:
        errors.append(invalid("title", f"The title needs 1 to {MAX_TITLE} characters."))
    if description is not None and len(description) > MAX_DESCRIPTION:
        errors.append(invalid("description", f"The description may have at most {MAX_DESCRIPTION} characters."))
    if location is not None and len(location) > MAX_LOCATION:
        errors.append(invalid("location", f"The location may have at most {MAX_LOCATION} characters."))
    aware = True
    for name, moment in (("start", start), ("end", end)):
        if moment is not None and moment.tzinfo is None:
            aware = False
            errors.append(invalid(name, "Give the time with an explicit UTC offset, e.g. 2026-11-24T09:30:00Z."))
    # Compared as stored (whole seconds): 09:30:00.2 to 09:30:00.8 would end when it starts.
    if aware and start is not None and end is not None and whole_seconds(end) <= whole_seconds(start):
        errors.append(invalid("end", "The meeting must end after it starts.", ErrorCode.INVALID_TIME_RANGE))
    if time_zone is not None and not is_time_zone(time_zone):
        errors.append(invalid("time_zone", "Use an IANA time zone such as Europe/London.", ErrorCode.INVALID_TIME_ZONE))
    return errors


def check_participants(organizer: User, participants: Sequence[ParticipantRequest]) -> list[UserFacingError]:
    if not participants:
        return [invalid("participants", "Invite at least one participant.")]
    if len(participants) > MAX_PARTICIPANTS:
        return [invalid("participants", f"A meeting may have at most {MAX_PARTICIPANTS} participants.")]
    errors = []
    seen_emails = {organizer.email.strip().lower()} if organizer.email else set()
    seen_users = {organizer.id}
    for i, participant in enumerate(participants):
        email = participant.email.strip()
        if len(email) > MAX_EMAIL or not EMAIL.match(email):
            errors.append(invalid(("participants", i, "email"), "This is not an e-mail address."))
        elif email.lower() in seen_emails:
            errors.append(invalid(("participants", i, "email"), "This e-mail address is already in the meeting."))
        seen_emails.add(email.lower())
        if participant.user_id is not None:
            if not participant.user_id.strip() or participant.user_id in seen_users:
                errors.append(
                    invalid(
                        ("participants", i, "user_id"),
                        "This user is already in the meeting (the organizer is added for you).",
                    )
                )
            seen_users.add(participant.user_id)
        if participant.display_name is not None and len(participant.display_name) > MAX_DISPLAY_NAME:
            errors.append(invalid(("participants", i, "display_name"), f"Use at most {MAX_DISPLAY_NAME} characters."))
    return errors


@functools.cache
def _time_zones() -> frozenset[str]:
    # The IANA names as the tzdata package lists them: the same on every machine, and none of the
    # files a system zone directory also holds ("Europe" is a directory, "localtime" a link).
    return frozenset(importlib.resources.files("tzdata").joinpath("zones").read_text().split())


def is_time_zone(name: str) -> bool:
    return name in _time_zones()


def _stored(name: str, value: Any) -> Any:
    if name in ("start", "end"):
        return whole_seconds(value)
    if name == "title":
        return value.strip()
    if name in ("description", "location"):
        return value or None
    return value


def check_user_id(user_id: str, field: str = "user_id") -> list[UserFacingError]:
    """A platform user id as a token's `sub` may carry it: not blank, not huge, no control characters."""
    if not user_id.strip() or len(user_id) > MAX_USER_ID or any(ord(c) < 32 or ord(c) == 127 for c in user_id):
        return [invalid(field, f"A user id has 1 to {MAX_USER_ID} characters, not all blank, no control characters.")]
    return []
