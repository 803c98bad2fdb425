"""Access tokens that stay alive: refreshed before expiry and once after a 401, one refresh at a time,
and a refused refresh token means relinking only if it is still the stored one."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from gql_api.cronofy.errors import CronofyLocked, CronofyUnauthorized, CronofyUnavailable
from gql_api.domain.connections import ConnectionStatus, Credential
from gql_api.domain.errors import ConnectionGone, NeedsRelink
from gql_api.domain.meetings import SyncStatus
from gql_api.services.calendar_access import RELINK_MESSAGE
from tests.support.fakes import ALICE, BOB, T0, another_process, copy_of, link, schedule, services, sync_of

EXPIRES_AT = T0 + timedelta(hours=1)  # the fake gateway's grants live an hour


def listing(app, used=None):
    """An action on the calendar: list its calendars, noting the access token it was given."""

    async def action(access_token, data_center):
        if used is not None:
            used.append(access_token)
        return await app.gateway.list_calendars(access_token=access_token, data_center=data_center)

    return action


async def linked(app, **kwargs):
    connection = await link(app, ALICE, **kwargs)
    app.gateway.forget_calls()
    return connection, app.store.connections.credential_of(connection.id)


# --- when to refresh -----------------------------------------------------------------------------------------------


async def test_a_token_far_from_expiry_is_used_as_it_is():
    # given
    app = services()
    connection, credential = await linked(app)
    app.clock.now = EXPIRES_AT - timedelta(minutes=6)
    used = []

    # when
    await app.access.call(connection.id, listing(app, used))

    # then
    assert used == [credential.access_token] and app.gateway.calls_to("refresh") == []


async def test_a_token_about_to_expire_is_refreshed_and_stored_before_it_is_used():
    # given
    app = services(cronofy_data_center="de")
    app.gateway.rotate_refresh_tokens = True
    connection, old = await linked(app)
    app.clock.now = EXPIRES_AT - timedelta(minutes=4)  # within the five-minute margin
    stored_when_used = []

    async def action(access_token, data_center):
        stored_when_used.append(app.store.connections.credential_of(connection.id))
        return access_token

    # when
    used = await app.access.call(connection.id, action)

    # then
    [refresh] = app.gateway.calls_to("refresh")
    assert (refresh["refresh_token"], refresh["data_center"]) == (old.refresh_token, "de")
    new = app.store.connections.credential_of(connection.id)
    assert used == new.access_token != old.access_token
    assert new.refresh_token != old.refresh_token  # rotated, and kept
    assert stored_when_used == [new]
    assert new.access_token_expires_at == app.clock.now + timedelta(hours=1)
    assert app.refreshes == ["refreshed"]
    assert app.store.connections.refresh_lease_of(connection.id) == (None, None)


async def test_a_401_refreshes_once_and_tries_again_with_the_new_token():
    # given
    app = services()
    connection, old = await linked(app)
    app.gateway.fail("list_calendars", CronofyUnauthorized("401"))
    used = []

    # when
    calendars = await app.access.call(connection.id, listing(app, used))

    # then
    new = app.store.connections.credential_of(connection.id)
    assert calendars and used == [old.access_token, new.access_token]
    assert len(app.gateway.calls_to("refresh")) == 1


async def test_a_second_401_is_not_refreshed_again():
    # given
    app = services()
    connection, _ = await linked(app)
    app.gateway.fail("list_calendars", CronofyUnauthorized("401"), times=2)

    # when / then
    with pytest.raises(CronofyUnauthorized):
        await app.access.call(connection.id, listing(app))
    assert len(app.gateway.calls_to("refresh")) == 1
    assert (await app.linking.connection(ALICE, connection.id)).status is ConnectionStatus.ACTIVE


# --- one refresh at a time -----------------------------------------------------------------------------------------


async def test_concurrent_calls_in_one_process_cost_one_refresh():
    # given an expired token and a refresh that takes a while
    app = services()
    connection, _ = await linked(app)
    app.clock.now = EXPIRES_AT + timedelta(minutes=1)
    released = asyncio.Event()

    async def slow(args):
        await released.wait()

    app.gateway.before("refresh", slow)
    used = []

    # when twenty calls start at once
    calls = [asyncio.create_task(app.access.call(connection.id, listing(app, used))) for _ in range(20)]
    for _ in range(5):
        await asyncio.sleep(0)
    released.set()
    await asyncio.gather(*calls)

    # then
    assert len(app.gateway.calls_to("refresh")) == 1
    assert set(used) == {app.store.connections.credential_of(connection.id).access_token}
    assert app.refreshes == ["refreshed"] and app.sleeps == []


async def test_a_process_that_lost_the_race_uses_the_winners_credential():
    # given another process is refreshing (it holds the lease) when ours needs to
    app = services()
    connection, _ = await linked(app)
    app.clock.now = EXPIRES_AT + timedelta(minutes=1)
    entered, released = asyncio.Event(), asyncio.Event()

    async def slow(args):
        entered.set()
        await released.wait()

    app.gateway.before("refresh", slow)
    other = another_process(app)
    theirs = asyncio.create_task(other.access.call(connection.id, listing(other)))
    await entered.wait()
    used = []

    # when ours runs meanwhile, waiting on their lease until they are done
    ours = asyncio.create_task(app.access.call(connection.id, listing(app, used)))
    for _ in range(5):
        await asyncio.sleep(0)
    assert app.sleeps  # waiting on the lease
    released.set()
    await asyncio.gather(theirs, ours)

    # then ours used their credential, and refreshed nothing itself
    assert len(app.gateway.calls_to("refresh")) == 1
    assert used == [app.store.connections.credential_of(connection.id).access_token]
    assert (app.refreshes, other.refreshes) == ([], ["refreshed"])


async def test_a_holder_that_died_blocks_only_until_its_lease_expires():
    # given a process took the refresh lease for 30 seconds and died
    app = services()
    connection, _ = await linked(app)
    app.clock.now = EXPIRES_AT + timedelta(minutes=1)
    now = app.clock.now
    assert await app.store.connections.take_refresh_lease(
        connection.id, owner="dead-process", now=now, until=now + timedelta(seconds=30)
    )

    # when
    await app.access.call(connection.id, listing(app))

    # then ours waited out the lease, then refreshed
    assert timedelta(seconds=30) <= app.clock.now - now < timedelta(seconds=31)
    assert len(app.gateway.calls_to("refresh")) == 1
    assert app.store.connections.refresh_lease_of(connection.id) == (None, None)


async def test_a_lease_that_never_ends_makes_the_call_unavailable_not_stuck():
    # given
    app = services()
    connection, _ = await linked(app)
    app.clock.now = EXPIRES_AT + timedelta(minutes=1)
    await app.store.connections.take_refresh_lease(
        connection.id, owner="stuck-process", now=app.clock.now, until=app.clock.now + timedelta(days=1)
    )

    # when / then
    with pytest.raises(CronofyUnavailable):
        await app.access.call(connection.id, listing(app))
    assert app.gateway.calls == [] and sum(app.sleeps) == pytest.approx(60.0)


# --- refused refresh tokens ----------------------------------------------------------------------------------------


async def test_invalid_grant_for_the_stored_token_means_relink():
    # given the account was revoked at Cronofy; Alice has a copy of a meeting there
    app = services()
    connection, _ = await linked(app)
    meeting = await schedule(app, ALICE, BOB)
    await app.gateway.revoke(sub="acc_alice")
    app.clock.now = EXPIRES_AT + timedelta(minutes=1)

    # when
    with pytest.raises(NeedsRelink):
        await app.access.call(connection.id, listing(app))

    # then
    assert (await app.linking.connection(ALICE, connection.id)).status is ConnectionStatus.NEEDS_RELINK
    after = await app.meetings.get(ALICE, meeting.id)
    assert sync_of(after, ALICE) is SyncStatus.FAILED and copy_of(after, ALICE).last_error == RELINK_MESSAGE
    assert app.refreshes == ["invalid_grant"]
    assert app.store.connections.refresh_lease_of(connection.id) == (None, None)


async def test_invalid_grant_after_an_older_process_rotated_the_token_uses_the_newer_one():
    # given Cronofy rotates refresh tokens, and a process that takes no lease refreshes just before us
    app = services()
    app.gateway.rotate_refresh_tokens = True
    connection, old = await linked(app)
    app.clock.now = EXPIRES_AT + timedelta(minutes=1)
    stale = []

    async def older_process_refreshes_first(args):
        if args["refresh_token"] == old.refresh_token and not stale:
            stale.append("refreshing")
            grant = await app.gateway.refresh(refresh_token=old.refresh_token)
            stale[0] = grant
            credential = Credential(grant.access_token, grant.refresh_token, grant.expires_at(app.clock()))
            await app.store.connections.store_credential(connection.id, credential, now=app.clock())

    app.gateway.before("refresh", older_process_refreshes_first)
    used = []

    # when
    await app.access.call(connection.id, listing(app, used))

    # then ours met invalid_grant, found the newer credential and used it
    assert used == [stale[0].access_token]
    assert app.refreshes == ["lost_race"]
    assert (await app.linking.connection(ALICE, connection.id)).status is ConnectionStatus.ACTIVE


async def test_a_refresh_cronofy_cannot_answer_changes_nothing():
    # given
    app = services()
    connection, old = await linked(app)
    app.clock.now = EXPIRES_AT + timedelta(minutes=1)
    app.gateway.fail("refresh", CronofyUnavailable("503"))

    # when / then
    with pytest.raises(CronofyUnavailable):
        await app.access.call(connection.id, listing(app))
    assert app.store.connections.credential_of(connection.id) == old
    assert (await app.linking.connection(ALICE, connection.id)).status is ConnectionStatus.ACTIVE
    assert app.store.connections.refresh_lease_of(connection.id) == (None, None)


# --- connections Cronofy or we can no longer use -------------------------------------------------------------------


async def test_cronofy_locked_means_relink():
    # given
    app = services()
    connection, _ = await linked(app)
    app.gateway.fail("list_calendars", CronofyLocked("423"))

    # when / then
    with pytest.raises(NeedsRelink):
        await app.access.call(connection.id, listing(app))
    assert (await app.linking.connection(ALICE, connection.id)).status is ConnectionStatus.NEEDS_RELINK


async def test_a_credential_that_cannot_be_decrypted_means_relink():
    # given
    app = services()
    connection, _ = await linked(app)
    app.store.connections.make_unreadable(connection.id)

    # when / then
    with pytest.raises(NeedsRelink):
        await app.access.call(connection.id, listing(app))
    assert app.store.connections.status_of(connection.id) is ConnectionStatus.NEEDS_RELINK
    assert app.gateway.calls == []


async def test_a_connection_that_needs_relinking_is_not_called_and_an_unlinked_one_is_gone():
    # given
    app = services()
    connection, _ = await linked(app)
    await app.access.needs_relink(connection.id)

    # when / then
    with pytest.raises(NeedsRelink):
        await app.access.call(connection.id, listing(app))
    await app.linking.unlink(ALICE, connection.id)
    with pytest.raises(ConnectionGone):
        await app.access.call(connection.id, listing(app))
    assert app.gateway.calls_to("list_calendars") == []
