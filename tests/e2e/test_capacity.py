"""What the service spends of Cronofy's budget, counted (never timed) on a simulated clock: the real app, worker
and store against the sandbox on loopback (tests/support/simulation.py). DESIGN.md §10; README "Capacity".
"""

from __future__ import annotations

import collections
import math
from datetime import UTC, datetime, timedelta

from tests.support.documents import SCHEDULE
from tests.support.simulation import Minute, Simulation

START = datetime(2027, 1, 4, 8, tzinfo=UTC)
DAY = timedelta(days=1)
RECONCILE = 8 * 3600  # the default SYNC_RECONCILE_INTERVAL_SECONDS
# At most this many reconciliation reads a day for a calendar holding an upcoming meeting: every interval,
# within +-10 % (the jitter), so never more often than every 0.9 intervals.
MOST_READS_A_DAY = math.ceil(86400 / (RECONCILE * 0.9))


def spent(minutes: list[Minute]) -> tuple[collections.Counter[str], collections.Counter[str], int]:
    """(calls sent by purpose, calls deferred by purpose, calls Cronofy received)."""
    sent, deferred = collections.Counter[str](), collections.Counter[str]()
    for minute in minutes:
        sent.update(minute.by_purpose)
        deferred.update(minute.deferred)
    return sent, deferred, sum(minute.received for minute in minutes)


async def schedule(sim: Simulation, mentor: str, mentee: str, start: datetime) -> dict:
    variables = {
        "input": {
            "title": "Mentoring session",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
            "timeZone": "Europe/London",
            "participants": [{"userId": mentee, "email": f"{mentee}@example.test"}],
        }
    }
    payload = (await sim.gql(SCHEDULE, variables, user=mentor, partners=(mentee,)))["scheduleMeeting"]
    assert payload["userErrors"] == [], payload
    return payload["meeting"]


async def test_a_linked_user_with_no_upcoming_meeting_costs_no_call_in_a_simulated_day():
    async with Simulation(start=START, idle_step=timedelta(minutes=10)) as sim:
        # given two linked users, tokens fresh, channels open; nothing of ours in their calendars
        await sim.link("mentor")
        await sim.link("mentee")
        sim.start_counting()

        # when a day goes by (their access tokens expire every 3 hours meanwhile)
        await sim.run_until(START + DAY)

        # then not one call: no reads (nothing of ours to find), no refreshes, no channel traffic
        sent, deferred, received = spent(sim.minutes)
        assert (sent, deferred, received) == ({}, {}, 0)
        assert len(sim.minutes) == 24 * 60


async def test_a_calendar_with_an_upcoming_meeting_costs_its_reconciliation_reads_and_nothing_once_it_is_over():
    async with Simulation(start=START, idle_step=timedelta(minutes=10)) as sim:
        # given a meeting three days ahead written to both calendars, whose channels work
        await sim.link("mentor")
        await sim.link("mentee")
        meeting = await schedule(sim, "mentor", "mentee", START + 3 * DAY)
        assert {p["calendarEvent"]["status"] for p in meeting["participants"]} == {"SYNCED"}
        sim.start_counting()

        # when the two days before it go by
        await sim.run_until(START + 2 * DAY)

        # then each calendar is read by reconciliation a few times a day, each read after a refresh (tokens
        # last 3 hours, reads come every 8), and nothing else is spent
        sent, deferred, received = spent(sim.minutes)
        reads = sent["reconciliation"]
        assert 2 * 2 * 2 <= reads <= 2 * 2 * MOST_READS_A_DAY  # two calendars, two days
        assert sent["refresh"] <= reads
        assert set(sent) <= {"reconciliation", "refresh"} and deferred == {}
        assert received == sum(sent.values())

        # and once the meeting is over (a last read finds nothing upcoming), a day costs no call at all
        await sim.run_until(START + 4 * DAY)
        sim.start_counting()
        await sim.run_until(START + 5 * DAY)
        assert spent(sim.minutes) == ({}, {}, 0)


async def overloaded(sim: Simulation, pairs: int) -> None:
    """`pairs` mentoring pairs with a meeting tomorrow, whose calendars reconciliation wants every 10 s:
    far more background demand than the small budget these tests configure."""
    for number in range(pairs):
        await sim.link(f"mentor{number}")
        await sim.link(f"mentee{number}")
        await schedule(sim, f"mentor{number}", f"mentee{number}", START + DAY)
    sim.start_counting()


SMALL_BUDGET = {"cronofy_rate_per_minute": 120, "sync_reconcile_interval_seconds": 10}


async def test_under_a_short_budget_a_users_calls_go_first_and_background_work_is_deferred():
    async with Simulation(start=START, settings=SMALL_BUDGET, sandbox={"rate_limit_per_minute": 120}) as sim:
        # given ten calendars that reconciliation wants every 10 s, on a budget of 120 calls a minute (of
        # which reconciliation may take 40)
        await overloaded(sim, pairs=5)
        await sim.run_until(START + timedelta(minutes=3))
        _, deferred, _ = spent(sim.minutes)
        assert deferred["reconciliation"] > 0  # background demand beyond its share: deferred, not queued

        # when a mentor schedules a meeting meanwhile
        before = sim.clock()
        meeting = await schedule(sim, "mentor0", "mentee0", START + 2 * DAY)

        # then its calendar writes went out at once, within the mutation's grace, never deferred
        assert {p["calendarEvent"]["status"] for p in meeting["participants"]} == {"SYNCED"}
        assert (sim.clock() - before).total_seconds() <= sim.settings.sync_grace_seconds
        await sim.run_until(START + timedelta(minutes=6))
        sent, deferred, _ = spent(sim.minutes)
        assert deferred["event_write"] == 0 and sent["event_write"] >= 2
        # and Cronofy never answered 429: every minute stayed within the budget
        assert await sim.rate_limited() == 0
        assert max(minute.received for minute in sim.minutes) <= 120


async def test_deferred_work_is_in_mongodb_and_a_restarted_process_finishes_it():
    async with Simulation(start=START, settings=SMALL_BUDGET, sandbox={"rate_limit_per_minute": 120}) as sim:
        # given reads deferred for want of budget
        await overloaded(sim, pairs=5)
        await sim.run_until(START + timedelta(minutes=5))
        assert spent(sim.minutes)[1]["reconciliation"] > 0
        assert (await sim.due_work())["reads"] > 0

        # when the process stops and another starts on the same database, reconciling at the usual interval
        await sim.restart(sync_reconcile_interval_seconds=RECONCILE)

        # then the work still due is found and done, and nothing is left due
        assert (await sim.due_work())["reads"] > 0
        await sim.run_until(START + timedelta(minutes=30))
        assert await sim.due_work() == {"reads": 0, "writes": 0, "revocations": 0}
        assert await sim.rate_limited() == 0
