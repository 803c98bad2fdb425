"""Live updates over the fakes (services/live.py): what each service announces, and how a process hands the
feed's changes to its subscribers: only to the changes' audience, loaded as the subscriber may see them,
within the limits, with gaps in the feed waited for and changes read twice delivered once."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator

import pytest

from gql_api.cronofy.errors import CronofyUnavailable
from gql_api.domain.changes import (
    Change,
    ConnectionChangeKind,
    MeetingChangeKind,
    Topic,
    audience_key,
    connection_change,
    meeting_change,
)
from gql_api.domain.identity import User
from gql_api.services.live import GAP_WAIT, MAX_PENDING, LiveUpdates, SubscriptionLimitReached, Watch
from tests.support.fakes import (
    ALICE,
    BOB,
    CAROL,
    MALLORY,
    FakeChangeFeed,
    FakeChangeStream,
    link,
    run_worker,
    schedule,
    services,
)

WAIT = 2.0
ADMIN = User("platform-backend", roles=frozenset({"calendar-admin"}))


def announced(app) -> list[tuple[str, str]]:
    """(kind, subject) of every change announced, in order."""
    return [(kind, subject) for _, kind, subject in app.store.feed.published()]


def audience_of(app, subject: str) -> set[str]:
    return {key for change in app.store.feed.changes if change.subject == subject for key in change.audience}


def keys(*users: User) -> set[str]:
    return {audience_key(user.id) for user in users}


async def next_update(watch: Watch, timeout: float = WAIT):
    return await asyncio.wait_for(watch.__anext__(), timeout)


@contextlib.asynccontextmanager
async def following(live: LiveUpdates) -> AsyncIterator[None]:
    task = asyncio.create_task(live.follow())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def live_over(app, **options) -> LiveUpdates:
    """A LiveUpdates over the app's fakes, with its own limits and clock."""
    settings = {"per_user": 20, "per_process": 100, "poll_seconds": 0.001, **options}
    return LiveUpdates(feed=app.store.feed, meetings=app.store.meetings, connections=app.store.connections, **settings)


# --- what the services announce ----------------------------------------------------------------------------------


async def test_linking_again_and_unlinking_are_announced_to_the_owner_only():
    app = services()
    alices = await link(app, ALICE)
    app.clock.advance(seconds=5)
    await link(app, ALICE)
    await app.linking.unlink(ALICE, alices.id)

    assert announced(app) == [("LINKED", alices.id), ("RELINKED", alices.id), ("UNLINKED", alices.id)]
    assert audience_of(app, alices.id) == keys(ALICE)


async def test_a_meetings_changes_are_announced_to_everyone_in_it():
    app = services()
    await link(app, ALICE)
    await link(app, BOB)
    app.store.feed.changes.clear()

    meeting = await schedule(app, ALICE, BOB, "someone@example.test")
    await app.meetings.update(ALICE, meeting.id, dataclasses.replace(_no_changes(), title="Moved"))
    await app.meetings.respond(BOB, meeting.id, _response("TENTATIVE"))
    await app.meetings.cancel(ALICE, meeting.id)

    assert [kind for kind, _ in announced(app)] == [
        "SCHEDULED", "SYNC_STATUS", "UPDATED", "SYNC_STATUS", "RESPONDED", "CANCELLED", "SYNC_STATUS",
    ]  # fmt: skip
    assert audience_of(app, meeting.id) == keys(ALICE, BOB)  # the address alone is nobody's to hear


async def test_the_worker_announces_a_copys_sync_status_when_it_changes_and_only_then():
    app = services()
    await link(app, ALICE)
    await link(app, BOB)
    app.gateway.fail("upsert_event", CronofyUnavailable("down"), times=2)
    meeting = await schedule(app, ALICE, BOB)
    app.store.feed.changes.clear()

    app.clock.advance(minutes=1)
    await run_worker(app)  # both written now
    app.clock.advance(minutes=1)
    await run_worker(app)  # nothing due: nothing to say

    assert announced(app) == [("SYNC_STATUS", meeting.id)]


async def test_a_calendar_needing_relink_is_announced_with_the_meetings_it_fails():
    app = services()
    await link(app, ALICE)
    bobs = await link(app, BOB)
    meeting = await schedule(app, ALICE, BOB)
    app.store.feed.changes.clear()

    await app.access.needs_relink(bobs.id)
    await app.access.needs_relink(bobs.id)  # said once

    assert announced(app) == [("NEEDS_RELINK", bobs.id), ("SYNC_STATUS", meeting.id)]
    assert audience_of(app, bobs.id) == keys(BOB)


async def test_reading_a_calendar_announces_it_synced_and_what_it_changed():
    from tests.unit.services.test_calendar_changes import a_synced_meeting, as_shown, push_and_read

    app = services()
    meeting, alices, _ = await a_synced_meeting(app)
    app.store.feed.changes.clear()

    await push_and_read(app, alices, as_shown(meeting, alices, deleted=True, updated=app.clock()))

    assert announced(app) == [("CANCELLED", meeting.id), ("SYNCED", alices.id)]


async def test_an_erasure_announces_the_meetings_it_changed_to_everyone_who_was_in_them():
    app = services()
    await link(app, ALICE, sub="acc_1")
    await link(app, BOB, sub="acc_2")
    theirs = await schedule(app, BOB, ALICE)
    app.store.feed.changes.clear()

    await app.erasures.erase(ALICE.id)

    assert ("UPDATED", theirs.id) in announced(app)
    assert audience_of(app, theirs.id) >= keys(BOB)


async def test_an_announcement_that_fails_never_fails_the_write_it_follows(caplog):
    app = services()
    await link(app, ALICE)
    app.store.feed.failing = True

    with caplog.at_level(logging.WARNING, logger="gql_api.services.live"):
        meeting = await schedule(app, ALICE, BOB)

    assert await app.meetings.get(ALICE, meeting.id) is not None
    assert "could not publish 1 live update(s): ConnectionError" in caplog.text


async def test_announcing_costs_no_cronofy_call():
    calls = []
    for failing in (False, True):
        app = services()
        app.store.feed.failing = failing
        await link(app, ALICE)
        await link(app, BOB)
        app.gateway.forget_calls()
        await schedule(app, ALICE, BOB)
        calls.append([call.method for call in app.gateway.calls])
    assert calls[0] == calls[1]


# --- fan-out: to whom, and what ------------------------------------------------------------------------------


async def test_a_change_goes_to_its_audiences_subscriptions_loaded_as_each_may_see_it():
    app = services()
    await link(app, ALICE)
    meeting = await schedule(app, ALICE, BOB)
    live = live_over(app)
    bobs, carols, bobs_connections = await live.meetings(BOB), await live.meetings(CAROL), await live.connections(BOB)

    live.dispatch([meeting_change(MeetingChangeKind.UPDATED, meeting)])

    update = await next_update(bobs)
    assert (update.kind, update.meeting_id, update.meeting.id) == (MeetingChangeKind.UPDATED, meeting.id, meeting.id)
    assert carols.waiting == 0 and bobs_connections.waiting == 0


async def test_a_subscriber_never_gets_anothers_data_even_from_a_change_addressed_to_them():
    # given a change to Alice's meeting whose audience names Mallory (a bug, or a forged feed entry)
    app = services()
    await link(app, ALICE)
    meeting = await schedule(app, ALICE, BOB)
    alices = (await app.linking.connections(ALICE))[0]
    live = live_over(app)
    mallorys_meetings, mallorys_connections = await live.meetings(MALLORY), await live.connections(MALLORY)
    wrong = keys(MALLORY)

    live.dispatch(
        [
            dataclasses.replace(meeting_change(MeetingChangeKind.UPDATED, meeting), audience=frozenset(wrong)),
            dataclasses.replace(connection_change(ConnectionChangeKind.SYNCED, alices.id, ALICE.id), audience=wrong),
        ]
    )

    # then what she gets is loaded as she may see it: nothing of theirs
    assert (await next_update(mallorys_meetings)).meeting is None
    assert (await next_update(mallorys_connections)).connection is None


async def test_a_subscription_to_one_meeting_hears_of_that_one_only():
    app = services()
    await link(app, ALICE)
    first, second = await schedule(app, ALICE, BOB), await schedule(app, ALICE, BOB, title="Another")
    live = live_over(app)
    one = await live.meetings(BOB, first.id)

    live.dispatch([meeting_change(MeetingChangeKind.UPDATED, second), meeting_change(MeetingChangeKind.UPDATED, first)])

    assert (await next_update(one)).meeting_id == first.id and one.waiting == 0


async def test_a_reader_behind_gets_the_latest_of_each_change_last_and_at_most_a_bounded_backlog():
    app = services()
    meeting = await schedule(app, ALICE, BOB)
    live = live_over(app)
    watch = await live.meetings(BOB)
    updated, synced = (
        meeting_change(kind, meeting) for kind in (MeetingChangeKind.UPDATED, MeetingChangeKind.SYNC_STATUS)
    )

    live.dispatch([synced, updated, synced])
    assert [(await next_update(watch)).kind for _ in range(2)] == [
        MeetingChangeKind.UPDATED,
        MeetingChangeKind.SYNC_STATUS,
    ]

    live.dispatch([dataclasses.replace(updated, subject=f"m{i}") for i in range(MAX_PENDING + 5)])
    assert watch.waiting == MAX_PENDING and watch.dropped == 5
    assert (await next_update(watch)).meeting_id == "m5"


# --- limits -------------------------------------------------------------------------------------------------------


async def test_subscriptions_and_sockets_are_limited_per_user_and_per_process():
    app = services()
    live = live_over(app, per_user=2, per_process=3)
    socket = live.connect(ALICE)
    first, _ = await live.meetings(ALICE, socket=socket), await live.connections(ALICE, socket=socket)

    with pytest.raises(SubscriptionLimitReached) as user_limit:
        await live.meetings(ALICE)
    await live.meetings(BOB)
    with pytest.raises(SubscriptionLimitReached) as process_limit:
        await live.meetings(CAROL)
    live.connect(ALICE)
    with pytest.raises(SubscriptionLimitReached):
        live.connect(ALICE)

    assert (user_limit.value.scope, user_limit.value.limit) == ("user", 2)
    assert (process_limit.value.scope, process_limit.value.limit) == ("process", 3)

    # a subscription completed, or its socket closed, frees its place
    await first.aclose()
    assert live.subscriptions_of(ALICE.id) == 1
    socket.end()
    assert (live.subscriptions_of(ALICE.id), live.subscriptions, live.sockets) == (0, 1, 1)
    await live.meetings(CAROL)


async def test_a_closed_subscription_ends_its_reader():
    app = services()
    live = live_over(app)
    watch = await live.meetings(BOB)
    reader = asyncio.create_task(next_update(watch))
    await asyncio.sleep(0)

    await watch.aclose()

    with pytest.raises(StopAsyncIteration):
        await reader


# --- following the feed -----------------------------------------------------------------------------------------


async def test_nothing_is_read_while_nobody_here_is_subscribed_and_a_subscription_starts_from_now():
    app = services()
    meeting = await schedule(app, ALICE, BOB)  # announced before anyone here listens
    live = live_over(app)
    async with following(live):
        await asyncio.sleep(0.02)
        assert app.store.feed.reads == 0

        watch = await live.meetings(BOB)
        await app.meetings.update(ALICE, meeting.id, dataclasses.replace(_no_changes(), title="Now"))

        assert (await next_update(watch)).kind is MeetingChangeKind.UPDATED
        assert watch.waiting == 0  # not the SCHEDULED from before

        await watch.aclose()
        await asyncio.sleep(0.02)
        reads = app.store.feed.reads
        await asyncio.sleep(0.02)
        assert app.store.feed.reads == reads  # idle again


async def test_a_change_that_lands_late_in_the_feed_is_still_delivered_and_one_that_never_lands_is_given_up():
    app = services()
    meeting = await schedule(app, ALICE, BOB)
    clock = Monotonic()
    live = live_over(app, monotonic=clock)
    feed = app.store.feed
    async with following(live):
        watch = await live.meetings(BOB)
        # given a publisher between its two writes (number taken, change not stored yet), and one that died so
        [late], [lost] = feed.reserve(), feed.reserve()
        feed.land(feed.reserve()[0], meeting_change(MeetingChangeKind.UPDATED, meeting))
        assert (await next_update(watch)).kind is MeetingChangeKind.UPDATED

        # when the late one lands
        feed.land(late, meeting_change(MeetingChangeKind.RESPONDED, meeting))

        # then it is delivered
        assert (await next_update(watch)).kind is MeetingChangeKind.RESPONDED

        # and the one never stored is looked for until GAP_WAIT has passed, then no more
        clock.now += GAP_WAIT + 1
        await asyncio.sleep(0.02)
        assert live._cursor is not None and live._cursor.missing() == []
        feed.land(lost, meeting_change(MeetingChangeKind.CANCELLED, meeting))
        await asyncio.sleep(0.02)
        assert watch.waiting == 0


async def test_with_change_streams_changes_come_pushed_and_a_failing_stream_loses_none():
    app = services()
    app.store.feed.streams = True
    meeting = await schedule(app, ALICE, BOB)
    live = live_over(app, poll_seconds=60)  # a stream only: no polling would be quick enough
    async with following(live):
        watch = await live.meetings(BOB)

        await app.meetings.update(ALICE, meeting.id, dataclasses.replace(_no_changes(), title="Pushed"))
        assert (await next_update(watch)).kind is MeetingChangeKind.UPDATED
        reads = app.store.feed.reads
        await asyncio.sleep(0.05)
        assert app.store.feed.reads == reads  # pushed: nothing polls

        # when the stream breaks, and a change is published meanwhile
        stream = live._stream
        assert isinstance(stream, FakeChangeStream)

        async def broken() -> Change | None:
            raise ConnectionError("stream lost")

        stream.next = broken  # type: ignore[method-assign]
        live._sleep = lambda seconds: asyncio.sleep(0)  # type: ignore[assignment]
        await app.meetings.cancel(ALICE, meeting.id)

        # then a new stream and a read catch it, once
        assert (await next_update(watch)).kind is MeetingChangeKind.CANCELLED
        await asyncio.sleep(0.05)
        assert live._stream is not stream and watch.waiting == 0


async def test_a_change_read_twice_is_delivered_once():
    app = services()
    meeting = await schedule(app, ALICE, BOB)
    live = live_over(app)
    watch = await live.meetings(BOB)
    change = (await _published(app.store.feed, meeting_change(MeetingChangeKind.UPDATED, meeting)))[0]
    assert live._cursor is not None

    live.dispatch(live._cursor.take([change, change]))
    live.dispatch(live._cursor.take([change]))

    assert watch.waiting == 1


async def _published(feed: FakeChangeFeed, *changes: Change) -> list[Change]:
    await feed.publish(changes)
    return feed.changes[-len(changes) :]


def _no_changes():
    from gql_api.domain.validation import MeetingChanges

    return MeetingChanges()


def _response(name: str):
    from gql_api.domain.meetings import ParticipantResponse

    return ParticipantResponse[name]


def test_a_change_holds_ids_and_pseudonyms_only():
    change = connection_change(ConnectionChangeKind.LINKED, "c1", "alice")
    assert change == Change(Topic.CONNECTION, ConnectionChangeKind.LINKED, "c1", frozenset({audience_key("alice")}))
    assert "alice" not in repr(change.audience)


async def test_a_change_this_process_publishes_is_read_at_once_not_at_the_next_poll():
    app = services(subscription_poll_seconds=60)  # no poll would come in time
    meeting = await schedule(app, ALICE, BOB)
    async with following(app.live):
        watch = await app.live.meetings(BOB)
        await asyncio.sleep(0.01)  # the follower has read the feed once, and waits

        await app.meetings.cancel(ALICE, meeting.id)

        assert (await next_update(watch, timeout=1)).kind is MeetingChangeKind.CANCELLED
