"""A calendar whose credentials Cronofy stops accepting: NEEDS_RELINK, FAILED copies with a clear
reason, the meeting mutation still succeeds, and linking the same account again writes them."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.support.api import CLIENT_ID, CLIENT_SECRET
from tests.support.documents import CONNECTIONS, MEETING, UPDATE
from tests.support.factories import deliveries, link_account, schedule
from tests.support.sandbox import calendar_events


async def test_relinking_restores_the_connection_in_place_and_writes_failed_copies(api, sandbox, clock):
    await link_account(api, user="alice", profile_name="alice@example.test")
    bobs = await link_account(api, user="bob", profile_name="bob@example.test")
    meeting = await schedule(api)
    bob_sub = next(a["sub"] for a in (await sandbox.state())["accounts"] if a["profile_name"] == "bob@example.test")

    # given Cronofy no longer accepts Bob's credentials (revoked on Cronofy's side, access token expired)
    await sandbox.http.post(
        f"{sandbox.url}/oauth/token/revoke",
        json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "sub": bob_sub},
    )

    # when Alice moves the meeting
    payload = (await api.data(UPDATE, {"input": {"meetingId": meeting["id"], "title": "Moved"}}))["updateMeeting"]

    # then the mutation succeeds, Alice's copy is written, Bob's fails with a clear reason
    assert payload["userErrors"] == []
    assert deliveries(payload["meeting"]) == {
        "alice@example.test": ("OWN_CALENDAR", "SYNCED"),
        "bob@example.test": ("OWN_CALENDAR", "FAILED"),
    }
    bob = next(p for p in payload["meeting"]["participants"] if p["email"] == "bob@example.test")
    assert "relink" in bob["calendarEvent"]["lastError"]
    assert [c["status"] for c in (await api.data(CONNECTIONS, user="bob"))["calendarConnections"]] == ["NEEDS_RELINK"]
    events = await calendar_events(sandbox)
    assert events["alice@example.test"]["summary"] == "Moved"
    assert events["bob@example.test"]["summary"] == "Mentoring session"

    # when Bob links the same account again
    relinked = await link_account(api, user="bob", profile_name="bob@example.test")
    clock.advance(seconds=1)
    await api.work("calendar writes")

    # then it is the same connection, active again, and his copy carries the change
    assert relinked["id"] == bobs["id"] and relinked["status"] == "ACTIVE"
    assert (await calendar_events(sandbox))["bob@example.test"]["summary"] == "Moved"


async def test_copies_owed_failing_by_a_process_that_died_are_failed_by_the_worker(api, sandbox, database):
    from gql_api.store import ConnectionStore
    from gql_api.vault import KeyRing, Vault
    from tests.support.api import KEYS

    await link_account(api, user="alice", profile_name="alice@example.test")
    await link_account(api, user="bob", profile_name="bob@example.test")
    meeting = await schedule(api)
    # given a process that marked Bob's connection NEEDS_RELINK and stopped before failing his copies
    store = ConnectionStore(database, Vault(KeyRing.parse(KEYS)))
    raw_id = next(c.id for c in await store.list_for_user("bob"))
    assert await store.mark_needs_relink(raw_id, now=datetime.now(UTC))
    assert deliveries((await api.data(MEETING, {"id": meeting["id"]}))["meeting"])["bob@example.test"][1] == "SYNCED"

    # when a worker passes
    await api.work("relinks")

    # then the copies show why they are not kept up to date, once
    bob = next(
        p
        for p in (await api.data(MEETING, {"id": meeting["id"]}))["meeting"]["participants"]
        if p["email"] == "bob@example.test"
    )
    assert bob["calendarEvent"]["status"] == "FAILED"
    assert (await api.work("relinks"))["relinks"] == 0
