"""Following what users do in their calendars (DESIGN.md §5, inbound).

Cronofy pushes carry no event data: a push only says "read your changes". Each connection's pending
reads are noted in MongoDB and done by a worker under a lease; the read asks Cronofy for our own
(managed) events changed since the last successful read and applies the rules below. Because the
rules compare the calendar's current state with the meeting's, applying them twice, or for pushes
that arrive late or out of order, changes nothing more; our own writes match the meeting and so
never echo back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import uuid
from datetime import datetime, timedelta

from ..cronofy import CronofyError, CronofyGateway, ManagedEvent
from ..models import CalendarConnection, Clock, Meeting, MeetingStatus, ParticipantResponse, content_fingerprint
from ..store import ConnectionStore, MeetingStore
from ..vault import Secret
from .calendar_access import CalendarAccess, ConnectionGone, NeedsRelink

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/cronofy/"
LEASE = timedelta(seconds=60)
CLOCK_SKEW = timedelta(minutes=1)  # read a little before the last sync: Cronofy's clock is not ours
RETRY_READ = timedelta(seconds=30)
CLOSE_GRACE_SECONDS = 2.0
MAX_READS_IN_A_ROW = 5
RESPONSES = {"accepted": ParticipantResponse.ACCEPTED, "declined": ParticipantResponse.DECLINED,
             "tentative": ParticipantResponse.TENTATIVE, "needs_action": ParticipantResponse.NEEDS_ACTION}


class CalendarInbound:
    def __init__(self, *, connections: ConnectionStore, meetings: MeetingStore, access: CalendarAccess,
                 gateway: CronofyGateway, clock: Clock, public_base_url: str, reconcile_every: timedelta | None
                 ) -> None:
        self._connections = connections
        self._meetings = meetings
        self._access = access
        self._gateway = gateway
        self._clock = clock
        self._callback_base = public_base_url.rstrip("/") + WEBHOOK_PATH
        self._reconcile_every = reconcile_every
        self._owner = f"inbound-{uuid.uuid4().hex[:12]}"
        self._background: set[asyncio.Task] = set()

    # --- channels ---------------------------------------------------------------------------

    async def open_channel(self, connection: CalendarConnection) -> bool:
        """One push channel per connection (only our events), at an unguessable callback URL. When
        Cronofy cannot be reached the worker tries again; until then lastSyncedAt stays empty."""
        token = secrets.token_urlsafe(24)  # 192 bits
        await self._connections.prepare_channel(connection.id, token)
        try:
            channel_id = await self._access.call(
                connection.id,
                lambda access_token, data_center: self._gateway.create_channel(
                    access_token=access_token, callback_url=self._callback_base + token, data_center=data_center),
            )
        except (CronofyError, NeedsRelink, ConnectionGone) as exc:
            log.warning("connection %s: push channel not created (%s); the worker retries",
                        connection.id, type(exc).__name__)
            await self._connections.note_changes(connection.id, since=None,
                                                 now=self._clock() + RETRY_READ)
            return False
        await self._connections.channel_open(connection.id, channel_id, now=self._clock())
        return True

    async def open_channel_soon(self, connection: CalendarConnection, *, grace: float) -> None:
        """Open the channel without holding the link mutation past `grace`: a slow Cronofy finishes it
        in the background (never cancelled halfway, which could leave a channel we do not know of)."""
        task = asyncio.create_task(self.open_channel(connection))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), timeout=grace)

    async def close_channel(self, connection: CalendarConnection) -> None:
        """Best effort, briefly: revoking the credential right after ends the channel anyway."""
        channel_id = connection.channel_id
        if channel_id is None:
            return
        try:
            async with asyncio.timeout(CLOSE_GRACE_SECONDS):
                await self._access.call(connection.id, lambda access_token, data_center: self._gateway.close_channel(
                    access_token=access_token, channel_id=channel_id, data_center=data_center))
        except (CronofyError, NeedsRelink, ConnectionGone, TimeoutError) as exc:
            log.info("connection %s: channel not closed (%s); revocation ends it", connection.id,
                     type(exc).__name__)

    # --- pushes -------------------------------------------------------------------------------

    async def connection_for(self, token: str) -> CalendarConnection | None:
        return await self._connections.by_channel_token(token)

    async def changed(self, connection: CalendarConnection, *, since: datetime | None) -> None:
        """A `change` push: note it durably, then read the changes in the background."""
        await self._connections.note_changes(connection.id, since=since, now=self._clock())
        task = asyncio.create_task(self._sync_one(connection.id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def disconnected(self, connection: CalendarConnection) -> None:
        """`profile_disconnected`: the user must link the account again. Marking every meeting's copies
        can take a while, so the push is answered first."""
        task = asyncio.create_task(self._access.needs_relink(connection.id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def aclose(self) -> None:
        """Stop background reads and hand back this process's leases (reads and refreshes)."""
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        try:
            await self._connections.release_leases(owners=(self._owner, self._access.owner))
        except Exception as exc:  # the store is away: the leases simply expire instead
            log.warning("could not hand back connection leases on shutdown: %s", type(exc).__name__)

    # --- the worker ---------------------------------------------------------------------------

    async def run_due(self, *, limit: int = 50) -> int:
        """Reconcile connections not read for a while, then do up to `limit` due reads."""
        if self._reconcile_every is not None:
            await self._connections.due_for_reconciliation(synced_before=self._clock() - self._reconcile_every,
                                                           now=self._clock())
        handled = 0
        for _ in range(limit):
            if not await self._sync_one():
                break
            handled += 1
        return handled

    async def _sync_one(self, connection_id: str | None = None) -> bool:
        """Lease one connection with due changes and read them; again at once if more were noted
        meanwhile (a push that arrived while we read), so a burst of pushes costs few reads."""
        for attempt in range(MAX_READS_IN_A_ROW):
            now = self._clock()
            claimed = await self._connections.claim_sync(owner=self._owner, now=now, until=now + LEASE,
                                                         connection_id=connection_id)
            if claimed is None:
                return attempt > 0
            connection, bookkeeping = claimed
            connection_id = connection.id
            if await self._connections.finish_sync(connection.id, owner=self._owner,
                                                   requests_seen=bookkeeping["sync_requests"],
                                                   **await self._sync(connection, bookkeeping)):
                return True
        return True

    async def _sync(self, connection: CalendarConnection, bookkeeping: dict) -> dict[str, datetime | None]:
        """Open the channel if there is none yet, else read and apply changes; says when it synced
        (None: not synced) and when to try again (None: not needed)."""
        try:
            if bookkeeping["channel_id"] is None:
                opened = await self.open_channel(connection)
                return {"synced_at": None, "retry_at": None if opened else self._clock() + RETRY_READ}
            return {"synced_at": await self._read_changes(connection, bookkeeping["changes_since"]), "retry_at": None}
        except (CronofyError, ConnectionGone) as exc:
            log.warning("connection %s: reading changes failed (%s); retrying", connection.id, type(exc).__name__)
            return {"synced_at": None, "retry_at": self._clock() + RETRY_READ}
        except NeedsRelink:  # its copies were failed when it was marked; a relink makes it due again
            return {"synced_at": None, "retry_at": None}

    async def _read_changes(self, connection: CalendarConnection, changes_since: datetime | None) -> datetime:
        started = self._clock()
        since = min(filter(None, (changes_since, (connection.last_synced_at or connection.linked_at) - CLOCK_SKEW)))

        async def read(access_token: Secret, data_center: str) -> list[ManagedEvent]:
            return await self._gateway.managed_events_since(access_token=access_token, since=since,
                                                            data_center=data_center)

        for event in await self._access.call(connection.id, read):
            await self._apply(connection, event)
        return started

    # --- the rules ----------------------------------------------------------------------------

    async def _apply(self, connection: CalendarConnection, event: ManagedEvent) -> None:
        if not event.event_id.startswith(Meeting.EVENT_ID_PREFIX):
            return
        for _ in range(3):  # each rule holds for the meeting version it was decided on
            meeting = await self._meetings.get(event.event_id.removeprefix(Meeting.EVENT_ID_PREFIX))
            if meeting is None or meeting.status is MeetingStatus.CANCELLED:
                return
            index = next((i for i, c in enumerate(meeting.copies)
                          if c.connection_id == connection.id and c.calendar_id == event.calendar_id), None)
            if index is None or meeting.copies[index].removed:
                return
            if await self._apply_to(meeting, index, event):
                return

    async def _apply_to(self, meeting: Meeting, index: int, event: ManagedEvent) -> bool:
        """True when done (changed or nothing to change); False to retry on a fresher meeting."""
        copy = meeting.copies[index]
        now = self._clock()
        if event.deleted:
            if copy.is_host:  # the organizer's event: the meeting is off for everyone
                return await self._meetings.cancel_from_calendar(meeting, copy_index=index, now=now)
            owners = [i for i, p in enumerate(meeting.participants) if p.copy == index]
            return await self._meetings.copy_removed(meeting, copy_index=index, decliners=owners)

        if copy.is_host:
            answers = {i: RESPONSES[a.status] for i, p in enumerate(meeting.participants)
                       for a in event.attendees
                       if a.email.lower() == p.email.lower() and a.status in RESPONSES
                       and not p.is_organizer and RESPONSES[a.status] is not p.response}
            if answers:
                await self._meetings.set_responses(meeting, answers)

        if copy.written == content_fingerprint(event.summary, event.description, event.location, event.start,
                                               event.end):
            return True  # what we wrote ourselves (perhaps an older version), read back: not an edit
        edits = _edits(meeting, event)
        # Last change wins. Cronofy's times are whole seconds: within the meeting's own second the
        # calendar's change counts as the later one (our own writes never differ, so they never win).
        if not edits or (event.updated is not None and event.updated < meeting.updated_at.replace(microsecond=0)):
            return True
        return await self._meetings.take_calendar_change(meeting, copy_index=index, fields=edits,
                                                         changed_at=event.updated or now, now=now)


def _edits(meeting: Meeting, event: ManagedEvent) -> dict[str, object]:
    """The meeting fields the calendar's copy now says differently."""
    seen = {"title": event.summary, "description": event.description or None, "location": event.location,
            "start": event.start, "end": event.end}
    current = {"title": meeting.title, "description": meeting.description, "location": meeting.location,
               "start": meeting.start, "end": meeting.end}
    edits = {name: value for name, value in seen.items() if value != current[name]}
    if "title" in edits and not (event.summary or "").strip():
        del edits["title"]
    for name in ("start", "end"):  # an all-day or unreadable time is not taken over
        if name in edits and seen[name] is None:
            del edits[name]
    start, end = edits.get("start", meeting.start), edits.get("end", meeting.end)
    if end <= start:
        edits.pop("start", None)
        edits.pop("end", None)
    return edits
