"""The outbox: every pending copy written as the meeting is now, retried with backoff, then FAILED."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from gql_api.cronofy.errors import (
    CronofyBadRequest,
    CronofyForbidden,
    CronofyNotFound,
    CronofyRateLimited,
    CronofyUnauthorized,
    CronofyUnavailable,
    CronofyValidationError,
)
from gql_api.cronofy.models import Attendee
from gql_api.domain.meetings import MeetingStatus, SyncStatus
from gql_api.domain.validation import MeetingChanges, ParticipantRequest
from gql_api.services.calendar_access import RELINK_MESSAGE
from tests.support.fakes import (
    ALICE,
    BOB,
    CAROL,
    T0,
    another_process,
    copy_of,
    link,
    run_worker,
    schedule,
    services,
    statuses,
    sync_of,
)


def on(connection):
    """Only the calls that go to this connection's calendar."""
    return lambda args: args.get("calendar_id") == connection.calendar.id


async def alice_and_bob(app):
    return await link(app, ALICE), await link(app, BOB)


# --- retries ---------------------------------------------------------------------------------------------------


async def test_a_failure_worth_retrying_waits_with_backoff_then_writes():
    # given Cronofy does not answer for Bob's calendar once
    app = services()
    _, bobs = await alice_and_bob(app)
    app.gateway.fail("upsert_event", CronofyUnavailable("timeout"), when=on(bobs))

    # when
    meeting = await schedule(app, ALICE, BOB)

    # then Alice's copy is written, Bob's waits a few seconds
    assert (sync_of(meeting, ALICE), sync_of(meeting, BOB)) == (SyncStatus.SYNCED, SyncStatus.PENDING)
    waiting = copy_of(meeting, BOB)
    assert waiting.attempts == 1 and waiting.last_error == "The calendar service did not answer. Retrying."
    assert T0 + timedelta(seconds=2.5) <= waiting.next_attempt_at <= T0 + timedelta(seconds=5)
    assert app.store.meetings.due_at(meeting.id) == waiting.next_attempt_at
    assert await run_worker(app) == 0  # not before its time

    app.clock.now = waiting.next_attempt_at
    assert await run_worker(app) == 1
    after = await app.meetings.get(ALICE, meeting.id)
    assert sync_of(after, BOB) is SyncStatus.SYNCED and copy_of(after, BOB).attempts == 0
    assert len(app.gateway.calls_to("upsert_event")) == 3  # Alice once, Bob twice


async def test_the_backoff_doubles_up_to_its_cap():
    # given Cronofy stays away
    app = services(outbox_max_attempts=20)
    await link(app, ALICE)
    app.gateway.fail("upsert_event", CronofyUnavailable("503"), times=None)
    meeting = await schedule(app, ALICE, BOB)

    # when the worker tries whenever it is due
    waits = []
    for _ in range(10):
        copy = copy_of(await app.meetings.get(ALICE, meeting.id), ALICE)
        waits.append((copy.next_attempt_at - app.clock.now).total_seconds())
        app.clock.now = copy.next_attempt_at
        await run_worker(app)

    # then each wait is the doubled ceiling with equal jitter, never more than 15 minutes
    for attempts, wait in enumerate(waits, start=1):
        ceiling = min(900.0, 5.0 * 2 ** (attempts - 1))
        assert ceiling / 2 <= wait <= ceiling


@pytest.mark.parametrize(("retry_after", "wait"), [(120.0, 120.0), (0.0, 0.0), (86_400.0, 900.0)])
async def test_a_rate_limited_write_waits_as_long_as_retry_after_says_up_to_the_cap(retry_after, wait):
    # given
    app = services()
    await link(app, ALICE)
    app.gateway.fail("upsert_event", CronofyRateLimited("429", retry_after=retry_after))

    # when
    meeting = await schedule(app, ALICE, BOB)

    # then
    copy = copy_of(meeting, ALICE)
    assert copy.next_attempt_at == T0 + timedelta(seconds=wait)
    assert copy.last_error == "The calendar service is busy. Retrying."


async def test_the_retry_budget_spent_the_copy_is_FAILED_and_left_alone():
    # given
    app = services(outbox_max_attempts=3)
    await link(app, ALICE)
    app.gateway.fail("upsert_event", CronofyUnavailable("503"), times=None)
    meeting = await schedule(app, ALICE, BOB)

    # when the worker tries twice more
    for _ in range(2):
        app.clock.now = copy_of(await app.meetings.get(ALICE, meeting.id), ALICE).next_attempt_at
        assert await run_worker(app) == 1

    # then
    after = await app.meetings.get(ALICE, meeting.id)
    assert statuses(after) == {"alice@example.test": SyncStatus.FAILED, "bob@example.test": SyncStatus.FAILED}
    assert copy_of(after, ALICE).attempts == 3
    assert after.sync_of(after.participants[0]).last_error == "The calendar service did not answer."
    assert await app.meetings.outbox_stats() == (0, None)
    app.clock.advance(days=1)
    assert await run_worker(app) == 0
    assert len(app.gateway.calls_to("upsert_event")) == 3


# --- final failures ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (CronofyValidationError("422", errors={"summary": [{"key": "errors.required"}]}), "refused the event"),
        (CronofyForbidden("403"), "may not write events"),
        (CronofyNotFound("404"), "no longer exists"),
        (CronofyBadRequest("400"), "refused the change"),
    ],
    ids=["422", "403", "404", "other"],
)
async def test_an_error_retrying_cannot_fix_fails_the_copy_at_once(error, message):
    # given
    app = services()
    _, bobs = await alice_and_bob(app)
    app.gateway.fail("upsert_event", error, when=on(bobs))

    # when
    meeting = await schedule(app, ALICE, BOB)

    # then
    assert (sync_of(meeting, ALICE), sync_of(meeting, BOB)) == (SyncStatus.SYNCED, SyncStatus.FAILED)
    assert message in copy_of(meeting, BOB).last_error and "Retrying" not in copy_of(meeting, BOB).last_error
    assert copy_of(meeting, BOB).attempts == 1
    assert await app.meetings.outbox_stats() == (0, None)


async def test_a_calendar_that_needs_relinking_fails_its_copy_with_that_reason_without_calling_cronofy():
    # given Bob's connection was marked by a process that stopped before failing its copies
    app = services()
    _, bobs = await alice_and_bob(app)
    app.background.slow = True
    meeting = await schedule(app, ALICE, BOB)
    await app.store.connections.mark_needs_relink(bobs.id, now=T0)
    app.gateway.forget_calls()

    # when
    await app.background.run_pending()

    # then
    after = await app.meetings.get(ALICE, meeting.id)
    assert sync_of(after, BOB) is SyncStatus.FAILED and copy_of(after, BOB).last_error == RELINK_MESSAGE
    assert sync_of(after, ALICE) is SyncStatus.SYNCED
    assert all(c["calendar_id"] != bobs.calendar.id for c in app.gateway.calls_to("upsert_event"))


async def test_a_calendar_unlinked_meanwhile_fails_its_copy():
    # given
    app = services()
    _, bobs = await alice_and_bob(app)
    app.background.slow = True
    meeting = await schedule(app, ALICE, BOB)
    await app.linking.unlink(BOB, bobs.id)

    # when
    await app.background.run_pending()

    # then
    after = await app.meetings.get(ALICE, meeting.id)
    assert sync_of(after, BOB) is SyncStatus.FAILED and copy_of(after, BOB).last_error == "The calendar was unlinked."


async def test_an_expired_access_token_is_refreshed_and_the_write_succeeds():
    # given
    app = services()
    await link(app, ALICE)
    app.gateway.fail("upsert_event", CronofyUnauthorized("401"))

    # when
    meeting = await schedule(app, ALICE, BOB)

    # then
    assert sync_of(meeting, ALICE) is SyncStatus.SYNCED
    assert len(app.gateway.calls_to("refresh")) == 1 and app.refreshes == ["refreshed"]


# --- what is written -----------------------------------------------------------------------------------------------


async def test_only_the_host_event_invites_and_own_calendars_get_a_plain_copy():
    # given
    app = services()
    alices, bobs = await alice_and_bob(app)

    # when
    meeting = await schedule(app, ALICE, BOB, CAROL, ParticipantRequest(email="dave@example.test"))

    # then
    host = app.gateway.events[(alices.calendar.id, meeting.event_id)]
    assert host.attendees == (Attendee("carol@example.test", "Carol"), Attendee("dave@example.test", None))
    assert app.gateway.events[(bobs.calendar.id, meeting.event_id)].attendees == ()
    assert {c["event"].event_id for c in app.gateway.calls_to("upsert_event")} == {meeting.event_id}


async def test_after_a_cancel_the_copies_are_deleted_not_written():
    # given
    app = services()
    alices, bobs = await alice_and_bob(app)
    meeting = await schedule(app, ALICE, BOB)
    app.background.slow = True
    await app.meetings.cancel(ALICE, meeting.id)
    app.gateway.forget_calls()

    # when the worker picks it up
    assert await run_worker(app) == 1

    # then
    assert sorted((c.method, c["calendar_id"], c["event_id"]) for c in app.gateway.calls) == sorted(
        [
            ("delete_event", alices.calendar.id, meeting.event_id),
            ("delete_event", bobs.calendar.id, meeting.event_id),
        ]
    )
    after = await app.meetings.get(ALICE, meeting.id)
    assert after.status is MeetingStatus.CANCELLED and set(statuses(after).values()) == {SyncStatus.SYNCED}


async def test_a_copy_its_owner_removed_is_left_alone():
    # given Bob deleted his copy (he declined)
    app = services()
    alices, _ = await alice_and_bob(app)
    meeting = await schedule(app, ALICE, BOB)
    await app.store.meetings.copy_removed(meeting, copy_index=1, decliners=[1])
    app.gateway.forget_calls()

    # when Alice changes the meeting
    await app.meetings.update(ALICE, meeting.id, MeetingChanges(title="Moved"))

    # then only her copy is written
    assert [c["calendar_id"] for c in app.gateway.calls_to("upsert_event")] == [alices.calendar.id]


async def test_every_due_copy_is_written_at_once_and_one_failing_holds_up_none():
    # given
    app = services()
    alices, bobs = await alice_and_bob(app)
    app.gateway.fail("upsert_event", CronofyUnavailable("503"), when=on(alices), times=None)

    # when
    meeting = await schedule(app, ALICE, BOB)

    # then
    assert (sync_of(meeting, ALICE), sync_of(meeting, BOB)) == (SyncStatus.PENDING, SyncStatus.SYNCED)
    assert app.gateway.events.keys() == {(bobs.calendar.id, meeting.event_id)}


# --- leases ---------------------------------------------------------------------------------------------------------


async def test_a_meeting_another_worker_holds_is_not_written_here():
    # given another process holds the meeting's lease
    app = services()
    await link(app, ALICE)
    app.background.slow = True
    meeting = await schedule(app, ALICE, BOB)
    other = another_process(app)
    assert await other.writes.claim_due() is not None
    app.background.slow = False

    # when this process tries
    assert await app.writes.write(meeting.id) is None

    # then
    assert app.gateway.calls_to("upsert_event") == []
    assert app.store.meetings.lease_of(meeting.id)[0] == "other-process"


async def test_a_worker_that_lost_its_lease_does_not_overwrite_the_new_holder():
    # given our worker's write stalls at Cronofy past its lease, and will fail
    app = services()
    await link(app, ALICE)
    app.background.slow = True
    meeting = await schedule(app, ALICE, BOB)
    held, stalled, gate = [], asyncio.Event(), asyncio.Event()

    async def stall_the_first(args):
        if not held:
            held.append(args)
            stalled.set()
            await gate.wait()

    app.gateway.before("upsert_event", stall_the_first)
    app.gateway.fail("upsert_event", CronofyUnavailable("timeout"), when=lambda args: args is held[0])
    ours = asyncio.create_task(app.writes.write_due(await app.writes.claim_due()))
    await stalled.wait()

    # when another process takes the meeting over and writes it, and then ours comes back
    app.clock.advance(minutes=5)
    other = another_process(app)
    theirs = await other.writes.claim_due()
    assert theirs is not None and theirs.id == meeting.id
    await other.writes.write_due(theirs)
    gate.set()
    await ours

    # then the meeting keeps the other worker's result
    after = await app.meetings.get(ALICE, meeting.id)
    assert sync_of(after, ALICE) is SyncStatus.SYNCED and copy_of(after, ALICE).last_error is None
    assert app.store.meetings.lease_of(meeting.id) == (None, None)
    assert await app.meetings.outbox_stats() == (0, None)


async def test_a_change_made_while_the_calendars_were_written_is_written_next():
    # given Alice updates the meeting while its first version is being written
    app = services()
    alices = await link(app, ALICE)
    racing = []

    async def update_meanwhile(args):
        if not racing:
            racing.append(args)
            current = await app.store.meetings.get(args["event"].event_id[4:])
            await app.store.meetings.change(current, {"title": "Moved"}, now=app.clock())

    app.gateway.before("upsert_event", update_meanwhile)

    # when
    meeting = await schedule(app, ALICE, BOB)

    # then the answer is the version written; the newer one is due at once
    assert sync_of(meeting, ALICE) is SyncStatus.SYNCED and meeting.version == 1
    stored = await app.meetings.get(ALICE, meeting.id)
    assert stored.version == 2 and sync_of(stored, ALICE) is SyncStatus.PENDING
    assert app.store.meetings.due_at(meeting.id) == T0
    assert await run_worker(app) == 1
    after = await app.meetings.get(ALICE, meeting.id)
    assert sync_of(after, ALICE) is SyncStatus.SYNCED and copy_of(after, ALICE).synced_version == 2
    assert app.gateway.events[(alices.calendar.id, meeting.event_id)].summary == "Moved"


async def test_a_write_of_the_very_event_already_in_the_calendar_costs_no_call():
    # given a meeting written to Alice's and Bob's calendars
    app = services()
    await link(app, ALICE)
    bobs = await link(app, BOB)
    meeting = await schedule(app, ALICE, BOB)
    app.gateway.forget_calls()

    # when Bob's calendar needs relinking and is linked again: his copy is due once more, unchanged
    await app.access.needs_relink(bobs.id)
    await link(app, BOB)
    await run_worker(app)

    # then nothing is sent: the event in his calendar is already this one
    assert app.gateway.calls_to("upsert_event") == []
    after = await app.meetings.get(BOB, meeting.id)
    assert set(statuses(after).values()) == {SyncStatus.SYNCED}
