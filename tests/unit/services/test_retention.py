"""Keeping nothing longer than needed (services/privacy.py `Retention`, the worker's sweep): meetings go
MEETING_RETENTION_DAYS after they ended or were cancelled, link states once used or expired, finished
revocations at once, erasure receipts after RECEIPT_KEPT."""

from __future__ import annotations

from datetime import timedelta

from gql_api.domain.erasure import ErasureStatus, subject_of
from gql_api.services.privacy import RECEIPT_KEPT
from gql_api.worker import Sweep, standard
from tests.support.fakes import ALICE, BOB, END, begin, link, schedule, services


async def test_a_meeting_goes_the_retention_days_after_it_ended():
    app = services(meeting_retention_days=30)
    meeting = await schedule(app, ALICE, BOB)

    app.clock.now = END + timedelta(days=30) - timedelta(seconds=1)
    assert await app.retention.sweep() == 0
    app.clock.now = END + timedelta(days=30)
    assert await app.retention.sweep() == 1

    assert await app.meetings.get(ALICE, meeting.id) is None


async def test_a_cancelled_meeting_goes_the_retention_days_after_its_cancellation():
    app = services(meeting_retention_days=30)
    meeting = await schedule(app, ALICE, BOB)
    cancelled = await app.meetings.cancel(ALICE, meeting.id)  # long before its end

    app.clock.now = cancelled.cancelled_at + timedelta(days=30)
    assert await app.retention.sweep() == 1


async def test_zero_keeps_meetings_for_good():
    app = services(meeting_retention_days=0)
    meeting = await schedule(app, ALICE, BOB)

    app.clock.now = END + timedelta(days=10_000)
    await app.retention.sweep()

    assert await app.meetings.get(ALICE, meeting.id) is not None


async def test_link_states_go_once_used_or_expired():
    app = services()
    await begin(app, ALICE)  # never used
    await link(app, BOB)  # used: gone at once
    assert [state.user_id for state in app.store.link_states.issued()] == ["alice"]

    app.clock.advance(seconds=app.settings.link_state_ttl_seconds)
    assert await app.retention.sweep() == 1
    assert app.store.link_states.issued() == []


async def test_a_paid_revocation_is_not_kept():
    app = services()
    connection = await link(app, BOB)

    await app.linking.unlink(BOB, connection.id)

    assert app.store.revocations.pending() == []


async def test_an_erasure_receipt_is_kept_a_while_then_goes():
    app = services()
    await schedule(app, ALICE, BOB)
    done = await app.erasures.erase("bob")
    assert done.status is ErasureStatus.DONE

    app.clock.now = done.finished_at + RECEIPT_KEPT - timedelta(seconds=1)
    await app.retention.sweep()
    assert await app.store.erasures.get(subject_of("bob")) is not None
    app.clock.now = done.finished_at + RECEIPT_KEPT
    await app.retention.sweep()
    assert await app.store.erasures.get(subject_of("bob")) is None


def test_the_worker_sweeps_and_goes_on_with_erasures():
    app = services()
    jobs = {job.name: job for job in standard(app.services)}
    assert isinstance(jobs["retention"], Sweep) and jobs["retention"].run == app.retention.sweep
    assert jobs["erasures"].claim == app.erasures.claim_due and jobs["erasures"].run == app.erasures.resume
    assert list(jobs).index("erasures") > list(jobs).index("calendar writes")
