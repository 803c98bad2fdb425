"""The Cronofy sandbox's channels and push notifications, over real HTTP both ways.

A tiny receiver app on loopback plays the callback URL: it keeps the raw body and headers of
each push and answers 200 (500 on paths under /fail, late on paths under /slow). Every push the sandbox records
must have gone to 127.0.0.1, which each test checks on the way out.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from gql_api.sandbox.keys import SANDBOX_PUSHER
from gql_api.sandbox.push import sign
from tests.support.clock import FakeClock
from tests.support.sandbox import (
    CLIENT_ID,
    CLIENT_SECRET,
    PROFILE,
    START,
    LinkedUser,
    calendar_ids,
    link_tokens,
    sandbox_app,
    serving,
)
from tests.support.sandbox import Sandbox as PlainSandbox

FULL_SCOPE = "list_calendars read_events create_event delete_event"
GATEWAY_SCOPE = "list_calendars create_event delete_event"  # DESIGN.md §1: no read_events
USER_AGENT = "Cronofy (https://www.cronofy.com/support/)"


# -- the callback URL's side ---------------------------------------------------------------


@dataclass
class Received:
    path: str
    body: bytes
    headers: CIMultiDict[str]

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    base_url: str = ""
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str = "/cronofy") -> str:
        return self.base_url + path

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(Received(request.path, await request.read(), CIMultiDict(request.headers)))
        self.arrived.set()
        if request.path.startswith("/slow"):
            await asyncio.sleep(0.5)
        return web.Response(status=500 if request.path.startswith("/fail") else 200)

    async def wait_for(self, count: int, timeout: float = 2.0) -> list[Received]:
        """The first `count` pushes received, waiting (bounded) for them to arrive."""
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.received[:count]


@asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", receiver.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    receiver.base_url = str(server.make_url("")).rstrip("/")
    try:
        yield receiver
    finally:
        await server.close()


# -- the sandbox's side --------------------------------------------------------------------


@dataclass
class Sandbox(PlainSandbox):
    receiver: Receiver

    async def pushes(self, wait: float = 2.0) -> list[dict[str, Any]]:
        response = await self.http.get("_control/pushes", params={"wait": wait})
        assert response.status_code == 200, response.text
        return response.json()

    async def act(self, action: str, **body: Any) -> httpx.Response:
        return await self.http.post(f"_control/act/{action}", json=body)


async def assert_pushes_stayed_on_loopback(http: httpx.AsyncClient) -> None:
    for record in (await http.get("_control/pushes")).json():
        assert urlsplit(record["callback_url"]).hostname == "127.0.0.1", record


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with receiving() as receiver:
        yield receiver


@pytest.fixture
async def sandbox(receiver: Receiver, sandbox: PlainSandbox) -> AsyncIterator[Sandbox]:
    """conftest.py's sandbox (started after the receiver, closed before it), with the receiver."""
    yield Sandbox(sandbox.http, sandbox.clock, sandbox.app, receiver)
    await assert_pushes_stayed_on_loopback(sandbox.http)


@dataclass
class User(LinkedUser):
    refresh_token: str

    async def create_channel(self, callback_url: str, **filters: Any) -> httpx.Response:
        body: dict[str, Any] = {"callback_url": callback_url}
        if filters:
            body["filters"] = filters
        return await self.http.post("v1/channels", json=body, headers=self.headers)

    async def channels(self) -> list[dict[str, Any]]:
        response = await self.http.get("v1/channels", headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()["channels"]

    async def upsert(
        self, event_id: str = "meeting-1", calendar_id: str | None = None, **fields: Any
    ) -> httpx.Response:
        body = {
            "event_id": event_id,
            "summary": "Mentoring session",
            "start": "2023-11-20T10:00:00Z",
            "end": "2023-11-20T11:00:00Z",
            "tzid": "Etc/UTC",
            **fields,
        }
        return await self.http.post(self.events_path(calendar_id), json=body, headers=self.headers)

    async def delete(self, event_id: str = "meeting-1") -> httpx.Response:
        return await self.http.request("DELETE", self.events_path(), json={"event_id": event_id}, headers=self.headers)

    async def changed_since(self, changes_since: str) -> httpx.Response:
        """What a gateway reads on a `change` push (cronofy.md §7.2)."""
        params = {"only_managed": "true", "include_deleted": "true", "last_modified": changes_since, "tzid": "Etc/UTC"}
        return await self.http.get("v1/events", params=params, headers=self.headers)


async def link(http: httpx.AsyncClient, *, scope: str = FULL_SCOPE, profile: str = PROFILE) -> User:
    """Press Allow on the consent form, exchange the code, find the calendars."""
    token = await link_tokens(http, scope=scope, profile=profile)
    calendars = await calendar_ids(http, token["sub"])
    return User(http, token["sub"], token["access_token"], calendars, refresh_token=token["refresh_token"])


async def open_channel(sandbox: Sandbox, user: User, path: str = "/cronofy", **filters: Any) -> dict[str, Any]:
    """Create a channel and wait until its verification push has been answered."""
    response = await user.create_channel(sandbox.receiver.url(path), **filters)
    assert response.status_code == 200, response.text
    await sandbox.pushes(wait=2)
    return response.json()["channel"]


def expected_hmac(body: bytes, *secrets: str) -> str:
    """Computed here, independently of the sandbox's signing code."""
    return ",".join(base64.b64encode(hmac.new(s.encode(), body, hashlib.sha256).digest()).decode() for s in secrets)


def notification(record: dict[str, Any]) -> dict[str, Any]:
    return json.loads(record["body"])["notification"]


async def dentist_uid(sandbox: Sandbox, user: User) -> str:
    events = (await sandbox.http.get("_control/events", params={"sub": user.sub})).json()
    return next(e["event_uid"] for e in events if e["summary"] == "Dentist")


# -- channels ------------------------------------------------------------------------------


async def test_create_list_and_close_a_channel(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    other = await link(sandbox.http, profile="someone.else@example.com")

    created = await user.create_channel(sandbox.receiver.url())
    listed = await user.channels()
    theirs = await other.channels()
    foreign_close = await other.http.delete(
        f"v1/channels/{created.json()['channel']['channel_id']}", headers=other.headers
    )
    closed = await user.http.delete(f"v1/channels/{created.json()['channel']['channel_id']}", headers=user.headers)
    closed_again = await user.http.delete(
        f"v1/channels/{created.json()['channel']['channel_id']}", headers=user.headers
    )
    anonymous = await sandbox.http.get("v1/channels")

    assert created.status_code == 200
    channel = created.json()["channel"]
    assert channel == {"channel_id": channel["channel_id"], "callback_url": sandbox.receiver.url(), "filters": {}}
    assert channel["channel_id"].startswith("chn_") and len(channel["channel_id"]) == 28
    assert listed == [channel]
    assert theirs == []
    assert foreign_close.status_code == 404
    assert (closed.status_code, closed.content) == (202, b"")
    assert closed_again.status_code == 404
    assert await user.channels() == []
    assert anonymous.status_code == 401


async def test_only_filters_that_differ_from_the_defaults_are_echoed(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)

    narrow = await user.create_channel(sandbox.receiver.url("/a"), calendar_ids=[user.primary], only_managed=True)
    defaults = await user.create_channel(sandbox.receiver.url("/b"), only_managed=False)

    assert narrow.json()["channel"]["filters"] == {"calendar_ids": [user.primary], "only_managed": True}
    assert defaults.json()["channel"]["filters"] == {}


async def test_an_identical_create_returns_the_existing_channel(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    work, primary = user.calendars["Work"], user.primary

    first = await user.create_channel(sandbox.receiver.url(), calendar_ids=[work, primary])
    again = await user.create_channel(sandbox.receiver.url(), calendar_ids=[primary, work])
    other_filters = await user.create_channel(sandbox.receiver.url(), calendar_ids=[work])
    pushes = await sandbox.pushes()

    assert first.json() == again.json()
    assert other_filters.json()["channel"]["channel_id"] != first.json()["channel"]["channel_id"]
    assert len(await user.channels()) == 2
    assert [p["type"] for p in pushes] == ["verification", "verification"]  # none for the repeat


async def test_an_account_has_at_most_128_open_channels(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    other = await link(sandbox.http, profile="someone.else@example.com")
    await sandbox.configure(push_drops=200)  # lose the verifications: nothing to deliver

    for number in range(128):
        assert (await user.create_channel(sandbox.receiver.url(f"/c/{number}"))).status_code == 200
    refused = await user.create_channel(sandbox.receiver.url("/c/128"))
    repeated = await user.create_channel(sandbox.receiver.url("/c/0"))
    theirs = await other.create_channel(sandbox.receiver.url("/c/0"))
    first_id = (await user.channels())[0]["channel_id"]
    await user.http.delete(f"v1/channels/{first_id}", headers=user.headers)
    after_closing = await user.create_channel(sandbox.receiver.url("/c/128"))

    assert refused.status_code == 422
    [problem] = refused.json()["errors"]["channels"]
    assert problem["key"] == "errors.too_many_channels"
    assert repeated.status_code == 200
    assert (theirs.status_code, after_closing.status_code) == (200, 200)
    assert len(await user.channels()) == 128
    assert sandbox.receiver.received == []


LOOPBACK = "http://127.0.0.1:9/"


@pytest.mark.parametrize(
    ("body", "field", "key"),
    [
        ({}, "callback_url", "errors.required"),
        ({"callback_url": ""}, "callback_url", "errors.required"),
        ({"callback_url": "ftp://127.0.0.1/cronofy"}, "callback_url", "errors.invalid"),
        ({"callback_url": "/relative/path"}, "callback_url", "errors.invalid"),
        ({"callback_url": "http://127.0.0.1/has space"}, "callback_url", "errors.invalid"),
        ({"callback_url": 42}, "callback_url", "errors.invalid"),
        ({"callback_url": LOOPBACK + "x" * (129 - len(LOOPBACK))}, "callback_url", "errors.too_long"),
        ({"callback_url": LOOPBACK, "filters": []}, "filters", "errors.invalid"),
        ({"callback_url": LOOPBACK, "filters": {"calendar_ids": []}}, "filters.calendar_ids", "errors.required"),
        ({"callback_url": LOOPBACK, "filters": {"calendar_ids": "cal_x"}}, "filters.calendar_ids", "errors.invalid"),
        (
            {"callback_url": LOOPBACK, "filters": {"calendar_ids": ["cal_not_mine"]}},
            "filters.calendar_ids",
            "errors.not_found",
        ),
        ({"callback_url": LOOPBACK, "filters": {"only_managed": "yes"}}, "filters.only_managed", "errors.invalid"),
    ],
)
async def test_invalid_channels_get_422_with_the_errors_map(
    sandbox: Sandbox, body: dict[str, Any], field: str, key: str
) -> None:
    user = await link(sandbox.http)

    response = await user.http.post("v1/channels", json=body, headers=user.headers)

    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert list(errors) == [field]
    assert errors[field][0]["key"] == key
    assert await user.channels() == []
    assert await sandbox.pushes() == []


async def test_a_callback_url_of_exactly_128_characters_is_accepted(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    url = sandbox.receiver.url("/")
    url += "x" * (128 - len(url))

    response = await user.create_channel(url)

    assert response.status_code == 200
    [pushed] = await sandbox.receiver.wait_for(1)
    assert pushed.path == urlsplit(url).path


async def test_channels_need_read_events_unless_only_managed(sandbox: Sandbox) -> None:
    gateway = await link(sandbox.http, scope=GATEWAY_SCOPE)
    lister = await link(sandbox.http, scope="list_calendars", profile="lister@example.com")

    everything = await gateway.create_channel(sandbox.receiver.url())
    managed = await gateway.create_channel(sandbox.receiver.url(), only_managed=True)
    not_even_managed = await lister.create_channel(sandbox.receiver.url(), only_managed=True)
    anonymous = await sandbox.http.post("v1/channels", json={"callback_url": sandbox.receiver.url()})

    assert (everything.status_code, everything.content) == (403, b"")
    assert managed.status_code == 200
    assert not_even_managed.status_code == 403
    assert anonymous.status_code == 401


# -- delivery ------------------------------------------------------------------------------


async def test_a_new_channel_is_verified_with_a_signed_push(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)

    response = await user.create_channel(sandbox.receiver.url("/cronofy/abc"), only_managed=True)
    [pushed] = await sandbox.receiver.wait_for(1)
    [record] = await sandbox.pushes()

    channel = response.json()["channel"]
    expected_body = (
        '{{"notification":{{"type":"verification"}},"channel":{{"channel_id":"{}",'
        '"callback_url":"{}","filters":{{"only_managed":true}}}}}}'.format(
            channel["channel_id"], channel["callback_url"]
        )
    ).encode()
    assert pushed.path == "/cronofy/abc"
    assert pushed.body == expected_body
    assert pushed.headers["Content-Type"] == "application/json; charset=utf-8"
    assert pushed.headers["User-Agent"] == USER_AGENT
    assert pushed.headers["Cronofy-HMAC-SHA256"] == expected_hmac(pushed.body, CLIENT_SECRET)
    assert record == {
        "channel_id": channel["channel_id"],
        "type": "verification",
        "callback_url": channel["callback_url"],
        "status": 200,
        "body": expected_body.decode(),
        "hmac": expected_hmac(expected_body, CLIENT_SECRET),
        "at": START,
        "dropped": False,
    }


async def test_during_a_secret_rotation_every_secret_signs(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    config = await sandbox.configure(signing_secrets=["old-secret", "new-secret"])

    await user.create_channel(sandbox.receiver.url())
    [pushed] = await sandbox.receiver.wait_for(1)

    assert config["signing_secrets"] == ["old-secret", "new-secret"]
    header = pushed.headers["Cronofy-HMAC-SHA256"]
    assert header == expected_hmac(pushed.body, "old-secret", "new-secret")
    old, new = header.split(",")
    assert old == expected_hmac(pushed.body, "old-secret") and new == expected_hmac(pushed.body, "new-secret")


def test_signing_matches_cronofys_published_test_vectors() -> None:
    body = b'{"example":"well-known"}'
    first, second = "CRN_NggYusqPGLxwjw5FHOJYOqSrTPNXy8WQf14OID", "CRN_nGlYDFXwfSXgB9rvGNBJyfE454GGPtWIbNuPwr"

    assert sign(body, ["pDY0Oi7TJSP2hfNmZNkm5"]) == "6r2/HjBkqymGegX0wOfifieeUXbbHwtV/LohHS+jv6c="
    assert sign(body, [first]) == "5DxentQi5YSXODEzTVv06sRwJ3pULIz1KrYv20qxEK0="
    assert sign(body, [second]) == "BmQmWVuZ70ILWjr1CAt5oC7YOolgnku4WZtlrKfx/6k="
    assert sign(body, [first, second]) == (
        "5DxentQi5YSXODEzTVv06sRwJ3pULIz1KrYv20qxEK0=,BmQmWVuZ70ILWjr1CAt5oC7YOolgnku4WZtlrKfx/6k="
    )


async def test_failed_deliveries_are_recorded_with_their_status(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    async with receiving() as gone:
        closed_url = gone.url("/cronofy")  # the port is free again once this server closes
    await sandbox.configure(push_timeout=0.1)

    await user.create_channel(sandbox.receiver.url("/fail/cronofy"))
    await user.create_channel(closed_url)
    await user.create_channel(sandbox.receiver.url("/slow/cronofy"))
    records = await sandbox.pushes()

    assert {r["callback_url"]: r["status"] for r in records} == {
        sandbox.receiver.url("/fail/cronofy"): 500,
        closed_url: 0,  # connection refused
        sandbox.receiver.url("/slow/cronofy"): 0,  # no answer within push_timeout
    }


# -- the user acting in the calendar -------------------------------------------------------


ACTIONS: list[tuple[str, dict[str, Any]]] = [
    ("move", {"start": "2023-11-21T09:00:00Z", "end": "2023-11-21T09:45:00Z"}),
    ("edit", {"summary": "Renamed by the user", "description": "New notes", "location": "Cafe"}),
    ("delete", {}),
    ("respond", {"email": "pat@example.com", "status": "declined"}),
]


@pytest.mark.parametrize(("action", "fields"), ACTIONS, ids=[a for a, _ in ACTIONS])
async def test_each_user_action_pushes_a_change_the_gateway_can_read(
    sandbox: Sandbox, action: str, fields: dict[str, Any]
) -> None:
    user = await link(sandbox.http, scope=GATEWAY_SCOPE)
    assert (await user.upsert(attendees={"invite": [{"email": "pat@example.com"}]})).status_code == 202
    await user.upsert("untouched")
    channel = await open_channel(sandbox, user, only_managed=True)
    sandbox.clock.advance(300)

    acted = await sandbox.act(action, calendar_id=user.primary, event_id="meeting-1", **fields)

    assert acted.status_code == 200, acted.text
    [record] = acted.json()["pushes"]
    assert (record["type"], record["channel_id"], record["status"]) == ("change", channel["channel_id"], 200)
    assert notification(record) == {"type": "change", "changes_since": "2023-11-14T22:18:20Z"}
    pushed = sandbox.receiver.received[-1]
    assert pushed.body == record["body"].encode()
    assert pushed.headers["Cronofy-HMAC-SHA256"] == expected_hmac(pushed.body, CLIENT_SECRET)

    read = await user.changed_since(notification(record)["changes_since"])
    assert read.status_code == 200
    [event] = read.json()["events"]  # the changed event, not the untouched one
    assert (event["event_id"], event["updated"]) == ("meeting-1", "2023-11-14T22:18:20Z")
    if action == "move":
        assert (event["start"], event["end"]) == ("2023-11-21T09:00:00Z", "2023-11-21T09:45:00Z")
    elif action == "edit":
        assert (event["summary"], event["description"]) == ("Renamed by the user", "New notes")
        assert event["location"] == {"description": "Cafe"}
    elif action == "delete":
        assert (event["deleted"], event["status"]) == (True, "cancelled")
    else:
        assert event["attendees"] == [{"email": "pat@example.com", "display_name": None, "status": "declined"}]
    assert acted.json()["event"]["last_written_by"] == "user"


async def test_changes_the_app_makes_never_push(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    await open_channel(sandbox, user)
    await open_channel(sandbox, user, "/managed", only_managed=True)

    await user.upsert()
    await user.upsert(summary="Updated by the app")
    await user.upsert("elsewhere", calendar_id=user.calendars["Work"])
    await user.delete()
    pushes = await sandbox.pushes(wait=2)  # waits for any push still in flight in the background

    assert [p["type"] for p in pushes] == ["verification", "verification"]
    assert len(sandbox.receiver.received) == 2


async def test_filters_decide_which_channels_hear_of_a_change(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    await user.upsert("home")
    await user.upsert("work", calendar_id=user.calendars["Work"])
    everything = await open_channel(sandbox, user, "/all")
    managed = await open_channel(sandbox, user, "/managed", only_managed=True)
    work = await open_channel(sandbox, user, "/work", calendar_ids=[user.calendars["Work"]])

    external = await sandbox.act(
        "edit", calendar_id=user.primary, event_id=await dentist_uid(sandbox, user), summary="Dentist (moved?)"
    )
    home = await sandbox.act("edit", calendar_id=user.primary, event_id="home", summary="Home")
    at_work = await sandbox.act("edit", calendar_id=user.calendars["Work"], event_id="work", summary="Work")

    def reached(response: httpx.Response) -> set[str]:
        return {record["channel_id"] for record in response.json()["pushes"]}

    assert reached(external) == {everything["channel_id"]}  # not the only_managed channel
    assert reached(home) == {everything["channel_id"], managed["channel_id"]}
    assert reached(at_work) == {everything["channel_id"], managed["channel_id"], work["channel_id"]}


async def test_duplicates_and_drops_for_the_next_pushes(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    await user.upsert()
    await open_channel(sandbox, user)
    received_before = len(sandbox.receiver.received)

    config = await sandbox.configure(push_duplicates=1)
    doubled = (await sandbox.act("edit", calendar_id=user.primary, event_id="meeting-1", summary="A")).json()
    await sandbox.configure(push_drops=1)
    dropped = (await sandbox.act("edit", calendar_id=user.primary, event_id="meeting-1", summary="B")).json()
    normal = (await sandbox.act("edit", calendar_id=user.primary, event_id="meeting-1", summary="C")).json()

    assert (config["push_duplicates"], config["push_drops"]) == (1, 0)
    first, second = doubled["pushes"]
    assert first == second and first["status"] == 200
    [lost] = dropped["pushes"]
    assert (lost["dropped"], lost["status"], lost["type"]) == (True, None, "change")
    [once] = normal["pushes"]
    assert (once["dropped"], once["status"]) == (False, 200)
    bodies = [pushed.body.decode() for pushed in sandbox.receiver.received[received_before:]]
    assert bodies == [first["body"], first["body"], once["body"]]
    assert len(await sandbox.pushes()) == 1 + 2 + 1 + 1


async def test_a_silenced_channel_loses_every_push_and_a_channel_opened_afresh_hears_again(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    await user.upsert()
    broken = await open_channel(sandbox, user, "/broken")
    received_before = len(sandbox.receiver.received)

    silenced = (await sandbox.http.post("/_control/silence", json={"sub": user.sub})).json()
    lost = (await sandbox.act("edit", calendar_id=user.primary, event_id="meeting-1", summary="A")).json()
    again = (await sandbox.act("edit", calendar_id=user.primary, event_id="meeting-1", summary="B")).json()
    fresh = await open_channel(sandbox, user, "/fresh")
    heard = (await sandbox.act("edit", calendar_id=user.primary, event_id="meeting-1", summary="C")).json()
    no_sub = await sandbox.http.post("/_control/silence", json={})

    assert silenced == {"silenced": [broken["channel_id"]]}
    assert [(p["dropped"], p["status"]) for p in lost["pushes"] + again["pushes"]] == [(True, None), (True, None)]
    delivered = {p["channel_id"]: (p["dropped"], p["status"]) for p in heard["pushes"]}
    assert delivered == {broken["channel_id"]: (True, None), fresh["channel_id"]: (False, 200)}
    assert [r.body for r in sandbox.receiver.received[received_before:] if b'"change"' in r.body] == [
        next(p["body"] for p in heard["pushes"] if p["channel_id"] == fresh["channel_id"]).encode()
    ]
    assert no_sub.status_code == 400 and "sub is required" in no_sub.text


async def test_acting_on_what_does_not_exist_is_404_and_on_a_deleted_event_409(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    await user.upsert()
    await user.delete()

    unknown_calendar = await sandbox.act("delete", calendar_id="cal_nope", event_id="meeting-1")
    unknown_event = await sandbox.act("delete", calendar_id=user.primary, event_id="never")
    stranger = await sandbox.act(
        "respond",
        calendar_id=user.primary,
        event_id=await dentist_uid(sandbox, user),
        email="nobody@example.com",
        status="accepted",
    )
    deleted = await sandbox.act("edit", calendar_id=user.primary, event_id="meeting-1", summary="Too late")
    malformed = await sandbox.act("move", calendar_id=user.primary, event_id="meeting-1", start="soon")
    backwards = await sandbox.act(
        "move",
        calendar_id=user.primary,
        event_id=await dentist_uid(sandbox, user),
        start="2023-11-21T10:00:00Z",
        end="2023-11-21T09:00:00Z",
    )
    bad_status = await sandbox.act(
        "respond", calendar_id=user.primary, event_id="meeting-1", email=PROFILE, status="maybe"
    )
    unknown_sub = await sandbox.act("disconnect", sub="acc_000000000000000000000000")

    assert (unknown_calendar.status_code, unknown_event.status_code, stranger.status_code) == (404, 404, 404)
    assert "error" in unknown_event.json()
    assert deleted.status_code == 409
    assert (malformed.status_code, backwards.status_code, bad_status.status_code) == (400, 400, 400)
    assert unknown_sub.status_code == 404


async def test_the_owner_answering_sets_the_participation_status(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    uid = await dentist_uid(sandbox, user)

    answered = await sandbox.act(
        "respond", calendar_id=user.primary, event_uid=uid, email=PROFILE.upper(), status="tentative"
    )
    read = await user.http.get("v1/events", params={"tzid": "Etc/UTC"}, headers=user.headers)

    assert answered.status_code == 200
    assert read.json()["events"][0]["participation_status"] == "tentative"


# -- disconnected profiles -------------------------------------------------------------------


async def test_a_disconnected_profile_is_pushed_locked_and_relinked_by_consent(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    await user.upsert()
    channel = await open_channel(sandbox, user, calendar_ids=[user.calendars["Work"]], only_managed=True)

    disconnected = await sandbox.act("disconnect", sub=user.sub)
    again = await sandbox.act("disconnect", sub=user.sub)
    upsert, delete = await user.upsert(summary="Locked"), await user.delete()
    read = await user.changed_since("2023-11-01T00:00:00Z")
    calendars = await user.http.get("v1/calendars", headers=user.headers)
    profiles = (await user.http.get("v1/profiles", headers=user.headers)).json()
    userinfo = (await user.http.get("v1/userinfo", headers=user.headers)).json()
    relinked = await link(sandbox.http)  # the same provider and profile, through the consent page
    after = await relinked.upsert(summary="Unlocked")
    profiles_after = (await relinked.http.get("v1/profiles", headers=relinked.headers)).json()

    [record] = disconnected.json()["pushes"]  # every channel hears of it, whatever its filters
    assert (record["channel_id"], record["status"]) == (channel["channel_id"], 200)
    assert notification(record) == {"type": "profile_disconnected"}
    assert sandbox.receiver.received[-1].body == record["body"].encode()
    assert again.json()["pushes"] == []
    for locked in (upsert, delete, read):
        assert (locked.status_code, locked.content) == (423, b"")
    assert calendars.status_code == 200
    [profile] = profiles["profiles"]
    assert (profile["profile_connected"], profile["provider_service"]) == (False, "google")
    relink_url = urlsplit(profile["profile_relink_url"])
    assert (relink_url.netloc, relink_url.path) == (urlsplit(str(sandbox.http.base_url)).netloc, "/relink/google")
    assert dict(parse_qsl(relink_url.query)) == {"email": PROFILE}
    assert userinfo["sub"] == user.sub and userinfo["cronofy.type"] == "account"
    [info] = userinfo["cronofy.data"]["profiles"]
    assert (info["profile_connected"], info["profile_relink_url"]) == (False, profile["profile_relink_url"])
    assert len(info["profile_calendars"]) == 3
    assert relinked.sub == user.sub
    assert after.status_code == 202
    assert profiles_after["profiles"][0]["profile_connected"] is True
    assert "profile_relink_url" not in profiles_after["profiles"][0]


async def test_changes_made_while_disconnected_are_pushed_after_the_relink_page(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    await user.upsert()
    channel = await open_channel(sandbox, user, only_managed=True)
    await sandbox.act("disconnect", sub=user.sub)
    received_before = len(sandbox.receiver.received)
    sandbox.clock.advance(60)

    unseen = await sandbox.act("edit", calendar_id=user.primary, event_id="meeting-1", summary="While away")
    sandbox.clock.advance(60)
    relink_url = (await user.http.get("v1/profiles", headers=user.headers)).json()["profiles"][0]["profile_relink_url"]
    page = await sandbox.http.get(relink_url)
    reconnected = await sandbox.http.post(relink_url)
    [pushed] = (await sandbox.receiver.wait_for(received_before + 1))[received_before:]

    assert unseen.status_code == 200 and unseen.json()["pushes"] == []
    assert page.status_code == 200 and "Reconnect" in page.text
    assert reconnected.status_code == 200
    assert pushed.json == {
        "notification": {"type": "change", "changes_since": "2023-11-14T22:14:20Z"},
        "channel": channel,
    }
    read = await user.changed_since("2023-11-14T22:14:20Z")
    assert [e["summary"] for e in read.json()["events"]] == ["While away"]


# -- arbitrary pushes, revocation, reset ----------------------------------------------------


async def test_any_notification_type_can_be_pushed_to_a_channel(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    channel = await open_channel(sandbox, user)
    sandbox.clock.advance(5)

    synced = await sandbox.http.post(
        "_control/push", json={"channel_id": channel["channel_id"], "type": "profile_initial_sync_completed"}
    )
    novel = await sandbox.http.post(
        "_control/push", json={"channel_id": channel["channel_id"], "type": "something_new_from_cronofy"}
    )
    change = await sandbox.http.post("_control/push", json={"channel_id": channel["channel_id"], "type": "change"})
    given = await sandbox.http.post(
        "_control/push",
        json={"channel_id": channel["channel_id"], "type": "change", "changes_since": "2023-01-01T00:00:00Z"},
    )
    unknown = await sandbox.http.post("_control/push", json={"channel_id": "chn_nope", "type": "change"})

    bodies = [json.loads(r.json()["pushes"][0]["body"]) for r in (synced, novel, change, given)]
    assert [b["notification"] for b in bodies] == [
        {"type": "profile_initial_sync_completed"},
        {"type": "something_new_from_cronofy"},
        {"type": "change", "changes_since": "2023-11-14T22:13:25Z"},
        {"type": "change", "changes_since": "2023-01-01T00:00:00Z"},
    ]
    assert all(b["channel"] == channel for b in bodies)
    assert [p.json["notification"]["type"] for p in sandbox.receiver.received[1:]] == [
        "profile_initial_sync_completed",
        "something_new_from_cronofy",
        "change",
        "change",
    ]
    assert unknown.status_code == 404


async def test_revoking_the_authorization_closes_the_accounts_channels(sandbox: Sandbox) -> None:
    by_token = await link(sandbox.http)
    by_sub = await link(sandbox.http, profile="second@example.com")
    bystander = await link(sandbox.http, profile="bystander@example.com")
    for user in (by_token, by_sub, bystander):
        await open_channel(sandbox, user, f"/{user.sub}")
    revoke = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}

    await sandbox.http.post("oauth/token/revoke", json={**revoke, "token": by_token.refresh_token})
    await sandbox.http.post("oauth/token/revoke", json={**revoke, "sub": by_sub.sub})
    state = (await sandbox.http.get("_control/state")).json()
    acted = await sandbox.act(
        "edit", calendar_id=by_token.primary, event_id=await dentist_uid(sandbox, by_token), summary="Nobody listens"
    )

    channels = {account["sub"]: account["channels"] for account in state["accounts"]}
    assert channels[by_token.sub] == [] and channels[by_sub.sub] == []
    assert len(channels[bystander.sub]) == 1
    assert acted.json()["pushes"] == []


async def test_a_second_authorization_keeps_the_channels_when_the_first_is_revoked(sandbox: Sandbox) -> None:
    first = await link(sandbox.http)
    second = await link(sandbox.http)  # the same account authorized again
    await open_channel(sandbox, first)

    await sandbox.http.post(
        "oauth/token/revoke",
        json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "token": first.refresh_token},
    )

    assert len(await second.channels()) == 1


async def test_reset_clears_channels_and_pushes(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    await open_channel(sandbox, user)
    await sandbox.configure(signing_secrets=["temporary"], push_drops=3)

    state = (await sandbox.http.get("_control/state")).json()
    await sandbox.http.post("_control/reset")
    relinked = await link(sandbox.http)
    await open_channel(sandbox, relinked)
    [record] = await sandbox.pushes()

    assert [c["callback_url"] for c in state["accounts"][0]["channels"]] == [sandbox.receiver.url()]
    assert state["accounts"][0]["profile_connected"] is True
    assert (record["status"], record["hmac"].count(",")) == (200, 0)  # default secret, no drops any more
    assert record["hmac"] == expected_hmac(record["body"].encode(), CLIENT_SECRET)


async def test_clearing_pushes_and_checking_push_settings(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    await open_channel(sandbox, user)

    cleared = await sandbox.http.delete("_control/pushes")
    bad = [
        await sandbox.http.post("_control/config", json=settings)
        for settings in (
            {"signing_secrets": []},
            {"signing_secrets": ["ok", ""]},
            {"signing_secrets": "s"},
            {"push_drops": -1},
            {"push_duplicates": 1.5},
            {"push_timeout": 0},
        )
    ]
    bad_wait = await sandbox.http.get("_control/pushes", params={"wait": "forever"})

    assert cleared.json() == {"cleared": 1}
    assert await sandbox.pushes() == []
    assert {response.status_code for response in bad} == {400}
    assert bad_wait.status_code == 400


# -- mounted inside another application ---------------------------------------------------


async def test_pushes_work_when_mounted_as_a_sub_app() -> None:
    clock = FakeClock(START)
    sandbox = sandbox_app(clock)
    parent = web.Application()
    parent.add_subapp("/sandbox/cronofy", sandbox)

    async with receiving() as receiver:
        async with serving(parent, "/sandbox/cronofy/") as http:
            assert sandbox[SANDBOX_PUSHER].running
            user = await link(http)
            await user.upsert()
            created = await user.create_channel(receiver.url(), only_managed=True)
            [verification] = await receiver.wait_for(1)
            acted = await http.post(
                "_control/act/move",
                json={
                    "calendar_id": user.primary,
                    "event_id": "meeting-1",
                    "start": "2023-11-22T10:00:00Z",
                    "end": "2023-11-22T11:00:00Z",
                },
            )
            profiles = (await http.get("v1/profiles", headers=user.headers)).json()
            await http.post("_control/act/disconnect", json={"sub": user.sub})
            relink_url = (await http.get("v1/profiles", headers=user.headers)).json()["profiles"][0]
            await assert_pushes_stayed_on_loopback(http)
        assert not sandbox[SANDBOX_PUSHER].running  # the sub-app's clean-up closed the session

    assert created.status_code == 200
    assert verification.json["notification"] == {"type": "verification"}
    [record] = acted.json()["pushes"]
    assert (record["status"], notification(record)["type"]) == (200, "change")
    assert receiver.received[1].body == record["body"].encode()
    assert receiver.received[2].json["notification"] == {"type": "profile_disconnected"}
    assert profiles["profiles"][0]["profile_connected"] is True
    assert urlsplit(relink_url["profile_relink_url"]).path == "/sandbox/cronofy/relink/google"
