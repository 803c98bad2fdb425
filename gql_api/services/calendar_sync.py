"""Bringing every calendar copy of a meeting to the meeting's current version (the outbox worker).

A worker leases one meeting at a time and, for every pending copy at once, makes the calendar match
the meeting as it is now: an upsert of the current details, or a delete once cancelled. Applying the
latest state (not a log of old operations) is what keeps them in order: an update queued behind a
cancel can never bring the event back. Failures retry with backoff up to a budget, then FAILED.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from datetime import datetime, timedelta

from ..cronofy import (
    Attendee,
    CalendarEvent,
    CronofyError,
    CronofyForbidden,
    CronofyGateway,
    CronofyNotFound,
    CronofyRateLimited,
    CronofyUnavailable,
    CronofyValidationError,
)
from ..models import CalendarCopy, Clock, Delivery, Meeting, MeetingStatus
from ..store import MeetingStore
from ..vault import Secret
from .backoff import jittered_backoff
from .calendar_access import RELINK_MESSAGE, CalendarAccess, ConnectionGone, NeedsRelink

log = logging.getLogger(__name__)

FIRST_RETRY = timedelta(seconds=5)
LONGEST_WAIT = timedelta(minutes=15)


def backoff(attempts: int, retry_after: float | None = None) -> timedelta:
    """Cronofy's Retry-After when it gave one, else our own backoff."""
    if retry_after is not None:
        return timedelta(seconds=min(retry_after, LONGEST_WAIT.total_seconds()))
    return jittered_backoff(attempts, first=FIRST_RETRY, longest=LONGEST_WAIT)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one attempt on one copy came to; `retry` failures count against the budget."""

    error: str | None = None
    retry: bool = False
    retry_after: float | None = None


class CalendarSync:
    def __init__(self, *, meetings: MeetingStore, access: CalendarAccess, gateway: CronofyGateway, clock: Clock,
                 max_attempts: int, lease: timedelta) -> None:
        self._meetings = meetings
        self._access = access
        self._gateway = gateway
        self._clock = clock
        self._max_attempts = max_attempts
        self._lease = lease  # longer than one copy's Cronofy calls can take; renewed after each copy
        self._owner = f"worker-{uuid.uuid4().hex[:12]}"
        self._background: set[asyncio.Task] = set()

    async def run_due(self, *, limit: int = 50) -> int:
        """Sync up to `limit` meetings whose calendar work is due; returns how many were handled."""
        handled = 0
        for _ in range(limit):
            if await self._sync_one() is None:
                break
            handled += 1
        return handled

    async def sync_soon(self, meeting_id: str, *, grace: float) -> Meeting | None:
        """Start syncing this meeting now and wait at most `grace` seconds for the result; the work
        goes on after that. None when it did not finish in time (or another worker holds it)."""
        task = asyncio.create_task(self._sync_one(meeting_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        try:
            return await asyncio.wait_for(asyncio.shield(task), timeout=grace)
        except TimeoutError:
            return None
        except Exception:  # the worker retries; the mutation already succeeded
            log.exception("immediate calendar sync of meeting %s failed", meeting_id)
            return None

    async def aclose(self) -> None:
        """Stop background syncs and hand their leases back, so another worker finishes at once."""
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        try:
            released = await self._meetings.release_all(owner=self._owner, now=self._clock())
        except Exception as exc:  # the store is away: the leases simply expire instead
            log.warning("could not hand back meeting leases on shutdown: %s", type(exc).__name__)
            return
        if released:
            log.info("handed back %d meeting lease(s) on shutdown", released)

    async def _sync_one(self, meeting_id: str | None = None) -> Meeting | None:
        """Lease one due meeting, bring its pending copies up to date, give the lease back."""
        now = self._clock()
        meeting = await self._meetings.claim(owner=self._owner, now=now, until=now + self._lease, meeting_id=meeting_id)
        if meeting is None:
            return None
        now = self._clock()
        due = [i for i in meeting.pending_copies() if not _backing_off(meeting, meeting.copies[i], now)]
        # Every copy at once: the answer waits for the slowest calendar, not for their sum.
        outcomes = await asyncio.gather(*(self._apply(meeting, meeting.copies[i]) for i in due))
        results = {i: self._after(meeting, meeting.copies[i], outcome)
                   for i, outcome in zip(due, outcomes, strict=True)}
        done = dataclasses.replace(meeting, copies=tuple(results.get(i, c) for i, c in enumerate(meeting.copies)))
        if not await self._meetings.finish(meeting.id, results, owner=self._owner, seen_version=meeting.version,
                                           next_due=_next_due(done, self._clock()), now=self._clock()):
            log.warning("lost the lease on meeting %s; another worker continues", meeting.id)
        return done

    async def _apply(self, meeting: Meeting, copy: CalendarCopy) -> Outcome:
        async def write(access_token: Secret, data_center: str) -> None:
            if meeting.status is MeetingStatus.CANCELLED:
                await self._gateway.delete_event(access_token=access_token, calendar_id=copy.calendar_id,
                                                 event_id=meeting.event_id, data_center=data_center)
            else:
                await self._gateway.upsert_event(access_token=access_token, calendar_id=copy.calendar_id,
                                                 event=_event(meeting, copy), data_center=data_center)

        try:
            await self._access.call(copy.connection_id, write)
        except CronofyRateLimited as exc:
            return Outcome("The calendar service is busy.", retry=True, retry_after=exc.retry_after)
        except CronofyUnavailable:
            return Outcome("The calendar service did not answer.", retry=True)
        except NeedsRelink:
            return Outcome(RELINK_MESSAGE)
        except ConnectionGone:
            return Outcome("The calendar was unlinked.")
        except CronofyForbidden:
            return Outcome("The calendar connection may not write events; link the account again.")
        except CronofyNotFound:
            return Outcome("The calendar no longer exists.")
        except CronofyValidationError as exc:
            log.warning("Cronofy refused meeting %s: %s", meeting.id, sorted(exc.errors))
            return Outcome("The calendar service refused the event.")
        except CronofyError as exc:
            log.warning("calendar write for meeting %s failed: %s", meeting.id, exc)
            return Outcome("The calendar service refused the change.")
        return Outcome()

    def _after(self, meeting: Meeting, copy: CalendarCopy, outcome: Outcome) -> CalendarCopy:
        now = self._clock()
        if outcome.error is None:
            return dataclasses.replace(copy, synced_version=meeting.version, synced_at=now, attempt_version=0,
                                       attempts=0, next_attempt_at=None, last_error=None,
                                       written=meeting.fingerprint)
        attempts = (copy.attempts if copy.attempt_version == meeting.version else 0) + 1
        exhausted = not outcome.retry or attempts >= self._max_attempts
        if exhausted:
            log.warning("meeting %s: a calendar copy failed for good after %d attempt(s): %s",
                        meeting.id, attempts, outcome.error)
        return dataclasses.replace(
            copy,
            attempt_version=meeting.version,
            attempts=attempts,
            next_attempt_at=None if exhausted else now + backoff(attempts, outcome.retry_after),
            failed_version=meeting.version if exhausted else copy.failed_version,
            last_error=outcome.error if exhausted else f"{outcome.error} Retrying.",
        )


def _backing_off(meeting: Meeting, copy: CalendarCopy, now: datetime) -> bool:
    return copy.attempt_version == meeting.version and copy.next_attempt_at is not None \
        and copy.next_attempt_at > now


def _next_due(meeting: Meeting, now: datetime) -> datetime | None:
    waits = [meeting.copies[i].next_attempt_at if meeting.copies[i].attempt_version == meeting.version else None
             for i in meeting.pending_copies()]
    if not waits:
        return None
    return min(wait or now for wait in waits)


def _event(meeting: Meeting, copy: CalendarCopy) -> CalendarEvent:
    invitees = ()
    if copy.is_host:  # only the host event invites: other calendars hold their own copy
        invitees = tuple(Attendee(p.email, p.display_name) for p in meeting.participants
                         if p.delivery is Delivery.INVITATION)
    return CalendarEvent(
        event_id=meeting.event_id,
        summary=meeting.title,
        description=meeting.description,
        location=meeting.location,
        start=meeting.start,
        end=meeting.end,
        tzid=meeting.time_zone,
        attendees=invitees,
    )
