"""Unlinking: the revocation is owed before the credential is forgotten, and is paid even if Cronofy is away."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from gql_api.cronofy.errors import CronofyUnavailable
from gql_api.domain.errors import ErrorCode, UserFacingError
from tests.support.fakes import ALICE, BOB, T0, link, services


async def test_the_revocation_is_owed_before_the_credential_is_deleted():
    # given
    app = services(cronofy_data_center="au")
    connection = await link(app, ALICE)
    refresh_token = app.store.connections.credential_of(connection.id).refresh_token
    owed_at_delete = []
    delete = app.store.connections.delete_for_user

    async def deleting(user_id, connection_id):
        owed_at_delete.extend(app.store.revocations.pending())
        return await delete(user_id, connection_id)

    app.store.connections.delete_for_user = deleting

    # when
    unlinked = await app.linking.unlink(ALICE, connection.id)

    # then the debt was stored first, by token and by account
    assert unlinked == connection.id
    [owed] = owed_at_delete
    assert (owed.refresh_token, owed.sub, owed.data_center) == (refresh_token, "acc_alice", "au")


async def test_unlink_revokes_by_token_and_by_account_and_forgets_the_credential():
    # given
    app = services()
    connection = await link(app, ALICE)
    refresh_token = app.store.connections.credential_of(connection.id).refresh_token
    app.gateway.forget_calls()

    # when
    await app.linking.unlink(ALICE, connection.id)

    # then
    assert [(c["refresh_token"], c["sub"]) for c in app.gateway.calls_to("revoke")] == [
        (refresh_token, None),
        (None, "acc_alice"),
    ]
    assert app.store.revocations.pending() == []
    assert await app.linking.connections(ALICE) == []
    assert app.store.connections.credential_of(connection.id) is None
    assert [c["channel_id"] for c in app.gateway.calls_to("close_channel")] == [connection.channel_id]


async def test_cronofy_down_still_unlinks_and_leaves_the_revocation_due():
    # given
    app = services()
    connection = await link(app, ALICE)
    app.gateway.fail("revoke", CronofyUnavailable("503"), times=None)
    app.gateway.fail("close_channel", CronofyUnavailable("503"), times=None)

    # when
    assert await app.linking.unlink(ALICE, connection.id) == connection.id

    # then
    assert await app.linking.connections(ALICE) == []
    [owed] = app.store.revocations.pending()
    assert owed.last_error == "CronofyUnavailable"
    assert T0 + timedelta(seconds=15) <= owed.next_attempt_at <= T0 + timedelta(seconds=30)

    # and the worker pays it once Cronofy is back
    app.gateway.heal()
    app.clock.now = owed.next_attempt_at
    claimed = await app.revocations.claim_due()
    assert await app.revocations.attempt(claimed) is True
    assert app.store.revocations.pending() == []
    assert [c["sub"] for c in app.gateway.calls_to("revoke")][-2:] == [None, "acc_alice"]


async def test_a_credential_that_cannot_be_decrypted_is_revoked_by_account():
    # given the key that encrypted Alice's credential is gone
    app = services()
    connection = await link(app, ALICE)
    app.store.connections.make_unreadable(connection.id)
    app.gateway.forget_calls()

    # when
    await app.linking.unlink(ALICE, connection.id)

    # then
    assert [(c["refresh_token"], c["sub"]) for c in app.gateway.calls_to("revoke")] == [(None, "acc_alice")]
    assert await app.linking.connections(ALICE) == []


async def test_a_slow_cronofy_does_not_hold_the_unlink_past_its_grace():
    # given
    app = services(revocation_grace=0.01)
    connection = await link(app, ALICE)

    async def slow(args):
        await asyncio.sleep(5)

    app.gateway.before("revoke", slow)

    # when
    async with asyncio.timeout(1):
        await app.linking.unlink(ALICE, connection.id)

    # then
    [owed] = app.store.revocations.pending()
    assert owed.last_error == "TimeoutError"


async def test_unlinking_someone_elses_connection_is_NOT_FOUND_and_revokes_nothing():
    # given
    app = services()
    connection = await link(app, ALICE)
    app.gateway.forget_calls()

    # when
    with pytest.raises(UserFacingError) as refused:
        await app.linking.unlink(BOB, connection.id)

    # then
    assert (refused.value.code, refused.value.field) == (ErrorCode.NOT_FOUND, ("connection_id",))
    assert app.gateway.calls == [] and app.store.revocations.pending() == []
    assert await app.linking.connections(ALICE) == [connection]


async def test_unlinking_one_account_leaves_the_others():
    # given
    app = services()
    work = await link(app, ALICE, sub="acc_work")
    home = await link(app, ALICE, sub="acc_home")

    # when
    await app.linking.unlink(ALICE, work.id)

    # then
    assert [c.id for c in await app.linking.connections(ALICE)] == [home.id]
    assert {c["sub"] for c in app.gateway.calls_to("revoke")} == {None, "acc_work"}
