"""Bringing every calendar copy of a meeting to the meeting's current version (the outbox).

One unit of work, `write_claimed`, serves both paths: a mutation claims its meeting and gives Cronofy a
short grace (`write_soon`), and the worker claims whatever is due. The meeting's lease makes the
claimer the only one acting on its calendars; every pending copy is written at once, as the meeting is
now (an upsert of its current details, or a delete once cancelled). Applying the latest state, not a log
of old operations, keeps them in order: an update queued behind a cancel can never bring the event back.
Failures retry with backoff up to a budget, then FAILED.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from ..cronofy.budget import Priority, Purpose, spending
from ..cronofy.errors import (
    BudgetDeferred,
    CronofyError,
    CronofyForbidden,
    CronofyNotFound,
    CronofyRateLimited,
    CronofyUnavailable,
    CronofyValidationError,
)
from ..cronofy.models import Attendee, CalendarEvent
from ..cronofy.wire import event_fingerprint
from ..domain.changes import MeetingChangeKind, meeting_change, sync_view
from ..domain.errors import ConnectionGone, NeedsRelink
from ..domain.meetings import CalendarCopy, Meeting, MeetingStatus
from ..domain.secrets import Secret
from ..domain.time import Clock
from ..retry import Backoff
from .calendar_access import RELINK_MESSAGE, CalendarAccess
from .live import SILENT, Announcer
from .ports import BackgroundTasks, CalendarGateway, OutboxRepository

log = logging.getLogger(__name__)

BACKOFF = Backoff(first=5.0, longest=15 * 60.0)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one attempt on one copy came to; `retry` failures count against the budget."""

    error: str | None = None
    retry: bool = False
    retry_after: float | None = None
    deferred_for: float | None = None  # not sent: the rate budget's background share was spent
    unchanged: bool = False  # no call needed: the calendar already shows this
    event: str | None = None  # fingerprint of the event now in the calendar


class CalendarWrites:
    def __init__(
        self,
        *,
        outbox: OutboxRepository,
        access: CalendarAccess,
        gateway: CalendarGateway,
        clock: Clock,
        background: BackgroundTasks,
        owner: str,
        max_attempts: int,
        lease: timedelta,
        follow: Callable[[list[str]], Awaitable[None]],
        announce: Announcer = SILENT,
    ) -> None:
        self._outbox = outbox
        self._access = access
        self._gateway = gateway
        self._clock = clock
        self._background = background
        self._owner = owner
        self._max_attempts = max_attempts
        self._lease = lease  # longer than one copy's Cronofy calls can take
        self._follow = follow  # calendars that now hold an event of ours: reconciled while it is upcoming
        self._announce = announce

    async def write_soon(self, meeting: Meeting, *, grace: float) -> Meeting | None:
        """Write this meeting's calendars now, waiting at most `grace` seconds for the result; the work
        goes on after that. None when it did not finish in time (or another worker holds it). Its calls
        are user-facing (someone waits) and charged to the organizer."""
        with spending(Purpose.EVENT_WRITE, Priority.USER, meeting.organizer_id):
            return await self._background.run_soon(lambda: self.write(meeting.id), grace=grace)

    async def write(self, meeting_id: str) -> Meeting | None:
        meeting = await self._claim(meeting_id)
        return (await self._write(meeting))[0] if meeting else None

    async def claim_due(self) -> Meeting | None:
        """The worker's claim: the most overdue meeting with calendar work."""
        return await self._claim(None)

    async def write_due(self, meeting: Meeting) -> bool:
        """The worker's unit: write a claimed meeting's due copies as background work. False when the rate
        budget deferred some of them: the rest of the worker's pass would be deferred too, so it ends."""
        with spending(Purpose.EVENT_WRITE, Priority.WRITE, meeting.organizer_id):
            _, deferred = await self._write(meeting)
        return not deferred

    async def _claim(self, meeting_id: str | None) -> Meeting | None:
        now = self._clock()
        return await self._outbox.claim(owner=self._owner, now=now, until=now + self._lease, meeting_id=meeting_id)

    async def _write(self, meeting: Meeting) -> tuple[Meeting, bool]:
        """Bring the due copies of a meeting this process holds the lease of up to date, and give it back:
        the meeting as written, and whether any copy was deferred."""
        due = meeting.due_copies(self._clock())
        # Every copy at once: the answer waits for the slowest calendar, not for their sum.
        outcomes = await asyncio.gather(*(self._apply(meeting, meeting.copies[i]) for i in due))
        results = {
            i: self._after(meeting, meeting.copies[i], outcome) for i, outcome in zip(due, outcomes, strict=True)
        }
        done = meeting.with_copies(results)
        if not await self._outbox.finish(
            meeting.id,
            results,
            owner=self._owner,
            seen_version=meeting.version,
            next_due=done.next_due(self._clock()),
            now=self._clock(),
        ):
            log.warning("lost the lease on meeting %s; another worker continues", meeting.id)
        elif sync_view(done) != sync_view(meeting):
            await self._announce(meeting_change(MeetingChangeKind.SYNC_STATUS, done))
        holding = [meeting.copies[i].connection_id for i, outcome in zip(due, outcomes, strict=True) if outcome.event]
        await self._follow(holding)
        return done, any(outcome.deferred_for is not None for outcome in outcomes)

    async def _apply(self, meeting: Meeting, copy: CalendarCopy) -> Outcome:
        delete = meeting.status is MeetingStatus.CANCELLED or copy.withdrawn
        event = event_of(meeting, copy)
        fingerprint = event_fingerprint(event)
        if copy.needs_no_call(delete=delete, event=fingerprint):
            return Outcome(event=fingerprint, unchanged=True)  # nothing a calendar would show differently

        async def write(access_token: Secret, data_center: str) -> None:
            if delete:
                await self._gateway.delete_event(
                    access_token=access_token,
                    calendar_id=copy.calendar_id,
                    event_id=meeting.event_id,
                    data_center=data_center,
                )
            else:
                await self._gateway.upsert_event(
                    access_token=access_token, calendar_id=copy.calendar_id, event=event, data_center=data_center
                )

        try:
            await self._access.call(copy.connection_id, write)
        except BudgetDeferred as deferred:
            return Outcome(deferred_for=deferred.retry_after)
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
        return Outcome(event=None if delete else fingerprint)

    def _after(self, meeting: Meeting, copy: CalendarCopy, outcome: Outcome) -> CalendarCopy:
        now = self._clock()
        if outcome.deferred_for is not None:
            return copy.deferred(meeting.version, now + timedelta(seconds=outcome.deferred_for))
        if outcome.unchanged:
            return copy.up_to_date(meeting.version, now)
        if outcome.error is None:
            return copy.written_ok(meeting.version, meeting.content, now, event=outcome.event)
        attempts = (copy.attempts if copy.attempt_version == meeting.version else 0) + 1
        failed = copy.attempt_failed(
            meeting.version,
            outcome.error,
            max_attempts=self._max_attempts,
            now=now,
            retry_in=BACKOFF.after(attempts, retry_after=outcome.retry_after) if outcome.retry else None,
        )
        if failed.failed_for_good(meeting.version):
            log.warning(
                "meeting %s: a calendar copy failed for good after %d attempt(s): %s",
                meeting.id,
                failed.attempts,
                outcome.error,
            )
        return failed


def event_of(meeting: Meeting, copy: CalendarCopy) -> CalendarEvent:
    return CalendarEvent(
        event_id=meeting.event_id,
        summary=meeting.title,
        description=meeting.description,
        location=meeting.location,
        start=meeting.start,
        end=meeting.end,
        tzid=meeting.time_zone,
        attendees=tuple(Attendee(p.email, p.display_name) for p in meeting.invitees_of(copy)),
        rejected=tuple(Attendee(p.email, p.display_name) for p in meeting.uninvited_of(copy)),
    )
