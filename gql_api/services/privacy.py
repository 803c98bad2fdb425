"""Privacy operations (README "Your users' data"): erasing a user, exporting what is held about them, and
removing what is kept no longer.

Erasures. One durable record per erased user, keyed by a hash of the user id (`ErasureRepository`), leased to
the process that runs it. Every step is safe to repeat, so a rerun, or the worker's "erasures" job, finishes
an erasure that stopped half-way. A run:

1. search: learn their addresses (their seats, their calendar accounts); forget their idempotency keys; take
   them out of every meeting (domain/erasure.py: what they organize and has not ended is cancelled, their
   copies and invitations are withdrawn, their seats become placeholders, their names leave the text);
   delete their link states; note their calendar connections.
2. calendars: their own copies that must leave their calendars are written now through the outbox, which
   needs their credential, so this comes before any revocation. A copy that fails is tried again until
   `calendars_until` (CALENDAR_WAIT after the erasure began), then left where it is (and counted). A seat
   whose invitation is being withdrawn becomes a placeholder once the host event settled. While anything
   is pending the erasure waits, due again after RETRY_WAIT.
3. search again, in case the user acted meanwhile (a token issued before they left); a few rounds at most.
4. revoke: each connection is unlinked as `unlinkCalendar` does (revocation owed durably, credential gone).
5. finish: the record keeps only the hash, the dates and the counts, for RECEIPT_KEPT.

Exports gather the same things an erasure would touch. Retention removes what TTL indexes remove, on the
service's clock (store/retention.py says why).
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta

from ..cronofy.budget import Priority, Purpose, spending
from ..domain.authorization import check_admin
from ..domain.changes import MeetingChangeKind, meeting_change
from ..domain.connections import ConnectionStatus
from ..domain.erasure import (
    Erasure,
    ErasureCounts,
    Person,
    awaiting_withdrawal,
    erased_from,
    leaving,
    left_in_calendar,
    settled,
    subject_of,
)
from ..domain.errors import BadArgument, CredentialUnreadable, InvalidInput, UserFacingError
from ..domain.identity import User
from ..domain.meetings import Meeting, SyncStatus
from ..domain.time import Clock
from ..domain.user_data import HeldConnection, UserData
from ..domain.validation import check_user_id
from .calendar_writes import CalendarWrites
from .linking import Linking
from .live import SILENT, Announcer
from .ports import (
    BackgroundTasks,
    ConnectionRepository,
    CredentialRepository,
    ErasureRepository,
    ExpiredRecords,
    LinkStateRepository,
    MeetingRepository,
    RevocationRepository,
)

log = logging.getLogger(__name__)

ERASE_GRACE_SECONDS = 10.0  # eraseUser answers by then; the rest goes on in the background and the worker
CALENDAR_WAIT = timedelta(hours=24)  # how long an erasure keeps trying to take events out of calendars
RETRY_WAIT = timedelta(seconds=30)  # a waiting erasure is due again after this
LEASE = timedelta(minutes=5)  # while one process runs an erasure, no other does
RECEIPT_KEPT = timedelta(days=30)  # a finished erasure's receipt (hash, dates, counts), then it goes
MAX_ROUNDS = 3
MAX_VERSION_RACES = 3
WAITING_FOR_CALENDARS = "calendars"
WAITING_FOR_ANOTHER_PASS = "another pass"


class Erasures:
    def __init__(
        self,
        *,
        erasures: ErasureRepository,
        meetings: MeetingRepository,
        connections: ConnectionRepository,
        credentials: CredentialRepository,
        link_states: LinkStateRepository,
        linking: Linking,
        writes: CalendarWrites,
        background: BackgroundTasks,
        clock: Clock,
        owner: str,
        admin_role: str,
        announce: Announcer = SILENT,
    ) -> None:
        self._erasures = erasures
        self._meetings = meetings
        self._connections = connections
        self._credentials = credentials
        self._link_states = link_states
        self._linking = linking
        self._writes = writes
        self._background = background
        self._clock = clock
        self._owner = owner
        self._admin_role = admin_role
        self._announce = announce

    async def erase_for(self, caller: User, user_id: str) -> Erasure:
        """`eraseUser`: the platform's service token only. Answers within ERASE_GRACE_SECONDS with the receipt
        as it stands; what is left goes on in the background (and in the worker, should this process stop)."""
        check_admin(caller, self._admin_role)
        if errors := check_user_id(user_id):
            raise InvalidInput(errors)
        erasure, ours = await self._start(user_id)
        if not ours:
            return erasure
        finished = await self._background.run_soon(lambda: self._run(erasure), grace=ERASE_GRACE_SECONDS)
        return finished or await self._erasures.get(erasure.subject) or erasure

    async def erase(self, user_id: str) -> Erasure:
        """Erase the user as far as the calendars let it go now (the CLI waits for this)."""
        erasure, ours = await self._start(user_id)
        return await self._run(erasure) if ours else erasure

    async def _start(self, user_id: str) -> tuple[Erasure, bool]:
        """The erasure's record, begun or taken up again and leased to this process (True); or, when
        nothing is held about the user or another process runs it, the receipt as it stands (False)."""
        subject, now = subject_of(user_id), self._clock()
        if await self._erasures.get(subject) is None and not await self._holds_anything(user_id):
            log.info("erasure %s: nothing is held about that user", subject[:12])
            return Erasure.nothing(user_id), False
        erasure = await self._erasures.begin(
            subject=subject,
            user_id=user_id,
            now=now,
            calendars_until=now + CALENDAR_WAIT,
            owner=self._owner,
            lease_until=now + LEASE,
        )
        if erasure is None:  # another process runs it right now
            return await self._erasures.get(subject) or Erasure.nothing(user_id), False
        log.info("erasure %s started", subject[:12])
        return erasure, True

    async def claim_due(self) -> Erasure | None:
        """The worker's claim: an erasure that waits, or whose process stopped."""
        now = self._clock()
        return await self._erasures.claim_due(owner=self._owner, now=now, until=now + LEASE)

    async def resume(self, erasure: Erasure) -> bool:
        """The worker's unit: go on with a claimed erasure."""
        await self._run(erasure)
        return True

    async def _holds_anything(self, user_id: str) -> bool:
        return bool(
            await self._connections.list_for_user(user_id)
            or await self._meetings.of_person(user_id)
            or await self._link_states.of_user(user_id)
        )

    async def _run(self, erasure: Erasure) -> Erasure:
        # Background work charged to the erased user's fair share of Cronofy (DESIGN §10).
        with spending(Purpose.EVENT_WRITE, Priority.WRITE, erasure.user_id):
            for _ in range(MAX_ROUNDS):
                erasure, changed = await self._search(erasure)
                if await self._calendars(erasure):
                    return await self._wait(erasure, WAITING_FOR_CALENDARS)
                if not changed:
                    break
            else:  # the user keeps changing things: later
                return await self._wait(erasure, WAITING_FOR_ANOTHER_PASS)
            await self._revoke(erasure)
            return await self._finish(erasure)

    # --- 1. search ----------------------------------------------------------------------------

    async def _search(self, erasure: Erasure) -> tuple[Erasure, bool]:
        """Everything found by the user id or their addresses, erased; whether anything changed (or is
        left to change)."""
        person = erasure.person
        connections = await self._connections.list_for_user(person.user_id)
        meetings = await self._meetings.of_person(person.user_id, sorted(person.addresses))
        learned = person.learning(meetings, [connection.profile_name for connection in connections])
        if learned.addresses - person.addresses:  # the addresses seen now may name more seats
            meetings = await self._meetings.of_person(person.user_id, sorted(learned.addresses))
        found = [connection.id for connection in connections]
        await self._erasures.learned(
            erasure.subject, addresses=learned.addresses, names=learned.names, connections=found
        )
        # Each step counted as soon as it is done, so a rerun after a crash counts only what is left.
        counts = await self._counted(
            erasure, ErasureCounts(idempotency_keys=await self._meetings.forget_idempotency_keys(person.user_id))
        )
        unfinished, withdrawals = False, list(erasure.withdrawals)
        for meeting in meetings:
            erased, raced, withdrawing = await self._erase_from(erasure, meeting, learned)
            counts, unfinished = counts + await self._counted(erasure, erased), unfinished or raced
            withdrawals += [meeting.id] if withdrawing else []
        counts += await self._counted(
            erasure, ErasureCounts(link_states=await self._link_states.delete_for_user(person.user_id))
        )
        erasure = dataclasses.replace(
            erasure,
            addresses=learned.addresses,
            names=learned.names,
            connections=tuple(dict.fromkeys([*erasure.connections, *found])),
            withdrawals=tuple(dict.fromkeys(withdrawals)),
            counts=erasure.counts + counts,
        )
        return erasure, bool(counts) or unfinished

    async def _counted(self, erasure: Erasure, counts: ErasureCounts) -> ErasureCounts:
        if counts:
            await self._erasures.count(erasure.subject, counts)
        return counts

    async def _erase_from(self, erasure: Erasure, meeting: Meeting, person: Person) -> tuple[ErasureCounts, bool, bool]:
        """The meeting without the person, stored against the version it was computed on; (what changed,
        whether it changed too often to finish now, whether an invitation of theirs is being withdrawn)."""
        for _ in range(MAX_VERSION_RACES):
            erased = erased_from(meeting, person, self._clock())
            if erased is None:
                return ErasureCounts(), False, False
            if erased.withdrawing:  # noted first: the seat keeps an address that this erasure must remove later
                await self._erasures.learned(erasure.subject, withdrawals=[meeting.id])
            if await self._meetings.save_erased(meeting, erased.meeting, now=self._clock()):
                kind = MeetingChangeKind.CANCELLED if erased.cancelled else MeetingChangeKind.UPDATED
                await self._announce(meeting_change(kind, erased.meeting, meeting))
                counts = ErasureCounts(
                    meetings_cancelled=int(erased.cancelled),
                    meeting_seats=erased.seats,
                    meeting_texts=int(erased.redacted),
                )
                return counts, False, erased.withdrawing
            fresher = await self._meetings.get(meeting.id)
            if fresher is None:
                return ErasureCounts(), False, False
            meeting = fresher
        return ErasureCounts(), True, False

    # --- 2. calendars -------------------------------------------------------------------------

    async def _calendars(self, erasure: Erasure) -> bool:
        """Drive the calendar work the erasure waits for; True while some of it is pending."""
        now = self._clock()
        give_up = erasure.calendars_until is not None and now >= erasure.calendars_until
        usable = [connection_id for connection_id in erasure.connections if await self._usable(connection_id)]
        candidates = {meeting.id: meeting for meeting in await self._meetings.with_copies_on(usable)} if usable else {}
        for meeting_id in erasure.withdrawals:  # seats waiting for an invitation's withdrawal
            if meeting_id not in candidates and (meeting := await self._meetings.get(meeting_id)) is not None:
                candidates[meeting_id] = meeting
        waiting, left = False, 0
        for meeting in candidates.values():
            meeting = await self._written(meeting)
            pending, meeting = await self._own_copies(meeting, set(usable), give_up=give_up)
            awaiting, seats_left = await self._withdrawals(meeting, give_up=give_up)
            waiting, left = waiting or pending or awaiting, left + seats_left
        if left:
            await self._erasures.count(erasure.subject, ErasureCounts(calendar_events_left=left))
        return waiting

    async def _written(self, meeting: Meeting) -> Meeting:
        """Its due calendar work done now, as the worker would (unless a worker holds it)."""
        if not meeting.due_copies(self._clock()):
            return meeting
        written = await self._writes.write(meeting.id)
        return written or await self._meetings.get(meeting.id) or meeting

    async def _own_copies(self, meeting: Meeting, usable: set[str], *, give_up: bool) -> tuple[bool, Meeting]:
        """Whether copies in the person's calendars that must leave are still pending; one that failed for
        good is tried again (a new version), until the erasure gives up."""
        now = self._clock()
        mine = [i for i, copy in enumerate(meeting.copies) if copy.connection_id in usable and leaving(meeting, i, now)]
        if give_up or not mine:
            return False, meeting
        failed = {i for i in mine if meeting.copies[i].status(meeting.version) is SyncStatus.FAILED}
        if failed:
            again = meeting.next_version(failed)
            if await self._meetings.save_erased(meeting, again, now=now):
                await self._announce(meeting_change(MeetingChangeKind.SYNC_STATUS, again))
                return True, again
            return True, meeting
        return any(meeting.copies[i].status(meeting.version) is SyncStatus.PENDING for i in mine), meeting

    async def _withdrawals(self, meeting: Meeting, *, give_up: bool) -> tuple[bool, int]:
        """Seats waiting for their invitation's withdrawal: those whose host event settled become placeholders.
        (whether some still wait, how many invitations may be left)"""
        for _ in range(MAX_VERSION_RACES):
            outcome = settled(meeting, give_up=give_up)
            if outcome is None:
                break
            after, left = outcome
            if await self._meetings.save_erased(meeting, after, now=self._clock()):
                await self._announce(meeting_change(MeetingChangeKind.UPDATED, after, meeting))
                return _awaits(after), left
            meeting = await self._meetings.get(meeting.id) or meeting
        return _awaits(meeting), 0

    async def _usable(self, connection_id: str) -> bool:
        """Whether the connection can still delete events: stored, readable and not needing a relink."""
        try:
            found = await self._credentials.with_credential(connection_id)
        except CredentialUnreadable:
            return False
        return found is not None and found[0].status is ConnectionStatus.ACTIVE

    # --- 4. revoke, 5. finish --------------------------------------------------------------------

    async def _revoke(self, erasure: Erasure) -> None:
        """Each connection unlinked as `unlinkCalendar` does: the revocation owed durably, then the credential
        deleted, then the revocation tried (the worker pays what Cronofy refuses now)."""
        user = User(erasure.person.user_id)
        current = [connection.id for connection in await self._connections.list_for_user(user.id)]
        counts = ErasureCounts()
        for connection_id in dict.fromkeys([*erasure.connections, *current]):
            if await self._connections.get_for_user(user.id, connection_id) is None:
                continue  # unlinked already (by an earlier run, or by the user)
            left = sum(
                left_in_calendar(meeting, [connection_id], self._clock())
                for meeting in await self._meetings.with_copies_on([connection_id])
            )
            try:
                await self._linking.unlink(user, connection_id)
            except UserFacingError:  # unlinked just now by someone else
                continue
            counts += ErasureCounts(calendar_connections=1, calendar_events_left=left)
        await self._erasures.count(erasure.subject, counts)

    async def _finish(self, erasure: Erasure) -> Erasure:
        now = self._clock()
        finished = await self._erasures.finish(erasure.subject, owner=self._owner, now=now, purge_at=now + RECEIPT_KEPT)
        log.info("erasure %s done", erasure.subject[:12])
        return finished or await self._erasures.get(erasure.subject) or erasure

    async def _wait(self, erasure: Erasure, reason: str) -> Erasure:
        await self._erasures.wait(
            erasure.subject, owner=self._owner, until=self._clock() + RETRY_WAIT, waiting_for=reason
        )
        log.info("erasure %s waits for %s", erasure.subject[:12], reason)
        return await self._erasures.get(erasure.subject) or erasure


def _awaits(meeting: Meeting) -> bool:
    return any(awaiting_withdrawal(seat) for seat in meeting.participants)


class Exports:
    def __init__(
        self,
        *,
        meetings: MeetingRepository,
        connections: ConnectionRepository,
        link_states: LinkStateRepository,
        revocations: RevocationRepository,
        clock: Clock,
        admin_role: str,
    ) -> None:
        self._meetings = meetings
        self._connections = connections
        self._link_states = link_states
        self._revocations = revocations
        self._clock = clock
        self._admin_role = admin_role

    async def export_for(self, caller: User, user_id: str) -> UserData:
        """`exportUserData`: the platform's service token only."""
        check_admin(caller, self._admin_role)
        if check_user_id(user_id):
            raise BadArgument("`userId` is not a user id: 1 to 256 characters, not all blank, no control characters.")
        return await self.export(user_id)

    async def mine(self, user: User) -> UserData:
        """`myData`: a user's own."""
        return await self.export(user.id)

    async def export(self, user_id: str) -> UserData:
        """What an erasure of that user would touch: their connections (no credentials), their meetings as
        the API shows them, their owed revocations and their unfinished links."""
        connections = await self._connections.list_for_user(user_id)
        since = await self._connections.held_since(user_id)
        meetings = await self._meetings.of_person(user_id)
        person = Person(user_id).learning(meetings, [connection.profile_name for connection in connections])
        if person.addresses:  # seats that name them by address only
            meetings = await self._meetings.of_person(user_id, sorted(person.addresses))
        return UserData(
            user_id=user_id,
            exported_at=self._clock(),
            connections=tuple(HeldConnection(c, since.get(c.id)) for c in connections),
            meetings=tuple(meetings),
            revocations=tuple(await self._revocations.owed_by(subject_of(user_id))),
            link_requests=tuple(await self._link_states.of_user(user_id)),
        )


class Retention:
    """The worker's sweep: what has been kept long enough goes (see store/retention.py)."""

    def __init__(self, *, expired: ExpiredRecords, clock: Clock) -> None:
        self._expired = expired
        self._clock = clock

    async def sweep(self) -> int:
        removed = await self._expired.remove_expired(now=self._clock())
        if removed:
            log.info("retention: removed %s", ", ".join(f"{n} from {name}" for name, n in sorted(removed.items())))
        return sum(removed.values())
