"""Unlinking revokes Cronofy's access; when Cronofy is away the unlink still succeeds at once and
the revocation is retried until Cronofy confirms it (privacy notice §5)."""

from __future__ import annotations

import asyncio
import dataclasses

from aiohttp.test_utils import TestClient, TestServer

from gql_api import create_app
from gql_api.domain.erasure import subject_of
from tests.support.api import Api
from tests.support.documents import CONNECTIONS, UNLINK
from tests.support.factories import link_account


async def refresh_token_statuses(sandbox) -> list[str]:
    return [t["status"] for t in await sandbox.tokens("refresh")]


async def test_unlink_while_cronofy_is_down_revokes_later(api, sandbox, database, clock):
    connection = await link_account(api)
    await sandbox.fault(path="/oauth/token/revoke", status=503)

    # when the user unlinks while Cronofy fails
    payload = (await api.data(UNLINK, {"input": {"connectionId": connection["id"]}}))["unlinkCalendar"]

    # then the unlink succeeds at once and the credential is gone
    assert payload == {"unlinkedConnectionId": connection["id"], "userErrors": []}
    assert (await api.data(CONNECTIONS))["calendarConnections"] == []
    assert await database["calendar_connections"].count_documents({}) == 0
    assert await refresh_token_statuses(sandbox) == ["alive"]

    # and only what retrying needs is kept: the encrypted token, the account and the data center (and whose
    # grant it was, as a hash of the user id: exports list a user's debts)
    owed = await database["pending_revocations"].find_one({})
    assert set(owed) == {
        "_id",
        "subject",
        "refresh_token",
        "sub",
        "data_center",
        "attempts",
        "created_at",
        "next_attempt_at",
        "last_error",
    }
    assert set(owed["refresh_token"]) == {"kid", "n", "ct"}
    assert owed["subject"] == subject_of("alice")
    assert owed["last_error"] == "CronofyServerError"

    # when the worker runs before the backoff has passed, nothing is attempted
    assert (await api.work("revocations"))["revocations"] == 0
    # when it runs after the backoff, while Cronofy still fails, it backs off further
    await sandbox.fault(path="/oauth/token/revoke", status=500)
    clock.advance(seconds=31)
    assert (await api.work("revocations"))["revocations"] == 1
    owed = await database["pending_revocations"].find_one({})
    assert owed["attempts"] == 2
    assert await refresh_token_statuses(sandbox) == ["alive"]

    # when Cronofy is back and the next attempt is due
    clock.advance(seconds=61)
    assert (await api.work("revocations"))["revocations"] == 1

    # then the token is revoked and nothing is owed any more
    assert await refresh_token_statuses(sandbox) == ["revoked"]
    assert await database["pending_revocations"].count_documents({}) == 0


async def test_a_slow_cronofy_does_not_hold_the_unlink(api, sandbox, database):
    connection = await link_account(api)
    await sandbox.fault(path="/oauth/token/revoke", delay_seconds=3.0)
    loop = asyncio.get_running_loop()
    started = loop.time()

    payload = (await api.data(UNLINK, {"input": {"connectionId": connection["id"]}}))["unlinkCalendar"]

    assert payload["userErrors"] == []
    assert loop.time() - started < 3.0 + 0.5
    assert await database["pending_revocations"].count_documents({}) == 1


async def test_the_in_process_worker_pays_revocations_owed_from_before(settings, database, sandbox, clock):
    # given a revocation left owed by an earlier process (Cronofy was down during the unlink)
    async with TestClient(TestServer(create_app(settings, database=database, clock=clock), host="127.0.0.1")) as c:
        api = Api(c, settings)
        connection = await link_account(api)
        await sandbox.fault(path="/oauth/token/revoke", status=502)
        await api.data(UNLINK, {"input": {"connectionId": connection["id"]}})
    assert await database["pending_revocations"].count_documents({}) == 1
    clock.advance(minutes=5)

    # when a new process starts on the same database with its worker on
    with_worker = dataclasses.replace(settings, worker_enabled=True, worker_poll_seconds=0.05)
    async with TestClient(TestServer(create_app(with_worker, database=database, clock=clock), host="127.0.0.1")):
        for _ in range(100):
            if await database["pending_revocations"].count_documents({}) == 0:
                break
            await asyncio.sleep(0.05)

    # then the worker revoked the token
    assert await database["pending_revocations"].count_documents({}) == 0
    assert await refresh_token_statuses(sandbox) == ["revoked"]
