"""What a change made in a calendar means for the meeting (DESIGN.md §5, inbound).

The rules compare what a calendar shows now with the meeting as it is, so applying them twice, or for
notices that arrive late or out of order, changes nothing more, and our own writes read back are no edit:

- the organizer's (host) event deleted: the meeting is cancelled for everyone;
- a participant's own copy deleted: they declined, and that copy is left alone from then on;
- answers on the host event: the attendees' responses;
- a copy moved or edited: the meeting follows (last change wins), unless what the calendar shows is
  what we wrote ourselves (the content fingerprint), or it would end before it starts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .meetings import CONTENT_FIELDS, Content, Meeting, ParticipantResponse
from .validation import MAX_DESCRIPTION, MAX_LOCATION, MAX_TITLE


@dataclasses.dataclass(frozen=True)
class SeenEvent:
    """A copy of ours as its calendar shows it now. Only timed events carry start and end; `answers`
    holds each attendee's e-mail address with a known answer."""

    deleted: bool
    updated: datetime | None
    title: str | None = None
    description: str | None = None
    location: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    answers: tuple[tuple[str, ParticipantResponse], ...] = ()

    @property
    def content(self) -> Content:
        return Content.of(self.title, self.description, self.location, self.start, self.end)

    @property
    def fingerprint(self) -> str:
        return self.content.fingerprint


@dataclasses.dataclass(frozen=True)
class CalendarChange:
    """What to do to the meeting; nothing when every field is empty."""

    cancel: bool = False
    declined_by: tuple[int, ...] | None = None  # the copy was removed by these participants
    answers: Mapping[int, ParticipantResponse] = dataclasses.field(default_factory=dict)
    edits: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def read_change(meeting: Meeting, copy_index: int, seen: SeenEvent) -> CalendarChange:
    copy = meeting.copies[copy_index]
    if seen.deleted:
        if copy.is_host:
            return CalendarChange(cancel=True)
        return CalendarChange(declined_by=tuple(meeting.owners_of(copy_index)))
    answers = answers_on_host_event(meeting, seen) if copy.is_host else {}
    content = seen.content
    if copy.written == content.fingerprint:
        return CalendarChange(answers=answers)  # what we wrote ourselves (perhaps an older version), read back
    # Last change wins. Cronofy's times are whole seconds: within the meeting's own second the
    # calendar's change counts as the later one (our own writes never differ, so they never win).
    if seen.updated is not None and seen.updated < meeting.updated_at.replace(microsecond=0):
        return CalendarChange(answers=answers)
    return CalendarChange(answers=answers, edits=edits_of(meeting, seen, written=copy.written_fields))


def answers_on_host_event(meeting: Meeting, seen: SeenEvent) -> dict[int, ParticipantResponse]:
    """Answers that differ from what the meeting records; the organizer's own answer is not taken."""
    return {
        i: answer
        for i, p in enumerate(meeting.participants)
        for email, answer in seen.answers
        if email.lower() == p.email.lower() and not p.is_organizer and answer is not p.response
    }


def edits_of(meeting: Meeting, seen: SeenEvent, *, written: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The meeting fields the calendar's copy now says differently, and that the calendar changed: a field
    still as we last wrote it there (`written`, field by field) is no edit, even when the meeting has
    moved on since (that change of ours has just not reached this calendar yet). Text is cut to the API's
    own limits (DESIGN.md §9): a calendar may hold more, but the meeting never does."""
    shown: dict[str, Any] = {
        "title": seen.title[:MAX_TITLE].strip() if seen.title else seen.title,
        "description": _cut(seen.description, MAX_DESCRIPTION) or None,
        "location": _cut(seen.location, MAX_LOCATION) or None,
        "start": seen.start,
        "end": seen.end,
    }
    current = {
        "title": meeting.title,
        "description": meeting.description,
        "location": meeting.location,
        "start": meeting.start,
        "end": meeting.end,
    }
    as_written = dict(zip(CONTENT_FIELDS, written, strict=True)) if written else {}
    as_seen = dict(zip(CONTENT_FIELDS, seen.content.fields, strict=True))
    edits = {
        name: value for name, value in shown.items() if value != current[name] and as_seen[name] != as_written.get(name)
    }
    if "title" in edits and not (seen.title or "").strip():
        del edits["title"]
    for name in ("start", "end"):  # an all-day or unreadable time is not taken over
        if name in edits and shown[name] is None:
            del edits[name]
    start, end = edits.get("start", meeting.start), edits.get("end", meeting.end)
    if end <= start:
        edits.pop("start", None)
        edits.pop("end", None)
    return edits


def _cut(text: str | None, limit: int) -> str | None:
    return text[:limit] if text is not None else None
