"""Revocations owed to Cronofy: stored before anything is forgotten, leased while attempted, retried until paid."""

from __future__ import annotations

from datetime import timedelta

from gql_api.cronofy.errors import CronofyUnavailable
from gql_api.domain.secrets import Secret
from gql_api.services.revocations import LEASE
from tests.support.fakes import T0, another_process, services

TOKEN = Secret("refresh-acc_gone-1")


async def test_a_recorded_revocation_is_owed_and_leased_to_its_recorder():
    # given
    app = services()

    # when
    revocation = await app.revocations.record(refresh_token=TOKEN, sub="acc_gone", data_center="ca")

    # then
    [owed] = app.store.revocations.pending()
    assert (owed.refresh_token, owed.sub, owed.data_center, owed.attempts) == (TOKEN, "acc_gone", "ca", 1)
    assert owed.next_attempt_at == T0 + LEASE and revocation.id == owed.id
    assert await app.revocations.claim_due() is None  # nobody else takes it while its recorder attempts it
    assert app.gateway.calls == []


async def test_paying_revokes_the_token_then_the_account_and_forgets_the_debt():
    # given
    app = services()
    revocation = await app.revocations.record(refresh_token=TOKEN, sub="acc_gone", data_center="ca")

    # when
    assert await app.revocations.attempt_soon(revocation) is True

    # then
    assert [(c["refresh_token"], c["sub"], c["data_center"]) for c in app.gateway.calls_to("revoke")] == [
        (TOKEN, None, "ca"),
        (None, "acc_gone", "ca"),
    ]
    assert app.store.revocations.pending() == []


async def test_a_revocation_by_token_alone_or_account_alone_makes_that_one_call():
    # given
    app = services()
    by_token = await app.revocations.record(refresh_token=TOKEN, data_center="us")
    by_account = await app.revocations.record(sub="acc_gone", data_center="us")

    # when
    await app.revocations.attempt_soon(by_token)
    await app.revocations.attempt_soon(by_account)

    # then
    assert [(c["refresh_token"], c["sub"]) for c in app.gateway.calls_to("revoke")] == [
        (TOKEN, None),
        (None, "acc_gone"),
    ]


async def test_a_failed_attempt_is_rescheduled_with_backoff_and_the_worker_pays_it():
    # given Cronofy is away
    app = services()
    app.gateway.fail("revoke", CronofyUnavailable("503"))
    revocation = await app.revocations.record(refresh_token=TOKEN, sub="acc_gone", data_center="us")

    # when
    assert await app.revocations.attempt_soon(revocation) is False

    # then it is due again in 15 to 30 seconds
    [owed] = app.store.revocations.pending()
    assert owed.last_error == "CronofyUnavailable"
    assert T0 + timedelta(seconds=15) <= owed.next_attempt_at <= T0 + timedelta(seconds=30)
    app.clock.now = owed.next_attempt_at - timedelta(seconds=1)
    assert await app.revocations.claim_due() is None
    app.clock.now = owed.next_attempt_at
    claimed = await app.revocations.claim_due()
    assert claimed.id == revocation.id and claimed.attempts == 2
    assert await app.revocations.attempt(claimed) is True
    assert app.store.revocations.pending() == []


async def test_the_backoff_grows_with_the_attempts_up_to_an_hour():
    # given Cronofy stays away
    app = services()
    app.gateway.fail("revoke", CronofyUnavailable("503"), times=None)
    revocation = await app.revocations.record(refresh_token=TOKEN, data_center="us")
    await app.revocations.attempt_soon(revocation)

    # when the worker tries whenever it is due
    waits = []
    for _ in range(10):
        [owed] = app.store.revocations.pending()
        app.clock.now = owed.next_attempt_at
        claimed = await app.revocations.claim_due()
        assert await app.revocations.attempt(claimed) is False
        waits.append((app.store.revocations.pending()[0].next_attempt_at - app.clock.now, claimed.attempts))

    # then each wait is the doubled ceiling with equal jitter, never more than an hour
    for wait, attempts in waits:
        ceiling = min(3600.0, 30.0 * 2 ** (attempts - 1))
        assert ceiling / 2 <= wait.total_seconds() <= ceiling
    assert waits[-1][1] == 11


async def test_a_revocation_being_attempted_is_not_taken_by_another_worker_until_its_lease_ends():
    # given a worker claimed the revocation and died
    app = services()
    revocation = await app.revocations.record(refresh_token=TOKEN, data_center="us")
    app.clock.now = T0 + LEASE
    assert (await app.revocations.claim_due()).id == revocation.id
    other = another_process(app)

    # when another worker looks during the lease, and after it
    during = await other.revocations.claim_due()
    app.clock.now = T0 + 2 * LEASE
    after = await other.revocations.claim_due()

    # then it only gets it once the lease is over
    assert during is None
    assert after.id == revocation.id and after.attempts == 3
    assert await other.revocations.attempt(after) is True
    assert app.store.revocations.pending() == []


async def test_the_oldest_due_revocation_is_paid_first():
    # given
    app = services()
    first = await app.revocations.record(refresh_token=Secret("refresh-1"), data_center="us")
    app.clock.advance(seconds=10)
    second = await app.revocations.record(refresh_token=Secret("refresh-2"), data_center="us")
    app.clock.advance(minutes=10)

    # when / then
    assert [(await app.revocations.claim_due()).id, (await app.revocations.claim_due()).id] == [first.id, second.id]
    assert await app.revocations.claim_due() is None
