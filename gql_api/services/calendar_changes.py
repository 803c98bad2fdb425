"""Following what users do in their calendars (DESIGN.md §5, inbound).

Cronofy pushes carry no event data: a push only says "read your changes". Each connection's pending
reads are noted in MongoDB and done under a lease, by the request that noted them (in the background)
or by the worker; the read asks Cronofy for our own (managed) events changed since the last successful
read and applies `domain.calendar_edits`. Periodic reconciliation makes reads due for connections not
read for a while, which catches pushes that never came.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from ..cronofy.errors import CronofyError
from ..cronofy.models import ManagedEvent
from ..domain.calendar_edits import SeenEvent, read_change
from ..domain.connections import CalendarConnection, ChangeReading
from ..domain.errors import ConnectionGone, NeedsRelink
from ..domain.meetings import Meeting, MeetingStatus, ParticipantResponse
from ..domain.secrets import Secret
from ..domain.time import Clock
from .calendar_access import CalendarAccess
from .ports import BackgroundTasks, CalendarGateway, ChangeReadRepository, MeetingRepository
from .push_channels import PushChannels

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
CLOCK_SKEW = timedelta(minutes=1)  # read a little before the last sync: Cronofy's clock is not ours
RETRY_READ = timedelta(seconds=30)
MAX_READS_IN_A_ROW = 5
MAX_VERSION_RACES = 3
ANSWERS = {
    "accepted": ParticipantResponse.ACCEPTED,
    "declined": ParticipantResponse.DECLINED,
    "tentative": ParticipantResponse.TENTATIVE,
    "needs_action": ParticipantResponse.NEEDS_ACTION,
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

    # --- units of work -------------------------------------------------------------------------

    async def mark_reconciliation_due(self) -> int:
        """Make a read due for every connection not read for a reconciliation interval."""
        if self._reconcile_every is None:
            return 0
        now = self._clock()
        return await self._reads.due_for_reconciliation(synced_before=now - self._reconcile_every, now=now)

    async def claim_due(self) -> Claimed | None:
        return await self._claim(None)

    async def read(self, connection_id: str) -> bool:
        """Read this connection's changes; again at once if more were noted meanwhile (a push that
        arrived while we read), so a burst of pushes costs few reads."""
        for attempt in range(MAX_READS_IN_A_ROW):
            claimed = await self._claim(connection_id)
            if claimed is None:
                return attempt > 0
            if await self.read_claimed(claimed):
                return True
        return True

    async def read_claimed(self, claimed: Claimed) -> bool:
        """One read under the lease, then give it back; False when more changes were noted meanwhile."""
        connection, reading = claimed
        synced_at, retry_at = await self._sync(connection, reading)
        return await self._reads.finish_sync(
            connection.id,
            owner=self._owner,
            requests_seen=reading.requests_seen,
            synced_at=synced_at,
            retry_at=retry_at,
        )

    async def _claim(self, connection_id: str | None) -> Claimed | None:
        now = self._clock()
        return await self._reads.claim_sync(owner=self._owner, now=now, until=now + LEASE, connection_id=connection_id)

    async def _sync(
        self, connection: CalendarConnection, reading: ChangeReading
    ) -> tuple[datetime | None, datetime | None]:
        """Open the channel if there is none yet, else read and apply changes: (when it synced, None if
        not; when to try again, None if not needed)."""
        try:
            if reading.channel_id is None:
                opened = await self._channels.open(connection)
                return None, None if opened else self._clock() + RETRY_READ
            return await self._read_changes(connection, reading.changes_since), None
        except (CronofyError, ConnectionGone) as exc:
            log.warning("connection %s: reading changes failed (%s); retrying", connection.id, type(exc).__name__)
            return None, self._clock() + RETRY_READ
        except NeedsRelink:  # its copies were failed when it was marked; a relink makes it due again
            return None, None

    async def _read_changes(self, connection: CalendarConnection, changes_since: datetime | None) -> datetime:
        started = self._clock()
        since = min(filter(None, (changes_since, (connection.last_synced_at or connection.linked_at) - CLOCK_SKEW)))

        async def read(access_token: Secret, data_center: str) -> list[ManagedEvent]:
            return await self._gateway.managed_events_since(
                access_token=access_token, since=since, data_center=data_center
            )

        for event in await self._access.call(connection.id, read):
            await self._apply(connection, event)
        return started

    async def _apply(self, connection: CalendarConnection, event: ManagedEvent) -> None:
        meeting_id = Meeting.id_of_event(event.event_id)
        if meeting_id is None:
            return
        seen = seen_event(event)
        for _ in range(MAX_VERSION_RACES):  # each rule holds for the meeting version it was decided on
            meeting = await self._meetings.get(meeting_id)
            if meeting is None or meeting.status is MeetingStatus.CANCELLED:
                return
            index = meeting.copy_on(connection.id, event.calendar_id)
            if index is None or meeting.copies[index].removed:
                return
            if await self._take(meeting, index, seen):
                return

    async def _take(self, meeting: Meeting, index: int, seen: SeenEvent) -> bool:
        """True when done (changed or nothing to change); False to decide again on a fresher meeting."""
        change = read_change(meeting, index, seen)
        now = self._clock()
        if change.cancel:
            return await self._meetings.cancel_from_calendar(meeting, copy_index=index, now=now)
        if change.declined_by is not None:
            return await self._meetings.copy_removed(meeting, copy_index=index, decliners=change.declined_by)
        if change.answers:
            await self._meetings.set_responses(meeting, dict(change.answers))
        if not change.edits:
            return True
        return await self._meetings.take_calendar_change(
            meeting, copy_index=index, fields=dict(change.edits), changed_at=seen.updated or now, now=now
        )


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
