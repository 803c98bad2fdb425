"""Erasing a person: what becomes of each meeting they were in, and the record that makes it resumable.

The service (services/privacy.py) finds the meetings, stores what these rules decide, waits for the
calendars and revokes the grants; the rules are here (README "Your users' data"):

- A meeting they organize that has not ended is cancelled: every copy leaves its calendar, as a cancel does.
- In every meeting their seat becomes a placeholder that shows a participant was there: PLACEHOLDER_EMAIL,
  no name, no user id, no calendar event. Its response is DECLINED in a meeting still to come (they will not
  come); in one that has ended, and for the organizer, the response is kept (it is what happened).
- In a meeting still to come, their own copy is withdrawn (deleted from their calendar, as declining does).
  An invitation on the organizer's event is withdrawn too, which takes one more write of the host event
  that names their address among those it rejects: until that write settled, the seat keeps the address
  (and nothing else), then `settled` turns it into the placeholder as well.
- Their identifiers in the meeting's text (title, description, location) become REDACTED.
- A meeting whose organizer was erased has no organizer id (NOBODY): nobody can change it any more.

A seat is theirs when it carries their user id, or, without a user id, one of their e-mail addresses
(somebody invited them by address): an address of a calendar account of theirs, or the one they organize
meetings from (`Person.learning`).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import re
from collections.abc import Iterable
from datetime import datetime

from .meetings import Delivery, Meeting, MeetingParticipant, MeetingStatus, ParticipantResponse, SyncStatus
from .validation import MAX_DESCRIPTION, MAX_LOCATION, MAX_TITLE

PLACEHOLDER_EMAIL = "erased-participant@invalid"  # RFC 2606: .invalid never resolves, nobody receives mail there
NOBODY = ""  # the organizer id of a meeting whose organizer was erased: no token names an empty user id
REDACTED = "[erased]"
MIN_REDACTED = 3  # shorter identifiers are too likely to be ordinary words in a title
TEXT_LIMITS = {"title": MAX_TITLE, "description": MAX_DESCRIPTION, "location": MAX_LOCATION}


def subject_of(user_id: str) -> str:
    """A user's pseudonym in records that outlive what they name (erasure receipts, owed revocations): a hash
    of the user id, which finds the record again from the id and does not contain it."""
    return hashlib.sha256(b"gql-api/user/" + user_id.encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class Person:
    """Whom an erasure or an export is about: the user id, and the addresses and names seen for them."""

    user_id: str
    addresses: frozenset[str] = frozenset()  # case-folded
    names: frozenset[str] = frozenset()

    def owns(self, seat: MeetingParticipant) -> bool:
        if seat.user_id is not None:
            return seat.user_id == self.user_id
        return seat.email.casefold() in self.addresses

    def learning(self, meetings: Iterable[Meeting], profile_names: Iterable[str] = ()) -> Person:
        """Also their addresses and names, as far as they are theirs for sure: addresses from their calendar
        accounts (Cronofy's profiles) and from the meetings they organize (their token's or their calendar's),
        never one an organizer typed for them, which would hand them other people's seats; names from their
        seats (only ever used to redact the text of their meetings)."""
        addresses, names = set(self.addresses), set(self.names)
        for meeting in meetings:
            for seat in meeting.participants:
                if seat.user_id != self.user_id:
                    continue
                if seat.is_organizer:
                    addresses.add(seat.email.casefold())
                if seat.display_name:
                    names.add(seat.display_name)
        addresses.update(name.casefold() for name in profile_names if "@" in name)
        addresses.discard(PLACEHOLDER_EMAIL)
        return dataclasses.replace(self, addresses=frozenset(addresses), names=frozenset(names))


@dataclasses.dataclass(frozen=True)
class Erased:
    """A meeting after its part of an erasure: the next version to store, and what changed."""

    meeting: Meeting
    cancelled: bool
    seats: int
    redacted: bool
    withdrawing: bool = False  # an invitation of theirs must still be withdrawn from the host event (`settled`)


def erased_from(meeting: Meeting, person: Person, now: datetime) -> Erased | None:
    """The meeting without `person` (see the module's rules); None when nothing of theirs is left in it."""
    owned = [i for i, seat in enumerate(meeting.participants) if not seat.erased and person.owns(seat)]
    organizer = meeting.organizer_id == person.user_id
    if not owned and not organizer:
        return None
    upcoming = meeting.status is MeetingStatus.SCHEDULED and meeting.end > now
    cancel = organizer and upcoming
    participants, copies = list(meeting.participants), list(meeting.copies)
    rewrite: set[int] = set()
    withdrawals = False
    for i in owned:
        seat = participants[i]
        if upcoming and not cancel and seat.copy is not None:
            copy = copies[seat.copy]
            if seat.delivery is Delivery.OWN_CALENDAR and not (copy.removed or copy.withdrawn):
                copies[seat.copy] = dataclasses.replace(copy, withdrawn=True)
                rewrite.add(seat.copy)
            elif seat.delivery is Delivery.INVITATION and copy.sent:  # the host event may have invited them
                participants[i] = withdrawing(seat)
                if not seat.uninvited:
                    rewrite.add(seat.copy)
                withdrawals = True
                continue
        participants[i] = placeholder(seat, keep_response=seat.is_organizer or not upcoming)
    text = redacted_text(meeting, person)
    changed = dataclasses.replace(
        meeting,
        participants=tuple(participants),
        copies=tuple(copies),
        organizer_id=NOBODY if organizer else meeting.organizer_id,
        title=text.get("title", meeting.title),
        description=text.get("description", meeting.description),
        location=text.get("location", meeting.location),
    )
    if cancel:  # every copy is due again, to be deleted
        after = dataclasses.replace(
            changed, status=MeetingStatus.CANCELLED, cancelled_at=now, updated_at=now, version=meeting.version + 1
        )
    elif text and upcoming:  # every calendar shows the new text
        after = dataclasses.replace(changed, updated_at=now).next_version(set(range(len(copies))))
    else:
        after = (dataclasses.replace(changed, updated_at=now) if text else changed).next_version(rewrite)
    return Erased(after, cancelled=cancel, seats=len(owned), redacted=bool(text), withdrawing=withdrawals)


def placeholder(seat: MeetingParticipant, *, keep_response: bool) -> MeetingParticipant:
    return MeetingParticipant(
        email=PLACEHOLDER_EMAIL,
        is_organizer=seat.is_organizer,
        response=seat.response if keep_response else ParticipantResponse.DECLINED,
        erased=True,
    )


def withdrawing(seat: MeetingParticipant) -> MeetingParticipant:
    """A seat whose invitation the host event must still withdraw: only the address it rejects is left."""
    return dataclasses.replace(
        seat, user_id=None, display_name=None, response=ParticipantResponse.DECLINED, uninvited=True, erased=True
    )


def awaiting_withdrawal(seat: MeetingParticipant) -> bool:
    return seat.erased and seat.email != PLACEHOLDER_EMAIL


def settled(meeting: Meeting, *, give_up: bool) -> tuple[Meeting, int] | None:
    """Seats awaiting the withdrawal of their invitation become placeholders once the host copy is no longer
    pending (written, or failed for good), or when the erasure gives up waiting: the next version, and how
    many invitations may be left on the host event. None when no seat is ready."""
    ready = [
        i
        for i, seat in enumerate(meeting.participants)
        if awaiting_withdrawal(seat) and (give_up or _host_status(meeting, seat) is not SyncStatus.PENDING)
    ]
    if not ready:
        return None
    participants = list(meeting.participants)
    left = 0
    for i in ready:
        seat = participants[i]
        left += _host_status(meeting, seat) is not SyncStatus.SYNCED
        participants[i] = placeholder(seat, keep_response=True)
    return dataclasses.replace(meeting, participants=tuple(participants)).next_version(set()), left


def _host_status(meeting: Meeting, seat: MeetingParticipant) -> SyncStatus:
    return SyncStatus.SYNCED if seat.copy is None else meeting.copies[seat.copy].status(meeting.version)


def redacted_text(meeting: Meeting, person: Person) -> dict[str, str]:
    """Title, description and location with the person's identifiers (whole words, any letter case) replaced;
    only the fields that change."""
    needles = sorted(
        {n.strip() for n in (person.user_id, *person.addresses, *person.names) if len(n.strip()) >= MIN_REDACTED},
        key=len,
        reverse=True,
    )
    if not needles:
        return {}
    pattern = re.compile("|".join(rf"(?<!\w){re.escape(n)}(?!\w)" for n in needles), re.IGNORECASE)
    changes = {}
    for field, limit in TEXT_LIMITS.items():
        value = getattr(meeting, field)
        if value and (new := pattern.sub(REDACTED, value)[:limit]) != value:
            changes[field] = new
    return changes


def leaving(meeting: Meeting, index: int, now: datetime) -> bool:
    """A copy that must leave its calendar: one of a meeting still to come that is cancelled, or withdrawn."""
    copy = meeting.copies[index]
    return meeting.end > now and (meeting.status is MeetingStatus.CANCELLED or copy.withdrawn or copy.removed)


def left_in_calendar(meeting: Meeting, connection_ids: Iterable[str], now: datetime) -> int:
    """Copies on these connections that should have left their calendar and may still be there."""
    wanted = set(connection_ids)
    return sum(
        1
        for i, copy in enumerate(meeting.copies)
        if copy.connection_id in wanted
        and leaving(meeting, i, now)
        and copy.sent
        and copy.status(meeting.version) is not SyncStatus.SYNCED
    )


# --- the record ------------------------------------------------------------------------------------


class ErasureStatus(enum.Enum):
    IN_PROGRESS = "IN_PROGRESS"  # stored: resumed by a rerun or the worker
    DONE = "DONE"  # stored: nothing of the person is left (the record holds only its pseudonym and counts)
    NOTHING_TO_ERASE = "NOTHING_TO_ERASE"  # never stored: nothing was held about that user id


@dataclasses.dataclass(frozen=True)
class ErasureCounts:
    """What an erasure removed, per kind of record (cumulative over reruns)."""

    meetings_cancelled: int = 0
    meeting_seats: int = 0  # seats that became the placeholder
    meeting_texts: int = 0  # meetings whose text named them
    idempotency_keys: int = 0
    link_states: int = 0
    calendar_connections: int = 0  # revoked and deleted, as an unlink does
    calendar_events_left: int = 0  # copies and invitations that could not be removed from calendars in time

    def __add__(self, other: ErasureCounts) -> ErasureCounts:
        return ErasureCounts(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in _COUNT_FIELDS})

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in _COUNT_FIELDS)

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in _COUNT_FIELDS}


_COUNT_FIELDS = dataclasses.fields(ErasureCounts)


@dataclasses.dataclass(frozen=True)
class Erasure:
    """The durable record of one erasure, keyed by `subject`. While it runs it holds what its steps search
    by (the user id, their addresses and names) and the connections it must revoke; once DONE only the
    subject, the dates and the counts are left."""

    subject: str
    status: ErasureStatus
    counts: ErasureCounts = ErasureCounts()
    started_at: datetime | None = None
    finished_at: datetime | None = None
    calendars_until: datetime | None = None  # how long it waits for calendars before leaving events there
    waiting_for: str | None = None  # what an IN_PROGRESS erasure waits for, as the receipt says
    user_id: str | None = None
    addresses: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()
    connections: tuple[str, ...] = ()
    withdrawals: tuple[str, ...] = ()  # meetings whose host event must still withdraw an invitation of theirs

    @property
    def person(self) -> Person:
        assert self.user_id is not None, "a finished erasure holds no user id"
        return Person(self.user_id, self.addresses, self.names)

    @classmethod
    def nothing(cls, user_id: str) -> Erasure:
        return cls(subject_of(user_id), ErasureStatus.NOTHING_TO_ERASE)
