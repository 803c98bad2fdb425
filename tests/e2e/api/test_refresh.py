"""Credentials that stay alive: one refresh per connection at a time, in one process and across
several; a dead holder blocks nobody for long; a stale process never marks a healthy connection."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gql_api import create_app
from gql_api.cronofy import CronofyGateway
from gql_api.domain.connections import Credential
from gql_api.domain.errors import NeedsRelink
from gql_api.graphql.ids import decode_id
from gql_api.keys import RUNTIME
from gql_api.store import ConnectionStore
from gql_api.vault import KeyRing, Vault
from tests.support.api import CLIENT_ID, CLIENT_SECRET, KEYS, Api
from tests.support.documents import CONNECTIONS
from tests.support.factories import link_account


async def refreshes(sandbox) -> int:
    return sum(1 for r in await sandbox.requests() if r["path"] == "/oauth/token")


async def calendars_via(api: Api, connection_id: str) -> list:
    services = api.client.app[RUNTIME].services
    return await services.access.call(
        connection_id,
        lambda token, data_center: api.client.app[RUNTIME].gateway.list_calendars(
            access_token=token, data_center=data_center
        ),
    )


@asynccontextmanager
async def second_app(settings, database, clock):
    app = create_app(settings, database=database, clock=clock)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield Api(client, settings)


async def expire_everything(sandbox, clock) -> None:
    await sandbox.http.post(f"{sandbox.url}/_control/expire-tokens", json={})
    await sandbox.http.delete(f"{sandbox.url}/_control/requests")


async def test_a_hundred_concurrent_calls_with_an_expired_token_cost_one_refresh(api, sandbox, clock):
    connection = await link_account(api)
    raw_id = decode_id("CalendarConnection", connection["id"])
    await expire_everything(sandbox, clock)

    results = await asyncio.gather(*[calendars_via(api, raw_id) for _ in range(100)])

    assert all(results)
    assert await refreshes(sandbox) == 1


@pytest.mark.parametrize("proactive", [False, True], ids=["after-401", "before-expiry"])
async def test_two_processes_refresh_once_and_a_rotated_token_is_never_lost(
    api, sandbox, settings, database, clock, proactive
):
    await sandbox.http.post(f"{sandbox.url}/_control/config", json={"rotate_refresh_tokens": True})
    connection = await link_account(api)
    raw_id = decode_id("CalendarConnection", connection["id"])
    async with second_app(settings, database, clock) as other:
        if proactive:
            clock.advance(hours=1)  # past expires_in on both sides: refreshed before use, no 401 needed
            await sandbox.http.delete(f"{sandbox.url}/_control/requests")
        else:
            await expire_everything(sandbox, clock)

        await asyncio.gather(*[calendars_via(app, raw_id) for app in (api, other) for _ in range(30)])

        assert await refreshes(sandbox) == 1
        assert [t["status"] for t in await sandbox.tokens("refresh")] == ["superseded", "alive"]
        # and the connection keeps working from either process, with the rotated token
        await expire_everything(sandbox, clock)
        assert await calendars_via(other, raw_id) and await calendars_via(api, raw_id)
        assert [c["status"] for c in (await api.data(CONNECTIONS))["calendarConnections"]] == ["ACTIVE"]


async def test_a_holder_that_died_mid_refresh_blocks_only_until_its_lease_expires(api, sandbox, database, clock):
    connection = await link_account(api)
    raw_id = decode_id("CalendarConnection", connection["id"])
    store = ConnectionStore(database, Vault(KeyRing.parse(KEYS)))
    assert await store.take_refresh_lease(
        raw_id, owner="dead-process", now=clock(), until=clock() + timedelta(seconds=30)
    )
    await expire_everything(sandbox, clock)

    call = asyncio.create_task(calendars_via(api, raw_id))
    await asyncio.sleep(0.3)
    assert not call.done() and await refreshes(sandbox) == 0  # waiting on the dead holder's lease

    clock.advance(seconds=31)
    assert await asyncio.wait_for(call, timeout=5)
    assert await refreshes(sandbox) == 1


async def test_a_stale_process_meeting_invalid_grant_does_not_mark_a_healthy_connection(
    api, sandbox, database, clock, settings
):
    await sandbox.http.post(f"{sandbox.url}/_control/config", json={"rotate_refresh_tokens": True})
    connection = await link_account(api)
    raw_id = decode_id("CalendarConnection", connection["id"])
    store = ConnectionStore(database, Vault(KeyRing.parse(KEYS)))
    await expire_everything(sandbox, clock)
    # our refresh request is held up at Cronofy while an older process (no lease) rotates the token
    await sandbox.fault(path="/oauth/token", delay_seconds=0.5)
    ours = asyncio.create_task(calendars_via(api, raw_id))
    await asyncio.sleep(0.1)
    _, old = await store.with_credential(raw_id)
    stale = CronofyGateway(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        api_url=settings.cronofy_api_url,
        app_url=settings.cronofy_app_url,
        max_attempts=1,
    )
    try:
        grant = await stale.refresh(refresh_token=old.refresh_token)
    finally:
        await stale.aclose()
    await store.store_credential(
        raw_id, Credential(grant.access_token, grant.refresh_token, grant.expires_at(clock())), now=clock()
    )

    assert await asyncio.wait_for(ours, timeout=5)  # invalid_grant, re-read, the newer token used
    assert [c["status"] for c in (await api.data(CONNECTIONS))["calendarConnections"]] == ["ACTIVE"]


async def test_invalid_grant_for_the_stored_token_means_relink(api, sandbox, clock):
    connection = await link_account(api)
    raw_id = decode_id("CalendarConnection", connection["id"])
    sub = (await sandbox.state())["accounts"][0]["sub"]
    await sandbox.http.post(
        f"{sandbox.url}/oauth/token/revoke", json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "sub": sub}
    )

    with pytest.raises(NeedsRelink):
        await calendars_via(api, raw_id)

    assert [c["status"] for c in (await api.data(CONNECTIONS))["calendarConnections"]] == ["NEEDS_RELINK"]
    relinked = await link_account(api)
    assert relinked["status"] == "ACTIVE" and relinked["id"] == connection["id"]
