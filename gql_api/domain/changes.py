"""What changed, and who may hear of it: the events live updates (GraphQL subscriptions) are made of.

A change names its object (a calendar connection or a meeting, by id), what happened to it, and its
audience: the users allowed to see that object, as pseudonyms (`audience_key`, the hash erasure receipts
use), so the feed that carries changes between processes holds no user id. A change holds nothing else:
whoever delivers it loads the object as the subscriber may see it, at that moment.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from datetime import datetime, timedelta

from .calendar_edits import CalendarChange
from .connections import CalendarConnection
from .erasure import subject_of
from .meetings import CopySync, Meeting


class Topic(enum.Enum):
    CONNECTION = "connection"
    MEETING = "meeting"


class ConnectionChangeKind(enum.Enum):
    LINKED = "LINKED"
    RELINKED = "RELINKED"
    UNLINKED = "UNLINKED"
    NEEDS_RELINK = "NEEDS_RELINK"
    SYNCED = "SYNCED"


class MeetingChangeKind(enum.Enum):
    SCHEDULED = "SCHEDULED"
    UPDATED = "UPDATED"
    CANCELLED = "CANCELLED"
    RESPONDED = "RESPONDED"
    SYNC_STATUS = "SYNC_STATUS"


ChangeKind = ConnectionChangeKind | MeetingChangeKind
KINDS: dict[Topic, type[ConnectionChangeKind] | type[MeetingChangeKind]] = {
    Topic.CONNECTION: ConnectionChangeKind,
    Topic.MEETING: MeetingChangeKind,
}


@dataclasses.dataclass(frozen=True)
class Change:
    topic: Topic
    kind: ChangeKind
    subject: str  # the connection's or the meeting's id
    audience: frozenset[str]  # audience_key of every user who may see the subject
    sequence: int = 0  # its place in the feed, once published
    published_at: datetime | None = None

    @property
    def key(self) -> tuple[str, str]:
        """Changes with the same key say the same thing to a subscriber who has not read the first yet."""
        return self.subject, self.kind.value


def audience_key(user_id: str) -> str:
    return subject_of(user_id)


def connection_change(kind: ConnectionChangeKind, connection_id: str, user_id: str | None) -> Change:
    """A change to a user's calendar connection: only its owner hears of it."""
    audience = frozenset({audience_key(user_id)}) if user_id else frozenset()
    return Change(Topic.CONNECTION, kind, connection_id, audience)


def link_kind(connection: CalendarConnection, now: datetime) -> ConnectionChangeKind:
    """A link just stored made the connection (LINKED), or linked its account again (RELINKED: the same
    connection, first linked before). Stores keep milliseconds: a connection made now shows `now` cut to them."""
    new = connection.linked_at > now - timedelta(milliseconds=1)
    return ConnectionChangeKind.LINKED if new else ConnectionChangeKind.RELINKED


def meeting_change(kind: MeetingChangeKind, meeting: Meeting, *versions: Meeting) -> Change:
    """A change to a meeting: every platform user in it hears of it, in any of the versions given (the one
    before and the one after a change of people: whoever left hears that they did)."""
    users = {p.user_id for version in (meeting, *versions) for p in version.participants if p.user_id}
    return Change(Topic.MEETING, kind, meeting.id, frozenset(audience_key(user) for user in users))


def meeting_changes(kind: MeetingChangeKind, meetings: Iterable[Meeting]) -> list[Change]:
    return [meeting_change(kind, meeting) for meeting in meetings]


def inbound_kind(change: CalendarChange) -> MeetingChangeKind:
    """What a change read from a calendar did to the meeting (calendar_edits.read_change)."""
    if change.cancel:
        return MeetingChangeKind.CANCELLED
    if change.edits:
        return MeetingChangeKind.UPDATED
    return MeetingChangeKind.RESPONDED


def sync_view(meeting: Meeting) -> tuple[CopySync, ...]:
    """What the API shows of a meeting's calendar copies (each participant's `calendarEvent`)."""
    return tuple(meeting.sync_of(participant) for participant in meeting.participants)
