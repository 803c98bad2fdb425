"""The privacy notice (DESIGN §1) over stored data and recorded traffic: the credential stored is the notice's
four fields, the tokens encrypted; every read of events is of our own events only; unlinking and erasing a
user both revoke Cronofy's access."""

from __future__ import annotations

import pytest

from gql_api.cronofy.models import LINK_SCOPES
from tests.support.documents import UNLINK
from tests.support.factories import link_account, schedule

ERASE = "mutation Erase($input: EraseUserInput!) { eraseUser(input: $input) { receipt userErrors { code } } }"


@pytest.fixture(autouse=True)
async def only_our_events_are_read(sandbox):
    """Our grants hold no read_events scope: a read of events without only_managed=true would be refused (403)."""
    yield
    requests = await sandbox.requests()
    assert not [r for r in requests if r["status"] == 403], "a request needed a scope we never asked for"


async def test_the_stored_credential_is_the_notices_four_fields_with_the_tokens_encrypted(api, sandbox, database):
    # given a linked calendar
    await link_account(api)

    # when its document is read as stored
    stored = await database["calendar_connections"].find_one({})

    # then access and refresh token are the only encrypted values (each an envelope: key id, nonce, ciphertext),
    # the scope is the least the notice names, and the account is Cronofy's `sub`
    encrypted = {name for name, value in stored.items() if isinstance(value, dict) and set(value) == {"kid", "n", "ct"}}
    assert encrypted == {"access_token", "refresh_token"}
    assert stored["scopes"] == list(LINK_SCOPES) == ["list_calendars", "create_event", "delete_event"]
    [account] = (await sandbox.state())["accounts"]
    assert stored["sub"] == account["sub"]
    # what using it needs, besides: expiry, data center, provider and profile name, the target calendar
    assert {"access_token_expires_at", "data_center", "provider", "profile_name", "calendar"} <= set(stored)
    assert not {name for name in stored if "event" in name or "busy" in name}


async def test_unlinking_and_erasing_both_revoke_cronofys_access(api, sandbox, clock):
    # given Alice and Bob linked, a meeting in both calendars, read back since (only our own events)
    alices = await link_account(api, user="alice", profile_name="alice@example.test")
    await link_account(api, user="bob", profile_name="bob@example.test")
    await schedule(api)
    clock.advance(seconds=api.settings.sync_reconcile_interval_seconds + 60)
    await api.reconcile(clock)

    # when Alice unlinks, and the platform erases Bob
    await api.data(UNLINK, {"input": {"connectionId": alices["id"]}})
    body = await api.gql(ERASE, {"input": {"userId": "bob"}}, user=None, headers=api.admin_headers())
    assert body["data"]["eraseUser"]["receipt"]["status"] == "DONE"

    # then no grant of either account is alive at Cronofy, and the revocations went to /oauth/token/revoke
    state = await sandbox.state()
    assert {t["status"] for t in state["tokens"] if t["kind"] == "refresh"} == {"revoked"}
    revokes = [r for r in await sandbox.requests() if r["path"] == "/oauth/token/revoke"]
    assert len(revokes) >= 2 and {r["status"] for r in revokes} == {200}
    reads = [r for r in await sandbox.requests() if r["path"].startswith("/v1/events")]
    assert reads and {r["status"] for r in reads} == {200}
