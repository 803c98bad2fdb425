"""Capacity: how many linked users one Cronofy application serves within its default limits (500 calls a
minute, 50 a second), measured on a simulated week of a mentoring platform.

    .venv/bin/python bench/capacity.py                 # 2,000 linked users, one simulated week
    .venv/bin/python bench/capacity.py --users 500 --days 2
    .venv/bin/python bench/capacity.py --overload      # an hour of background demand 5x the budget

It runs the real app (GraphQL over HTTP, webhooks, services, worker, the MongoDB store on mongomock) against
the sandbox on 127.0.0.1, both on one simulated clock (tests/support/simulation.py): nothing sleeps, so a
week runs in minutes. The sandbox enforces Cronofy's limits and counts 429s.

The workload model (each number an option; all random draws from --seed):
- N linked users (`--users`, default 2,000), each with one calendar; linked before the week starts.
- 30% of them in mentoring pairs (mentor and mentee, both linked); each pair has one meeting a week: the
  mentor schedules it at a random moment of the week, 1 to 7 days ahead, one hour long; each pair also
  starts the week with one meeting already scheduled (the steady state).
- Of the meetings: 10% rescheduled and 5% cancelled by the mentor, at a random moment before they start;
  of the other meetings' copies, 5% in all are edited (moved or renamed) or deleted by their owner in the
  calendar (a push follows; deleting the mentor's copy cancels the meeting, the mentee's declines it).
- 1% of the users' push channels are silent from the start (the sandbox loses their pushes): only
  reconciliation finds those changes (a channel found broken is opened again and hears again).
- Access tokens expire every 3 hours, as Cronofy's do.
- 0.5% of the users a day have their profile disconnected at the provider and link again a day later.

It prints the calls per linked user per day by purpose, the busiest minute, and the largest N that stays
within 500 calls a minute at that busiest minute, extrapolated linearly (every call is caused by one user's
calendar, so calls grow with N). That errs low: the busiest minute of a small N is a coincidence of a few
users' actions, which does not grow with N. So it also prints the busiest minute of N / users independent
populations like the simulated one (the run's minutes, each shifted at random in the week): at 100,000
users, and the largest N within 500. Then MongoDB commands per linked user per day, and it ends by checking
the outcome against the sandbox and the API: every calendar holds exactly the events it should (none lost,
none duplicated) and every change made in a calendar was applied. A simulated week of 2,000 users takes
about 12 minutes here.

`--overload` (500 users by default): every user in a mentoring pair with a meeting starting within the
hour, every push channel silent, 10% of the copies moved or renamed in the calendar meanwhile, and
reconciliation asking for every calendar again and again (an interval of N x 60 / 2,500 seconds): 2,500
reads a minute, five times the whole budget, for an hour. A linkCalendar and a scheduleMeeting made during
it must answer within their grace (SYNC_GRACE_SECONDS, on the simulated clock: Cronofy's answers and the
budget's waits), no minute may exceed 500 calls and Cronofy may never answer 429; afterwards every
deferred read must be done, with the same end check.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import functools
import heapq
import itertools
import logging
import random
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from gql_api.domain.meetings import Meeting  # noqa: E402
from gql_api.graphql.ids import MEETING, decode_id  # noqa: E402
from tests.support.documents import CANCEL, SCHEDULE, UPDATE  # noqa: E402
from tests.support.documents import MEETING as MEETING_QUERY  # noqa: E402
from tests.support.simulation import Minute, Simulation  # noqa: E402

START = datetime(2027, 1, 4, tzinfo=UTC)  # a Monday
LIMIT_PER_MINUTE = 500
TARGET_USERS = 100_000
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
PURPOSES = ("linking", "refresh", "revoke", "event_write", "push_read", "reconciliation", "channel_repair")


@dataclasses.dataclass
class Truth:
    """A meeting as the platform's users made it: what every calendar and the API must show at the end."""

    number: int
    mentor: str
    mentee: str
    title: str
    start: datetime
    id: str = ""  # the API's id, once scheduled
    cancelled: bool = False
    declined: bool = False  # the mentee deleted their copy

    @property
    def end(self) -> datetime:
        return self.start + HOUR

    @property
    def event_id(self) -> str:
        return Meeting.EVENT_ID_PREFIX + (decode_id(MEETING, self.id) or "")


class Platform:
    """The users of a mentoring platform acting through the API and in their calendars."""

    def __init__(self, sim: Simulation, rng: random.Random) -> None:
        self.sim, self.rng = sim, rng
        self.meetings: list[Truth] = []
        self.subs: dict[str, str] = {}
        self.disconnected: set[str] = set()
        self.relinked: set[str] = set()
        self.edits = collections.Counter[str]()
        self.skipped = collections.Counter[str]()

    async def link_all(self, users: list[str]) -> None:
        for number, user in enumerate(users, 1):
            await self.sim.link(user)
            if number % 100 == 0:  # as the worker would meanwhile: rate windows of the past removed
                await self.sim.runtime.worker.run_job("retention")
        state = (await self.sim.http.get("/_control/state")).json()
        self.subs = {account["profile_name"].split("@")[0]: account["sub"] for account in state["accounts"]}

    async def schedule(self, truth: Truth) -> dict[str, Any]:
        variables = {
            "input": {
                "title": truth.title,
                "start": iso(truth.start),
                "end": iso(truth.end),
                "timeZone": "Europe/London",
                "participants": [{"userId": truth.mentee, "email": f"{truth.mentee}@example.test"}],
            }
        }
        data = await self.sim.gql(SCHEDULE, variables, user=truth.mentor, partners=(truth.mentee,))
        payload = data["scheduleMeeting"]
        assert payload["userErrors"] == [], payload
        truth.id = payload["meeting"]["id"]
        self.meetings.append(truth)
        return payload["meeting"]  # type: ignore[no-any-return]

    async def reschedule(self, truth: Truth, start: datetime) -> None:
        if truth.cancelled:
            return
        variables = {"input": {"meetingId": truth.id, "start": iso(start), "end": iso(start + HOUR)}}
        payload = (await self.sim.gql(UPDATE, variables, user=truth.mentor, partners=(truth.mentee,)))["updateMeeting"]
        assert payload["userErrors"] == [], payload
        truth.start = start

    async def cancel(self, truth: Truth) -> None:
        if truth.cancelled:
            return
        payload = (await self.sim.gql(CANCEL, {"input": {"meetingId": truth.id}}, user=truth.mentor))["cancelMeeting"]
        assert payload["userErrors"] == [], payload
        truth.cancelled = True

    async def edit_in_calendar(self, truth: Truth, owner: str, kind: str) -> None:
        """The owner of a copy moves, renames or deletes it in their calendar."""
        if truth.cancelled or (owner == truth.mentee and truth.declined):
            return
        if owner in self.disconnected:  # the calendar is not reachable through us meanwhile
            self.skipped[kind] += 1
            return
        events = (await self.sim.http.get("/_control/events", params={"sub": self.subs[owner]})).json()
        live = [e for e in events if e["event_id"] == truth.event_id and not e["deleted"]]
        if len(live) != 1:  # not written yet (the partner was disconnected, say)
            self.skipped[kind] += 1
            return
        ref = {"calendar_id": live[0]["calendar_id"], "event_id": truth.event_id}
        if kind == "move":
            start = truth.start + timedelta(minutes=30)
            await self.sim.control("act/move", **ref, start=iso(start), end=iso(start + HOUR))
            truth.start = start
        elif kind == "rename":
            truth.title = f"{truth.title} (renamed)"
            await self.sim.control("act/edit", **ref, summary=truth.title)
        else:
            await self.sim.control("act/delete", **ref)
            if owner == truth.mentor:
                truth.cancelled = True
            else:
                truth.declined = True
        self.edits[kind] += 1

    async def disconnect(self, user: str) -> None:
        self.disconnected.add(user)
        await self.sim.control("act/disconnect", sub=self.subs[user])

    async def relink(self, user: str) -> None:
        await self.sim.link(user)
        self.disconnected.discard(user)
        self.relinked.add(user)

    async def copy_as_shown(self, truth: Truth, user: str) -> Any:
        seen = (await self.sim.gql(MEETING_QUERY, {"id": truth.id}, user=truth.mentor))["meeting"]
        shown = next(p for p in seen["participants"] if p["userId"] == user)
        relinked = user in self.relinked
        return {**shown["calendarEvent"], "response": shown["response"], "relinked": relinked}

    async def check(self) -> dict[str, int]:
        """Every calendar against what the users made, and the API's view of every meeting."""
        events = await self.sim.calendar_events()
        live: dict[tuple[str, str], list[dict[str, Any]]] = collections.defaultdict(list)
        for event in events:
            if (event["event_id"] or "").startswith(Meeting.EVENT_ID_PREFIX) and not event["deleted"]:
                live[(event["sub"], event["event_id"])].append(event)
        problems: list[str] = []
        checked = collections.Counter[str]()
        for truth in self.meetings:
            expected = {
                truth.mentor: not truth.cancelled,
                truth.mentee: not truth.cancelled and not truth.declined,
            }
            for user, present in expected.items():
                found = live.get((self.subs[user], truth.event_id), [])
                checked["calendar copies checked"] += 1
                if len(found) > 1:
                    problems.append(f"meeting {truth.number}: {len(found)} events in {user}'s calendar (duplicated)")
                elif present and not found:
                    copy = await self.copy_as_shown(truth, user)
                    problems.append(f"meeting {truth.number}: missing from {user}'s calendar (lost; the API: {copy})")
                elif not present and found:
                    problems.append(f"meeting {truth.number}: still in {user}'s calendar")
                elif found:
                    event = found[0]
                    shown = (event["summary"], event["start"], event["end"])
                    if shown != (truth.title, iso(truth.start), iso(truth.end)):
                        problems.append(f"meeting {truth.number} in {user}'s calendar shows {shown}, not {truth}")
            seen = (await self.sim.gql(MEETING_QUERY, {"id": truth.id}, user=truth.mentor))["meeting"]
            checked["meetings checked through the API"] += 1
            mentee = next(p for p in seen["participants"] if p["userId"] == truth.mentee)
            status = "CANCELLED" if truth.cancelled else "SCHEDULED"
            as_api = (seen["status"], seen["title"], seen["start"], mentee["response"] == "DECLINED")
            if as_api != (status, truth.title, iso(truth.start), truth.declined):
                problems.append(f"meeting {truth.number}: the API shows {as_api}, not {truth}")
        for problem in problems[:20]:
            print("  PROBLEM:", problem)
        checked["problems"] = len(problems)
        return dict(checked)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Timeline:
    """Actions at simulated moments, run in order between the worker's passes."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, Callable[[], Awaitable[None]]]] = []
        self._order = itertools.count()

    def at(self, moment: datetime, action: Callable[[], Awaitable[None]]) -> None:
        heapq.heappush(self._heap, (moment, next(self._order), action))

    async def run(self, sim: Simulation, until: datetime, on_minute: Callable[[Minute], None] | None = None) -> None:
        while self._heap and self._heap[0][0] <= until:
            moment, _, action = heapq.heappop(self._heap)
            if moment > sim.clock():
                await sim.run_until(moment, on_minute=on_minute)
            await action()
        await sim.run_until(until, on_minute=on_minute)


def whole_quarter(moment: datetime) -> datetime:
    return moment.replace(minute=moment.minute // 15 * 15, second=0, microsecond=0)


# --- the week ----------------------------------------------------------------------------------------


def plan_week(platform: Platform, timeline: Timeline, users: list[str], args: argparse.Namespace) -> None:
    rng, week_start, end = platform.rng, START, START + args.days * DAY
    paired = users[: int(len(users) * args.paired) // 2 * 2]
    pairs = list(zip(paired[::2], paired[1::2], strict=True))
    numbers = itertools.count(1)
    # The share of the other meetings' copies edited, so that 5% of all copies are.
    edit_share = args.calendar_edits / (1 - args.rescheduled - args.cancelled)

    def meeting_at(mentor: str, mentee: str, scheduled: datetime) -> None:
        truth = Truth(
            next(numbers), mentor, mentee, "Mentoring session", whole_quarter(scheduled + rng.uniform(1, 7) * DAY)
        )
        truth.title = f"Mentoring session {truth.number}"

        async def schedule() -> None:
            await platform.schedule(truth)

        timeline.at(scheduled, schedule)
        fate = rng.random()
        when = scheduled + (truth.start - scheduled) * rng.uniform(0.1, 0.9)
        if fate < args.rescheduled:
            moved = whole_quarter(truth.start + rng.uniform(-1, 2) * DAY)
            timeline.at(when, lambda: platform.reschedule(truth, max(moved, whole_quarter(when + 2 * HOUR))))
        elif fate < args.rescheduled + args.cancelled:
            timeline.at(when, lambda: platform.cancel(truth))
        else:
            for owner in (mentor, mentee):
                if rng.random() < edit_share:
                    kind = rng.choice(("move", "rename", "delete"))
                    timeline.at(when, lambda owner=owner, kind=kind: platform.edit_in_calendar(truth, owner, kind))

    for mentor, mentee in pairs:
        meeting_at(mentor, mentee, week_start - rng.uniform(10, 50) * timedelta(minutes=1))  # arranged last week
        offset = rng.uniform(0, 7) * DAY
        for week in itertools.count():
            scheduled = week_start + offset + week * 7 * DAY
            if scheduled >= end:
                break
            meeting_at(mentor, mentee, scheduled)

    for day in range(max(0, args.days - 1)):  # relinked a day later, within the run
        for user in rng.sample(users, round(len(users) * args.disconnected)):
            at = week_start + day * DAY + rng.uniform(0, 1) * DAY

            async def disconnect(user: str = user, at: datetime = at) -> None:
                if user in platform.disconnected:
                    return
                await platform.disconnect(user)
                timeline.at(at + DAY, lambda: platform.relink(user))

            timeline.at(at, disconnect)


async def normal(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    users = [f"u{i:06d}" for i in range(args.users)]
    began = time.perf_counter()
    async with Simulation(start=START - HOUR) as sim:
        platform = Platform(sim, rng)
        await platform.link_all(users)
        print(f"linked {len(users):,} users in {time.perf_counter() - began:.0f} s", flush=True)
        for user in rng.sample(users, round(len(users) * args.silent)):
            await sim.control("silence", sub=platform.subs[user])
        timeline = Timeline()
        plan_week(platform, timeline, users, args)
        await timeline.run(sim, START)  # the steady state: last week's meetings are in the calendars
        sim.start_counting()
        end = START + args.days * DAY
        await timeline.run(sim, end, on_minute=progress)
        week = list(sim.minutes)
        print(f"\nsimulated {args.days} days in {time.perf_counter() - began:.0f} s", flush=True)
        # Drain: what is left due (a silent edit late in the week waits for its reconciliation) is done.
        drained = await drain(sim, end)
        report(week, users=len(users), days=args.days, mongo_commands=sum(m.mongo for m in week))
        print(f"\ncalendar changes made: {dict(platform.edits)}; skipped (unreachable): {dict(platform.skipped)}")
        print(f"drained the work left due in {drained}")
        rate_limited = await sim.rate_limited()
        checked = await platform.check()
        print(f"end check: {checked}; 429s from Cronofy: {rate_limited}")
        ok = checked["problems"] == 0 and rate_limited == 0
    print(f"\n{'PASS' if ok else 'FAIL'} (wall time {time.perf_counter() - began:.0f} s)")
    return 0 if ok else 1


async def drain(sim: Simulation, since: datetime, *, at_most: timedelta = 2 * DAY) -> timedelta:
    """Run on until nothing is due and every reconciliation that a silent change may wait for is done."""
    reconcile = timedelta(seconds=sim.settings.sync_reconcile_interval_seconds * 1.1)
    await sim.run_until(since + reconcile + HOUR, keep_minutes=False)
    while any((await sim.due_work()).values()) and sim.clock() < since + at_most:
        await sim.run_until(sim.clock() + HOUR, keep_minutes=False)
    return sim.clock() - since


def progress(minute: Minute) -> None:
    if minute.at.minute == 0 and minute.at.hour % 6 == 0:
        print(f"  {minute.at:%a %H:%M}", end="", flush=True)


def report(minutes: list[Minute], *, users: int, days: float, mongo_commands: int) -> None:
    sent = collections.Counter[str]()
    deferred = collections.Counter[str]()
    for minute in minutes:
        sent.update(minute.by_purpose)
        deferred.update(minute.deferred)
    total = sum(sent.values())
    per_user_day = users * days
    print(f"\nCronofy calls per linked user per day, by purpose ({users:,} users, {days:g} days):")
    for purpose in PURPOSES:
        print(f"  {purpose:<16} {sent[purpose] / per_user_day:8.4f}   ({sent[purpose]:,} calls)")
    received = sum(m.received for m in minutes)
    print(f"  {'all':<16} {total / per_user_day:8.4f}   ({total:,} calls; Cronofy received {received:,})")
    print(f"  deferred by the budget (sent later): {dict(deferred) or 0}")
    busiest = max(minutes, key=lambda m: m.received)
    window = 15
    sums = [sum(m.received for m in minutes[i : i + window]) for i in range(max(1, len(minutes) - window + 1))]
    busiest_15 = max(sums) / window
    average = sum(m.received for m in minutes) / max(1, len(minutes))
    print(f"busiest minute: {busiest.received} calls at {busiest.at:%a %H:%M} ({dict(busiest.by_purpose)})")
    print(f"busiest 15 minutes: {busiest_15:.1f} calls a minute on average; the whole run: {average:.2f} a minute")
    largest = int(users * LIMIT_PER_MINUTE / max(1, busiest.received))
    print(
        f"largest N within {LIMIT_PER_MINUTE} calls a minute at the busiest minute: {largest:,} linked users "
        f"(linear extrapolation from {users:,}: the busiest minute times N / {users:,})"
    )
    counts = [minute.received for minute in minutes]
    copies, peak = superposed(counts)
    target = -(-TARGET_USERS // users)
    print(
        f"the busiest minute of {target * users:,} linked users ({target} populations like this one, each living "
        f"its own week: this run's minutes, shifted at random): {busiest_of(counts, target)} calls"
    )
    print(
        f"largest N within {LIMIT_PER_MINUTE} calls a minute at the busiest minute of {copies} populations like this "
        f"one, each living its own week (this run's minutes, shifted at random): {copies * users:,} linked users "
        f"(busiest minute {peak} calls)"
    )
    print(f"MongoDB commands per linked user per day: {mongo_commands / per_user_day:.1f} ({mongo_commands:,} in all)")


def busiest_of(counts: list[int], copies: int, *, trials: int = 5) -> int:
    """The busiest minute of `copies` populations like the simulated one, each living this run's minutes
    shifted by a random offset (its users act on their own, at other moments); the worst of a few trials."""
    rng = random.Random(copies)
    length, worst = len(counts), 0
    for _ in range(trials):
        total = [0] * length
        for _ in range(copies):
            shift = rng.randrange(length)
            total = [a + b for a, b in zip(total, counts[shift:] + counts[:shift], strict=True)]
        worst = max(worst, max(total))
    return worst


def superposed(counts: list[int], *, trials: int = 5) -> tuple[int, int]:
    """How many independent populations like the simulated one fit within the limit at their busiest minute
    together, and that minute's calls. Each population is this run's minutes shifted by a random offset
    (its users act on their own, at other moments); the worst of a few trials counts. The linear
    extrapolation scales the busiest minute itself, which at a small N is a coincidence of a few users'
    actions in one minute: a coincidence that does not grow with N, so that estimate errs low."""

    def busiest(copies: int) -> int:
        return busiest_of(counts, copies, trials=trials)

    peaks: dict[int, int] = {}

    def fits(copies: int) -> bool:
        peaks[copies] = busiest(copies)
        return peaks[copies] <= LIMIT_PER_MINUTE

    low, high = 1, 1
    while fits(high):
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low, peaks.get(low) or busiest(low)


# --- the overload ------------------------------------------------------------------------------------


async def overload(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    users = [f"u{i:06d}" for i in range(args.users)]
    demand = 5 * LIMIT_PER_MINUTE  # reads a minute asked for: five times the whole budget
    interval = max(1, round(len(users) * 60 / demand))
    began = time.perf_counter()
    async with Simulation(start=START - HOUR, settings={"sync_reconcile_interval_seconds": interval}) as sim:
        platform = Platform(sim, rng)
        await platform.link_all([*users, "late-mentor", "late-mentee"])
        print(f"linked {len(users):,} users in {time.perf_counter() - began:.0f} s", flush=True)
        pairs = list(zip(users[::2], users[1::2], strict=True))
        sim.clock.now = START - HOUR / 2
        for number, (mentor, mentee) in enumerate(pairs, 1):
            start = START + rng.choice((15, 30, 45)) * timedelta(minutes=1)  # over when the hour ends
            await platform.schedule(Truth(number, mentor, mentee, f"Mentoring session {number}", start))
        for user in users:
            await sim.control("silence", sub=platform.subs[user])
        await sim.run_until(START, keep_minutes=False)  # followed from a random moment within the interval
        sim.start_counting()
        timeline = Timeline()
        for truth in platform.meetings:
            for owner in (truth.mentor, truth.mentee):
                if rng.random() < 0.10:
                    kind = rng.choice(("move", "rename"))
                    at = START + rng.uniform(0, 0.25) * HOUR
                    timeline.at(at, functools.partial(platform.edit_in_calendar, truth, owner, kind))
        user_calls: list[str] = []

        async def link_during() -> None:
            user_calls.append(await timed(sim, "linkCalendar", lambda: sim.link("late-mentee-2")))

        async def schedule_during() -> None:
            late = Truth(len(pairs) + 1, "late-mentor", "late-mentee", "During the overload", START + 2 * HOUR)

            async def scheduled() -> None:
                meeting = await platform.schedule(late)
                statuses = {p["calendarEvent"]["status"] for p in meeting["participants"]}
                assert statuses == {"SYNCED"}, f"scheduleMeeting answered with copies {statuses}, not SYNCED"

            user_calls.append(await timed(sim, "scheduleMeeting", scheduled))

        timeline.at(START + 20 * timedelta(minutes=1), link_during)
        timeline.at(START + 40 * timedelta(minutes=1), schedule_during)

        def watch(minute: Minute) -> None:
            if minute.at.minute % 10 == 0:
                deferred = sum(minute.deferred.values())
                print(f"  {minute.at:%H:%M} sent {minute.received} deferred {deferred}", flush=True)

        await timeline.run(sim, START + HOUR, on_minute=watch)
        hour = list(sim.minutes)
        sent, deferred = collections.Counter[str](), collections.Counter[str]()
        for minute in hour:
            sent.update(minute.by_purpose)
            deferred.update(minute.deferred)
        print(f"\nreconciliation asked for {demand:,} reads a minute ({len(users):,} calendars every {interval} s)")
        print(f"sent in the hour: {dict(sent)}; deferred (not sent, still due): {dict(deferred)}")
        busiest = max(minute.received for minute in hour)
        average = sum(m.received for m in hour) / len(hour)
        print(f"calls Cronofy received a minute: at most {busiest}, {average:.0f} on average")
        for line in user_calls:
            print(" ", line)
        due = await sim.due_work()
        print(f"due when the hour ended: {due}", flush=True)
        drained = await drain(sim, START + HOUR)
        print(f"all deferred work done {drained} after the hour ended; due now: {await sim.due_work()}")
        rate_limited = await sim.rate_limited()
        checked = await platform.check()
        print(f"calendar changes made: {dict(platform.edits)}; end check: {checked}; 429s from Cronofy: {rate_limited}")
        ok = checked["problems"] == 0 and rate_limited == 0 and len(user_calls) == 2
        ok = ok and busiest <= LIMIT_PER_MINUTE
    print(f"\n{'PASS' if ok else 'FAIL'} (wall time {time.perf_counter() - began:.0f} s)")
    return 0 if ok else 1


async def timed(sim: Simulation, name: str, call: Callable[[], Awaitable[Any]]) -> str:
    """Run a user's call: how long it took on the simulated clock (Cronofy's answers, 150 ms each, and the
    budget's waits) and for real."""
    grace = sim.settings.sync_grace_seconds
    started, real = sim.clock(), time.perf_counter()
    await call()
    waited = (sim.clock() - started).total_seconds()
    assert waited <= grace, f"{name} took {waited:.1f} s, more than its grace of {grace} s"
    return (
        f"{name} during the overload: answered after {waited:.2f} s (grace {grace} s), "
        f"{time.perf_counter() - real:.2f} s real"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=None, help="linked users (2,000; 500 for --overload)")
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--paired", type=float, default=0.30)
    parser.add_argument("--rescheduled", type=float, default=0.10)
    parser.add_argument("--cancelled", type=float, default=0.05)
    parser.add_argument("--calendar-edits", type=float, default=0.05)
    parser.add_argument("--silent", type=float, default=0.01)
    parser.add_argument("--disconnected", type=float, default=0.005, help="share of users a day")
    parser.add_argument("--overload", action="store_true")
    args = parser.parse_args()
    args.users = args.users or (500 if args.overload else 2000)
    logging.getLogger("gql_api").setLevel(logging.ERROR)  # a missed push found is a warning: hundreds here
    args.days = int(args.days)
    return asyncio.run(overload(args) if args.overload else normal(args))


if __name__ == "__main__":
    sys.exit(main())
