"""Two-way sync: act as the user in the sandbox's calendars, observe the meeting through GraphQL.

The sandbox pushes signed notifications to the API's webhook over real HTTP on loopback, exactly
as Cronofy would; the API reads its own events back and applies the rules of DESIGN.md §5.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestClient, TestServer

from gql_api import create_app
from gql_api.graphql.ids import decode_id
from gql_api.keys import RUNTIME
from tests.support.api import CLIENT_SECRET, Api
from tests.support.documents import CONNECTIONS, MEETING, UNLINK, UPDATE
from tests.support.factories import deliveries, link_account, schedule
from tests.support.sandbox import Sandbox, calendar_events

SYNCED_AT = "query { calendarConnections { lastSyncedAt } }"


@pytest.fixture(autouse=True)
async def privacy_kept(sandbox):
    """Over every sync test: we never read beyond our own events (privacy notice §3). Our grants hold
    no read_events scope, so any read without only_managed=true would have been refused (403)."""
    yield
    requests = await sandbox.requests()
    reads = [r for r in requests if r["path"].startswith("/v1/events")]
    assert all(r["status"] in (200, 423, 0) or r["status"] >= 500 for r in reads), reads
    assert not [r for r in requests if r["status"] == 403], "a request needed a scope we never asked for"


@pytest.fixture
async def people(api):
    """Alice and Bob have linked calendars; Carol has none."""
    return {
        "alice": await link_account(api, user="alice", profile_name="alice@example.test"),
        "bob": await link_account(api, user="bob", profile_name="bob@example.test"),
    }


async def act(sandbox: Sandbox, action: str, **body: Any) -> dict[str, Any]:
    response = await sandbox.http.post(f"{sandbox.url}/_control/act/{action}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def copy_of(sandbox: Sandbox, owner: str) -> dict[str, Any]:
    return (await calendar_events(sandbox))[owner]


async def meeting_now(api: Api, meeting_id: str, user: str = "alice") -> dict[str, Any]:
    return (await api.data(MEETING, {"id": meeting_id}, user=user))["meeting"]


async def settled(api: Api) -> None:
    """Let the reads the pushes started finish (they run in the background, as in production)."""
    background = api.client.app[RUNTIME].background
    for _ in range(100):
        await asyncio.sleep(0.02)
        if not len(background):
            break
    await api.work("calendar writes")


async def test_the_organizer_deleting_the_event_cancels_the_meeting_for_everyone(api, sandbox, people):
    meeting = await schedule(api)
    host = await copy_of(sandbox, "alice@example.test")

    pushes = (await act(sandbox, "delete", calendar_id=host["calendar_id"], event_id=host["event_id"]))["pushes"]
    await settled(api)

    assert [p["status"] for p in pushes] == [202]
    after = await meeting_now(api, meeting["id"])
    assert after["status"] == "CANCELLED" and after["cancelledAt"]
    assert await calendar_events(sandbox) == {}  # Bob's copy was removed too


async def test_a_participant_deleting_their_copy_declines(api, sandbox, people):
    meeting = await schedule(api)
    bobs = await copy_of(sandbox, "bob@example.test")

    await act(sandbox, "delete", calendar_id=bobs["calendar_id"], event_id=bobs["event_id"])
    await settled(api)

    after = await meeting_now(api, meeting["id"])
    assert after["status"] == "SCHEDULED"
    bob = next(p for p in after["participants"] if p["userId"] == "bob")
    assert bob["response"] == "DECLINED"
    assert set(await calendar_events(sandbox)) == {"alice@example.test"}

    # and a later change leaves Bob's calendar alone
    await api.data(UPDATE, {"input": {"meetingId": meeting["id"], "title": "Still on"}})
    assert set(await calendar_events(sandbox)) == {"alice@example.test"}


async def test_moving_a_copy_moves_the_meeting_and_every_other_copy(api, sandbox, people):
    meeting = await schedule(api)
    bobs = await copy_of(sandbox, "bob@example.test")

    await act(
        sandbox,
        "move",
        calendar_id=bobs["calendar_id"],
        event_id=bobs["event_id"],
        start="2027-01-12T15:00:00Z",
        end="2027-01-12T16:30:00Z",
    )
    await settled(api)

    after = await meeting_now(api, meeting["id"])
    assert (after["start"], after["end"]) == ("2027-01-12T15:00:00Z", "2027-01-12T16:30:00Z")
    assert {s for _, s in deliveries(after).values()} == {"SYNCED"}
    host = await copy_of(sandbox, "alice@example.test")
    assert (host["start"], host["end"]) == ("2027-01-12T15:00:00Z", "2027-01-12T16:30:00Z")


async def test_editing_the_host_event_updates_the_meeting(api, sandbox, people):
    meeting = await schedule(api)
    host = await copy_of(sandbox, "alice@example.test")

    await act(
        sandbox,
        "edit",
        calendar_id=host["calendar_id"],
        event_id=host["event_id"],
        summary="Renamed in Google",
        location="Room 4",
    )
    await settled(api)

    after = await meeting_now(api, meeting["id"])
    assert (after["title"], after["location"]) == ("Renamed in Google", "Room 4")
    bobs = await copy_of(sandbox, "bob@example.test")
    assert (bobs["summary"], bobs["location"]) == ("Renamed in Google", {"description": "Room 4"})


async def test_attendee_answers_on_the_host_event_update_responses(api, sandbox, people):
    meeting = await schedule(
        api, participants=[{"userId": "carol", "email": "carol@example.test"}, {"email": "dave@example.test"}]
    )
    host = await copy_of(sandbox, "alice@example.test")

    await act(
        sandbox,
        "respond",
        calendar_id=host["calendar_id"],
        event_id=host["event_id"],
        email="carol@example.test",
        status="accepted",
    )
    await act(
        sandbox,
        "respond",
        calendar_id=host["calendar_id"],
        event_id=host["event_id"],
        email="dave@example.test",
        status="tentative",
    )
    await settled(api)

    responses = {p["email"]: p["response"] for p in (await meeting_now(api, meeting["id"]))["participants"]}
    assert responses == {
        "alice@example.test": "ACCEPTED",
        "carol@example.test": "ACCEPTED",
        "dave@example.test": "TENTATIVE",
    }


async def test_duplicate_and_out_of_order_pushes_leave_the_same_state(api, sandbox, people, database):
    meeting = await schedule(api)
    bobs = await copy_of(sandbox, "bob@example.test")
    await sandbox.http.post(f"{sandbox.url}/_control/config", json={"push_duplicates": 2})

    await act(
        sandbox,
        "move",
        calendar_id=bobs["calendar_id"],
        event_id=bobs["event_id"],
        start="2027-01-13T09:00:00Z",
        end="2027-01-13T10:00:00Z",
    )
    await act(sandbox, "edit", calendar_id=bobs["calendar_id"], event_id=bobs["event_id"], summary="Later")
    await settled(api)
    once = await meeting_now(api, meeting["id"])
    version = (await database["meetings"].find_one({}))["version"]

    # when the first push arrives again, late
    first = (await sandbox.http.get(f"{sandbox.url}/_control/pushes")).json()[0]
    await redeliver(first)
    await settled(api)

    # then nothing changes
    assert await meeting_now(api, meeting["id"]) == once
    assert (await database["meetings"].find_one({}))["version"] == version
    assert (once["title"], once["start"]) == ("Later", "2027-01-13T09:00:00Z")


async def redeliver(push: dict[str, Any]) -> int:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            push["callback_url"],
            content=push["body"].encode(),
            headers={"Cronofy-HMAC-SHA256": push["hmac"], "Content-Type": "application/json; charset=utf-8"},
        )
    return response.status_code


async def test_our_own_writes_do_not_echo_back(api, sandbox, people, database, clock):
    meeting = await schedule(api)
    await api.data(UPDATE, {"input": {"meetingId": meeting["id"], "title": "Our change"}})
    version = (await database["meetings"].find_one({}))["version"]

    pushes = (await sandbox.http.get(f"{sandbox.url}/_control/pushes")).json()
    assert [p["type"] for p in pushes] == ["verification", "verification"]  # none for our writes
    clock.advance(minutes=16)  # a reconciliation reads our writes back
    assert await api.reconcile(clock) == 2
    assert (await database["meetings"].find_one({}))["version"] == version


async def test_a_missed_push_is_caught_by_reconciliation(api, sandbox, people, clock):
    meeting = await schedule(api)
    bobs = await copy_of(sandbox, "bob@example.test")
    before = (await api.data(SYNCED_AT, user="bob"))["calendarConnections"][0]["lastSyncedAt"]
    await sandbox.http.post(f"{sandbox.url}/_control/config", json={"push_drops": 1})

    await act(sandbox, "edit", calendar_id=bobs["calendar_id"], event_id=bobs["event_id"], summary="Quietly")
    await settled(api)
    assert (await meeting_now(api, meeting["id"]))["title"] == "Mentoring session"  # never heard of it

    clock.advance(minutes=15, seconds=1)
    await api.reconcile(clock)
    await api.work("calendar writes")

    assert (await meeting_now(api, meeting["id"]))["title"] == "Quietly"
    after = (await api.data(SYNCED_AT, user="bob"))["calendarConnections"][0]["lastSyncedAt"]
    assert after > before


async def test_profile_disconnected_needs_relink_and_relinking_resumes(api, sandbox, people, clock):
    meeting = await schedule(api)
    bob_sub = next(a["sub"] for a in (await sandbox.state())["accounts"] if a["profile_name"] == "bob@example.test")

    pushes = (await act(sandbox, "disconnect", sub=bob_sub))["pushes"]
    assert [(p["type"], p["status"]) for p in pushes] == [("profile_disconnected", 202)]

    assert [c["status"] for c in (await api.data(CONNECTIONS, user="bob"))["calendarConnections"]] == ["NEEDS_RELINK"]
    bob = next(p for p in (await meeting_now(api, meeting["id"]))["participants"] if p["userId"] == "bob")
    assert bob["calendarEvent"]["status"] == "FAILED" and "relink" in bob["calendarEvent"]["lastError"]
    changed = await api.data(UPDATE, {"input": {"meetingId": meeting["id"], "title": "While away"}})
    assert changed["updateMeeting"]["userErrors"] == []  # a disconnected calendar never fails a mutation

    relinked = await link_account(api, user="bob", profile_name="bob@example.test")
    await api.work("calendar writes")

    assert relinked["id"] == people["bob"]["id"] and relinked["status"] == "ACTIVE"
    assert {s for _, s in deliveries(await meeting_now(api, meeting["id"])).values()} == {"SYNCED"}
    assert (await copy_of(sandbox, "bob@example.test"))["summary"] == "While away"


# --- channels -----------------------------------------------------------------------------------


async def open_channels(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [channel for account in (await sandbox.state())["accounts"] for channel in account["channels"]]


async def test_linking_opens_one_managed_only_channel_relinking_keeps_it_unlinking_closes_it(api, sandbox, settings):
    connection = await link_account(api, user="alice", profile_name="alice@example.test")
    [channel] = await open_channels(sandbox)
    assert channel["filters"] == {"only_managed": True}
    prefix = settings.base_url + "/webhooks/cronofy/"
    assert channel["callback_url"].startswith(prefix)
    token = channel["callback_url"].removeprefix(prefix)
    assert len(base64.urlsafe_b64decode(token + "==")) * 8 >= 128
    assert len(channel["callback_url"]) <= 128

    await link_account(api, user="alice", profile_name="alice@example.test")
    assert len(await open_channels(sandbox)) == 1

    await api.data(UNLINK, {"input": {"connectionId": connection["id"]}})
    assert await open_channels(sandbox) == []


async def test_a_channel_that_could_not_be_created_is_retried_by_the_worker(api, sandbox, clock):
    await sandbox.fault(path="/v1/channels", method="POST", status=503)
    connection = await link_account(api, user="alice", profile_name="alice@example.test")
    assert connection["status"] == "ACTIVE" and connection["lastSyncedAt"] is None
    assert await open_channels(sandbox) == []

    clock.advance(seconds=31)
    await api.reconcile(clock)

    assert len(await open_channels(sandbox)) == 1
    assert (await api.data(SYNCED_AT))["calendarConnections"][0]["lastSyncedAt"] is not None


# --- the webhook endpoint -------------------------------------------------------------------------


def sign(body: bytes, secret: str = CLIENT_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


async def callback_url(api: Api, sandbox: Sandbox) -> str:
    await link_account(api, user="alice", profile_name="alice@example.test")
    return (await open_channels(sandbox))[0]["callback_url"]


CHANGE = json.dumps(
    {
        "notification": {"type": "change", "changes_since": "2026-01-01T00:00:00Z"},
        "channel": {"channel_id": "chn_x", "callback_url": "x", "filters": {}},
    },
    separators=(",", ":"),
).encode()


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("signed", 202),
        ("two secrets, ours second", 202),
        ("tampered body", 401),
        ("missing header", 401),
        ("wrong secret", 401),
        ("unknown token", 404),
        ("unknown token, unsigned", 401),
        ("oversized", 413),
        ("not json", 400),
        ("verification", 200),
        ("unknown type", 200),
    ],
)
async def test_webhook_checks_size_then_signature_then_token_then_body(api, sandbox, case, status):
    url = await callback_url(api, sandbox)
    body, headers = CHANGE, {"Cronofy-HMAC-SHA256": sign(CHANGE)}
    if case == "two secrets, ours second":
        headers["Cronofy-HMAC-SHA256"] = f"{sign(CHANGE, 'old-secret')},{sign(CHANGE)}"
    elif case == "tampered body":
        body = CHANGE.replace(b"2026", b"2025")
    elif case == "missing header":
        headers = {}
    elif case == "wrong secret":
        headers["Cronofy-HMAC-SHA256"] = sign(CHANGE, "not-our-secret")
    elif case.startswith("unknown token"):
        url = url.rsplit("/", 1)[0] + "/not-a-channel-token"
        if case.endswith("unsigned"):
            headers = {}
    elif case == "oversized":
        body = b'{"notification":{"type":"change"},"pad":"' + b"x" * 70_000 + b'"}'
        headers = {"Cronofy-HMAC-SHA256": sign(body)}
    elif case == "not json":
        body = b"<xml/>"
        headers = {"Cronofy-HMAC-SHA256": sign(body)}
    elif case in ("verification", "unknown type"):
        kind = "verification" if case == "verification" else "something_new"
        body = json.dumps({"notification": {"type": kind}, "channel": {}}).encode()
        headers = {"Cronofy-HMAC-SHA256": sign(body)}

    async with httpx.AsyncClient(timeout=5) as http:
        response = await http.post(url, content=body, headers={**headers, "Content-Type": "application/json"})

    assert response.status_code == status, response.text


async def test_the_sandbox_signing_with_two_secrets_is_accepted(api, sandbox, people):
    meeting = await schedule(api)
    await sandbox.http.post(f"{sandbox.url}/_control/config", json={"signing_secrets": ["retired", CLIENT_SECRET]})
    host = await copy_of(sandbox, "alice@example.test")

    pushes = (
        await act(sandbox, "edit", calendar_id=host["calendar_id"], event_id=host["event_id"], summary="Rotated")
    )["pushes"]
    await settled(api)

    assert "," in pushes[0]["hmac"] and pushes[0]["status"] == 202
    assert (await meeting_now(api, meeting["id"]))["title"] == "Rotated"


async def test_a_423_from_cronofy_also_means_relink_for_every_meeting_on_that_calendar(api, sandbox, people):
    first = await schedule(api)
    second = await schedule(api, title="Another")
    bob_sub = next(a["sub"] for a in (await sandbox.state())["accounts"] if a["profile_name"] == "bob@example.test")
    await sandbox.http.post(f"{sandbox.url}/_control/config", json={"push_drops": 1})
    await act(sandbox, "disconnect", sub=bob_sub)  # its push is lost: only the 423 tells us

    await api.data(UPDATE, {"input": {"meetingId": first["id"], "title": "Moved on"}})
    await settled(api)

    assert [c["status"] for c in (await api.data(CONNECTIONS, user="bob"))["calendarConnections"]] == ["NEEDS_RELINK"]
    for meeting in (first, second):
        bob = next(p for p in (await meeting_now(api, meeting["id"]))["participants"] if p["userId"] == "bob")
        assert bob["calendarEvent"]["status"] == "FAILED" and "relink" in bob["calendarEvent"]["lastError"]


async def test_a_closed_channel_loses_no_change(api, sandbox, people, clock):
    meeting = await schedule(api)
    state = await sandbox.state()
    [bob] = [a for a in state["accounts"] if a["profile_name"] == "bob@example.test"]
    bob_token = next(
        t["token"]
        for t in state["tokens"]
        if t["kind"] == "access" and t["status"] == "alive" and t["sub"] == bob["sub"]
    )
    [bobs_channel] = bob["channels"]
    closed = await sandbox.http.delete(
        f"{sandbox.url}/v1/channels/{bobs_channel['channel_id']}", headers={"Authorization": f"Bearer {bob_token}"}
    )
    assert closed.status_code == 202
    bobs = await copy_of(sandbox, "bob@example.test")

    pushes = (
        await act(
            sandbox, "edit", calendar_id=bobs["calendar_id"], event_id=bobs["event_id"], summary="Nobody told you"
        )
    )["pushes"]
    assert pushes == []
    clock.advance(minutes=15, seconds=1)
    await api.reconcile(clock)
    await api.work("calendar writes")

    assert (await meeting_now(api, meeting["id"]))["title"] == "Nobody told you"
    assert (await copy_of(sandbox, "alice@example.test"))["summary"] == "Nobody told you"


async def test_changes_spread_over_several_pages_are_all_applied(api, sandbox, people, clock):
    await sandbox.http.post(f"{sandbox.url}/_control/config", json={"events_page_size": 2})
    meetings = [await schedule(api, title=f"Meeting {i}") for i in range(5)]
    bobs_calendar = (await copy_of(sandbox, "bob@example.test"))["calendar_id"]
    await sandbox.http.post(f"{sandbox.url}/_control/config", json={"push_drops": 5})
    for i, meeting in enumerate(meetings):
        await act(
            sandbox,
            "edit",
            calendar_id=bobs_calendar,
            event_id="mtg_" + decode_id("Meeting", meeting["id"]),
            summary=f"Meeting {i}!",
        )

    clock.advance(minutes=15, seconds=1)
    await api.reconcile(clock)

    titles = sorted([(await meeting_now(api, m["id"]))["title"] for m in meetings])
    assert titles == [f"Meeting {i}!" for i in range(5)]
    pages = [r for r in await sandbox.requests() if r["path"].startswith("/v1/events/pages/")]
    assert len(pages) >= 2  # next_page was followed


async def test_a_push_sent_in_chunks_is_read_whole(api, sandbox):
    url = await callback_url(api, sandbox)

    async def chunks():
        for start in range(0, len(CHANGE), 7):
            yield CHANGE[start : start + 7]

    async with httpx.AsyncClient(timeout=5) as http:
        signed = await http.post(
            url, content=chunks(), headers={"Cronofy-HMAC-SHA256": sign(CHANGE), "Content-Type": "application/json"}
        )
        big = b'{"pad":"' + b"x" * 70_000 + b'"}'

        async def big_chunks():
            for start in range(0, len(big), 4096):
                yield big[start : start + 4096]

        oversized = await http.post(url, content=big_chunks(), headers={"Cronofy-HMAC-SHA256": sign(big)})

    assert signed.status_code == 202
    assert oversized.status_code == 413


async def test_our_own_older_write_read_back_is_not_taken_for_an_edit(api, sandbox, people, clock):
    meeting = await schedule(api)  # "Mentoring session" written to both calendars
    await sandbox.fault(path="/v1/calendars/", method="POST", status=503, times=10)
    await api.data(UPDATE, {"input": {"meetingId": meeting["id"], "title": "Newer title"}})  # not written yet

    clock.advance(minutes=15, seconds=1)  # a reconciliation reads the calendars, which still say the old
    await api.reconcile(clock)

    assert (await meeting_now(api, meeting["id"]))["title"] == "Newer title"


async def test_a_slow_channel_creation_does_not_hold_the_link(settings, database, clock, sandbox):
    patient = dataclasses.replace(settings, cronofy_timeout_seconds=5.0)
    await sandbox.fault(path="/v1/channels", method="POST", delay_seconds=2.5)
    async with TestClient(TestServer(create_app(patient, database=database, clock=clock), host="127.0.0.1")) as c:
        api = Api(c, patient)
        loop = asyncio.get_running_loop()
        started = loop.time()

        connection = await link_account(api, user="alice", profile_name="alice@example.test")

        assert loop.time() - started < 2.5 and connection["status"] == "ACTIVE"
        for _ in range(60):  # it finishes in the background
            if await open_channels(sandbox):
                break
            await asyncio.sleep(0.1)
        assert len(await open_channels(sandbox)) == 1
        assert (await api.data(SYNCED_AT))["calendarConnections"][0]["lastSyncedAt"] is not None


async def test_calendar_side_text_is_cut_to_the_apis_limits_and_never_blocks_a_later_update(api, sandbox, people):
    """Issue 12 item 8: a 200,000-character description typed in a calendar is kept only up to the API's own
    limit, so the organizer's next update (of another field) is not refused for a field it never sent."""
    meeting = await schedule(api)
    bobs = await copy_of(sandbox, "bob@example.test")

    # when Bob pastes a huge description into his copy
    await act(
        sandbox,
        "edit",
        calendar_id=bobs["calendar_id"],
        event_id=bobs["event_id"],
        description="x" * 200_000,
    )
    await settled(api)

    # then the meeting holds them cut to the API's limits
    after = await meeting_now(api, meeting["id"])
    assert after["description"] == "x" * 4096

    # and Alice can still move the meeting
    moved = (await api.data(UPDATE, {"input": {"meetingId": meeting["id"], "start": "2027-01-12T09:00:00Z"}}))[
        "updateMeeting"
    ]
    assert moved["userErrors"] == [] and moved["meeting"]["start"] == "2027-01-12T09:00:00Z"
