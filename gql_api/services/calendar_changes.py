"""Following what users do in their calendars (DESIGN.md §5, inbound; §10 for what it costs).

Cronofy pushes carry no event data: a push only says "read your changes". Each connection's pending
reads are noted in MongoDB and done under a lease, by the request that noted them (in the background)
or by the worker; the read asks Cronofy for our own (managed) events changed since the last successful
read and applies `domain.calendar_edits`.

Reconciliation catches pushes that never came, and only where something of ours can be found: a calendar
is reconciled while it holds a copy of a meeting that has not ended (`follow`, when a copy is written
there), every `reconcile_every` with jitter, so the reads spread evenly over the interval. A calendar with
nothing upcoming is never read: a linked user with no upcoming meeting costs no call at all. When a
reconciliation finds a change no push announced, the push channel looks broken: it is opened again and
the calendar is reconciled sooner.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from ..cronofy.budget import Priority, Purpose, spending
from ..cronofy.errors import BudgetDeferred, CronofyError
from ..cronofy.models import ManagedEvent
from ..domain.calendar_edits import SeenEvent, read_change
from ..domain.changes import ConnectionChangeKind, connection_change, inbound_kind, meeting_change
from ..domain.connections import CalendarConnection, ChangeReading, ReadReason
from ..domain.errors import ConnectionGone, NeedsRelink
from ..domain.meetings import Meeting, MeetingStatus, ParticipantResponse
from ..domain.pacing import Pace
from ..domain.secrets import Secret
from ..domain.time import Clock
from .calendar_access import CalendarAccess
from .live import SILENT, Announcer
from .ports import BackgroundTasks, CalendarGateway, ChangeReadRepository, MeetingRepository
from .push_channels import PushChannels

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
CLOCK_SKEW = timedelta(minutes=1)  # read a little before the last sync: Cronofy's clock is not ours
RETRY_READ = timedelta(seconds=30)
MAX_READS_IN_A_ROW = 5
MAX_VERSION_RACES = 3
JITTER = 0.1  # each reconciliation lands within +-10 % of the interval: the reads stay spread out
SUSPECT_SOONER = 4  # after a missed push, reconcile that calendar this many times as often
# The pace of reconciliation (domain/pacing.py): this many times what the followed calendars need on average,
# plus the backlog (calendars overdue: a worker was down, the budget was short) spread over a quarter of an
# hour; never less than one a minute, at most a few seconds' worth at once. Both counts are taken again every
# few minutes, so a backlog drains fast at first, then at the steady pace.
PACE_HEADROOM = 1.25
PACE_CATCH_UP = timedelta(minutes=15)
PACE_LEAST = 1 / 60
PACE_BURST_SECONDS = 6.0
PACE_RECOUNT = timedelta(minutes=5)
ANSWERS = {
    "accepted": ParticipantResponse.ACCEPTED,
    "declined": ParticipantResponse.DECLINED,
    "tentative": ParticipantResponse.TENTATIVE,
    "needs_action": ParticipantResponse.NEEDS_ACTION,
}
# What a read is for, and how urgent: its purpose and priority in the Cronofy budget.
SPENDING = {
    ReadReason.PUSH: (Purpose.PUSH_READ, Priority.PUSH),
    ReadReason.RECONCILE: (Purpose.RECONCILIATION, Priority.SWEEP),
    ReadReason.CHANNEL: (Purpose.CHANNEL_REPAIR, Priority.SWEEP),
}

Claimed = tuple[CalendarConnection, ChangeReading]


class CalendarChanges:
    def __init__(
        self,
        *,
        reads: ChangeReadRepository,
        meetings: MeetingRepository,
        access: CalendarAccess,
        channels: PushChannels,
        gateway: CalendarGateway,
        clock: Clock,
        background: BackgroundTasks,
        owner: str,
        reconcile_every: timedelta | None,
        announce: Announcer = SILENT,
    ) -> None:
        self._reads = reads
        self._meetings = meetings
        self._access = access
        self._channels = channels
        self._gateway = gateway
        self._clock = clock
        self._background = background
        self._owner = owner
        self._reconcile_every = reconcile_every
        self._announce = announce
        self._pace = Pace(per_second=PACE_LEAST)
        self._recount_at: datetime | None = None

    # --- pushes ------------------------------------------------------------------------------

    async def connection_for(self, token: str) -> CalendarConnection | None:
        return await self._reads.by_channel_token(token)

    async def changed(self, connection: CalendarConnection, *, since: datetime | None) -> None:
        """A `change` push: note it durably, then read the changes in the background."""
        await self._reads.note_changes(connection.id, since=since, now=self._clock())
        self._background.spawn(lambda: self.read(connection.id))

    def disconnected(self, connection: CalendarConnection) -> None:
        """`profile_disconnected`: the user must link the account again. Marking every meeting's copies
        can take a while, so the push is answered first."""
        self._background.spawn(lambda: self._access.needs_relink(connection.id))

    # --- which calendars are followed -----------------------------------------------------------

    async def follow(self, connection_ids: list[str]) -> None:
        """Copies of ours were just written to these calendars: reconcile each from its own random moment
        within the next interval on (unless it is followed already). Not one moment for all: the calendars
        of one meeting would then be read in the same minute, every time."""
        if self._reconcile_every is None:
            return
        for connection_id in connection_ids:
            start = self._clock() + self._reconcile_every * random.random()
            await self._reads.follow([connection_id], reconcile_at=start)

    async def mark_reconciliation_due(self) -> int:
        """Make a read due for the followed calendars whose reconciliation time has come, at a steady pace:
        a little faster than the interval needs for all of them (and faster while a backlog is overdue), so
        chance bursts of due calendars go out over a few minutes instead of all in one (this process's pace;
        each worker process keeps its own)."""
        if self._reconcile_every is None:
            return 0
        now = self._clock()
        if self._recount_at is None or now >= self._recount_at:
            needed = await self._reads.followed() / self._reconcile_every.total_seconds()
            backlog = await self._reads.overdue_for_reconciliation(now=now) / PACE_CATCH_UP.total_seconds()
            self._pace.at_rate(max(PACE_HEADROOM * needed + backlog, PACE_LEAST), burst_seconds=PACE_BURST_SECONDS)
            self._recount_at = now + PACE_RECOUNT
        available = self._pace.available(now)
        if available < 1:
            return 0
        marked = await self._reads.due_for_reconciliation(now=now, limit=available)
        self._pace.took(marked)
        return marked

    # --- units of work -------------------------------------------------------------------------

    async def claim_due(self) -> Claimed | None:
        return await self._claim(None)

    async def read(self, connection_id: str) -> bool:
        """Read this connection's changes after a push; again at once if more were noted meanwhile (a push
        that arrived while we read), so a burst of pushes costs few reads."""
        for attempt in range(MAX_READS_IN_A_ROW):
            claimed = await self._claim(connection_id)
            if claimed is None:
                return attempt > 0
            if await self.read_claimed(claimed):
                return True
        return True

    async def read_claimed(self, claimed: Claimed) -> bool:
        """One read under the lease, then give the lease back. True when it read the calendar and nothing
        more was noted meanwhile (else it stays due: read again)."""
        return (await self._read(claimed))[0]

    async def read_due(self, claimed: Claimed) -> bool:
        """The worker's unit. False when the calendar could not be read (the budget's share for it is spent,
        or Cronofy fails): the rest of the pass would fare no better, so it ends; the work stays due."""
        return (await self._read(claimed))[1]

    async def _read(self, claimed: Claimed) -> tuple[bool, bool]:
        """(read and finished, read): as background work of its reason's priority, charged to the calendar's
        owner."""
        connection, reading = claimed
        purpose, priority = SPENDING[reading.reason]
        with spending(purpose, priority, connection.user_id):
            synced_at, retry_at, reconcile_at = await self._sync(connection, reading)
        finished = await self._reads.finish_sync(
            connection.id,
            owner=self._owner,
            requests_seen=reading.requests_seen,
            synced_at=synced_at,
            retry_at=retry_at,
            reconcile_at=reconcile_at,
        )
        if finished and synced_at is not None:
            await self._announce(connection_change(ConnectionChangeKind.SYNCED, connection.id, connection.user_id))
        read = not (synced_at is None and retry_at is not None)  # not failed, not deferred
        return finished and read, read

    async def _claim(self, connection_id: str | None) -> Claimed | None:
        now = self._clock()
        return await self._reads.claim_sync(owner=self._owner, now=now, until=now + LEASE, connection_id=connection_id)

    async def _sync(
        self, connection: CalendarConnection, reading: ChangeReading
    ) -> tuple[datetime | None, datetime | None, datetime | None]:
        """Open the channel if there is none yet, else read and apply changes: (when it synced, None if
        not; when to try again, None if not needed; when to reconcile next, None when nothing of ours is
        upcoming there)."""
        try:
            if reading.channel_id is None:
                opened = await self._channels.open(connection)
                return None, None if opened else self._clock() + RETRY_READ, None
            synced_at, changed = await self._read_changes(connection, reading.changes_since)
            suspect = changed and reading.reason is ReadReason.RECONCILE
            if suspect:  # a change no push told us about: the channel may be broken
                log.warning("connection %s: a reconciliation found a change no push announced", connection.id)
                await self._channels.reopen(connection)
            return synced_at, None, await self._next_reconciliation(connection, sooner=suspect)
        except BudgetDeferred as deferred:
            return None, self._clock() + timedelta(seconds=deferred.retry_after), None
        except (CronofyError, ConnectionGone) as exc:
            log.warning("connection %s: reading changes failed (%s); retrying", connection.id, type(exc).__name__)
            return None, self._clock() + RETRY_READ, None
        except NeedsRelink:  # its copies were failed when it was marked; a relink makes it due again
            return None, None, None

    async def _next_reconciliation(self, connection: CalendarConnection, *, sooner: bool) -> datetime | None:
        now = self._clock()
        if self._reconcile_every is None or not await self._meetings.has_upcoming_on(connection.id, now=now):
            return None
        interval = self._reconcile_every / (SUSPECT_SOONER if sooner else 1)
        return now + interval * random.uniform(1 - JITTER, 1 + JITTER)

    async def _read_changes(
        self, connection: CalendarConnection, changes_since: datetime | None
    ) -> tuple[datetime, bool]:
        """(when the read started, whether it changed any meeting)."""
        started = self._clock()
        since = min(filter(None, (changes_since, (connection.last_synced_at or connection.linked_at) - CLOCK_SKEW)))

        async def read(access_token: Secret, data_center: str) -> list[ManagedEvent]:
            return await self._gateway.managed_events_since(
                access_token=access_token, since=since, data_center=data_center
            )

        changed = False
        for event in await self._access.call(connection.id, read):
            changed = await self._apply(connection, event) or changed
        return started, changed

    async def _apply(self, connection: CalendarConnection, event: ManagedEvent) -> bool:
        """Whether the event changed the meeting."""
        meeting_id = Meeting.id_of_event(event.event_id)
        if meeting_id is None:
            return False
        seen = seen_event(event)
        for _ in range(MAX_VERSION_RACES):  # each rule holds for the meeting version it was decided on
            meeting = await self._meetings.get(meeting_id)
            if meeting is None or meeting.status is MeetingStatus.CANCELLED:
                return False
            index = meeting.copy_on(connection.id, event.calendar_id)
            if index is None or meeting.copies[index].removed:
                return False
            taken = await self._take(meeting, index, seen)
            if taken:
                await self._announce(meeting_change(inbound_kind(read_change(meeting, index, seen)), meeting))
            if taken is not None:
                return taken
        return False

    async def _take(self, meeting: Meeting, index: int, seen: SeenEvent) -> bool | None:
        """Whether it changed the meeting; None to decide again on a fresher meeting."""
        change = read_change(meeting, index, seen)
        now = self._clock()
        if change.cancel:
            return await self._meetings.cancel_from_calendar(meeting, copy_index=index, now=now) or None
        if change.declined_by is not None:
            return await self._meetings.copy_removed(meeting, copy_index=index, decliners=change.declined_by) or None
        if change.answers:
            await self._meetings.set_responses(meeting, dict(change.answers))
        if not change.edits:
            return bool(change.answers)
        taken = await self._meetings.take_calendar_change(
            meeting, copy_index=index, fields=dict(change.edits), changed_at=seen.updated or now, now=now
        )
        return True if taken else None


def seen_event(event: ManagedEvent) -> SeenEvent:
    return SeenEvent(
        deleted=event.deleted,
        updated=event.updated,
        title=event.summary,
        description=event.description,
        location=event.location,
        start=event.start,
        end=event.end,
        answers=tuple((a.email, ANSWERS[a.status]) for a in event.attendees if a.status in ANSWERS),
    )
