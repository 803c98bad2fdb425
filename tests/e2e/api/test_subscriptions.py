"""Live updates: GraphQL subscriptions over a real WebSocket on loopback, speaking graphql-transport-ws as
Apollo's GraphQLWsLink and urql's subscriptionExchange (the graphql-ws client) do (issue 14, item 2).

Two server apps over one database stand for two server processes sharing MongoDB: a change made through one
(or by its worker) reaches a subscriber of the other through the change feed."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import WSMsgType, WSServerHandshakeError
from aiohttp.test_utils import TestClient, TestServer

from gql_api import Settings, create_app
from gql_api.keys import RUNTIME
from tests.support.api import JWT_SECRET, Api
from tests.support.documents import CANCEL, RESPOND, SCHEDULE, UNLINK, UPDATE
from tests.support.factories import link_account, schedule
from tests.support.live import (
    CONNECTION_CHANGED,
    MEETING_CHANGED,
    PROTOCOL,
    LiveSocket,
    live_socket,
    subscribed,
    token_payload,
)
from tests.support.sandbox import calendar_events

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
async def other_server(settings, database, clock):
    """A second server process over the same database: its own app, feed follower, worker and sockets."""
    app = create_app(settings, database=database, clock=clock)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield Api(client, settings)


async def serving(settings: Settings, database, clock):
    return TestClient(TestServer(create_app(settings, database=database, clock=clock), host="127.0.0.1"))


def kinds(messages: list[dict[str, Any]], field: str = "meetingChanged") -> list[str]:
    return [message["data"][field]["kind"] for message in messages]


# --- the protocol ---------------------------------------------------------------------------------------------


async def test_init_ack_subscribe_next_and_complete(api, sandbox):
    await link_account(api, user="alice", profile_name="alice@example.test")
    await link_account(api, user="bob", profile_name="bob@example.test")
    async with live_socket(api.client) as bob:
        # given a socket acknowledged with Bob's token, as graphql-ws sends it (connectionParams)
        assert await bob.init(token_payload(api.token("bob"))) == {"type": "connection_ack"}
        await bob.subscribe("1", MEETING_CHANGED)
        await subscribed(api.client.app, "bob")

        # when Alice schedules a meeting with him (both calendars answer at once)
        meeting = await schedule(api)

        # then Bob hears of it, as he may see it, and of its calendar copies' sync status
        scheduled, synced = await bob.next("1"), await bob.next("1")
        assert kinds([scheduled, synced]) == ["SCHEDULED", "SYNC_STATUS"]
        change = synced["data"]["meetingChanged"]
        assert change["meetingId"] == meeting["id"] == change["meeting"]["id"]
        assert {p["email"]: p["calendarEvent"]["status"] for p in change["meeting"]["participants"]} == {
            "alice@example.test": "SYNCED",
            "bob@example.test": "SYNCED",
        }

        # when he completes the subscription
        await bob.send({"id": "1", "type": "complete"})
        await bob.nothing_more()

        # then it no longer runs, and the socket stays open (and counted) until he closes it
        assert api.client.app[RUNTIME].services.live.subscriptions == 0
        assert api.client.app[RUNTIME].services.live.sockets == 1
    await asyncio.sleep(0.05)
    assert api.client.app[RUNTIME].services.live.sockets == 0


async def test_a_server_completes_nothing_on_its_own_and_answers_client_pings(api):
    async with live_socket(api.client, api.token("alice")) as alice:
        await alice.subscribe("1", MEETING_CHANGED)
        await subscribed(api.client.app, "alice")

        await alice.send({"type": "ping", "payload": {"at": 1}})

        assert await alice.receive() == {"type": "pong"}


async def test_the_server_pings_at_the_websocket_level_for_proxies(settings, database, clock):
    quick = dataclasses.replace(settings, websocket_heartbeat_seconds=0.1)
    async with await serving(quick, database, clock) as client:
        api = Api(client, quick)
        async with client.ws_connect("/graphql", protocols=[PROTOCOL], autoping=False) as ws:
            await ws.send_str(json.dumps({"type": "connection_init", "payload": token_payload(api.token("alice"))}))
            assert json.loads((await ws.receive(timeout=2)).data) == {"type": "connection_ack"}

            ping = await ws.receive(timeout=2)

            assert ping.type == WSMsgType.PING
            await ws.pong(ping.data)


async def test_every_message_of_a_meetings_life_reaches_its_participants(api, sandbox):
    await link_account(api, user="alice", profile_name="alice@example.test")
    await link_account(api, user="bob", profile_name="bob@example.test")
    meeting = await schedule(api)
    async with live_socket(api.client, api.token("alice")) as alice, live_socket(api.client, api.token("bob")) as bob:
        for socket in (alice, bob):
            await socket.subscribe("m", MEETING_CHANGED, {"id": meeting["id"]})
        await subscribed(api.client.app, "alice")
        await subscribed(api.client.app, "bob")

        # when Alice moves it, Bob answers, and Alice cancels it
        await api.data(UPDATE, {"input": {"meetingId": meeting["id"], "title": "Moved"}})
        await api.data(RESPOND, {"input": {"meetingId": meeting["id"], "response": "TENTATIVE"}}, user="bob")
        await api.data(CANCEL, {"input": {"meetingId": meeting["id"]}})

        # then both hear each step in order, the calendars catching up after each change (an answer changes
        # no calendar here: Bob has his own copy). A change saying the same as one the reader has not read yet
        # (the first SYNC_STATUS, when the feed was read after the last) takes its place at the end: what comes
        # last is the meeting as it is now.
        for socket in (alice, bob):
            heard = [await socket.next("m") for _ in range(4)]
            if kinds(heard)[1] == "SYNC_STATUS":
                heard = [heard[0], *heard[2:], await socket.next("m")]
            assert kinds(heard) == ["UPDATED", "RESPONDED", "CANCELLED", "SYNC_STATUS"]
            last = heard[-1]["data"]["meetingChanged"]["meeting"]
            assert last["status"] == "CANCELLED" and {p["calendarEvent"]["status"] for p in last["participants"]} == {
                "SYNCED"
            }


async def test_a_query_or_a_mutation_over_the_socket_is_refused(api):
    async with live_socket(api.client, api.token("alice")) as alice:
        await alice.subscribe("q", "query { calendarConnections { id } }")

        message = await alice.receive()

        assert message["type"] == "error" and message["id"] == "q"
        assert message["payload"][0]["message"] == "queries are not allowed"


async def test_subscribing_before_connection_init_closes_the_socket_with_4401(api):
    async with live_socket(api.client) as socket:
        await socket.subscribe("1", MEETING_CHANGED)

        assert (await socket.closed()).code == 4401


# --- authentication --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        lambda token: {"authorization": f"Bearer {token}"},  # Apollo's docs, urql's examples
        lambda token: {"Authorization": f"bearer {token}"},
        lambda token: {"token": token},
        lambda token: {"authToken": token},
        lambda token: {"headers": {"Authorization": f"Bearer {token}"}},
    ],
    ids=["authorization", "Authorization", "token", "authToken", "headers"],
)
async def test_the_token_is_accepted_in_the_shapes_clients_send(api, payload):
    async with live_socket(api.client) as socket:
        assert await socket.init(payload(api.token("alice"))) == {"type": "connection_ack"}


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (None, "Authentication required"),
        ({}, "Authentication required"),
        ({"Authorization": "Bearer not-a-token"}, "The bearer token is invalid."),
        ({"Authorization": "Basic YWxpY2U6c2VjcmV0"}, "Authorization header must be 'Bearer <token>'."),
    ],
)
async def test_a_socket_without_a_good_token_is_refused_with_4403(api, payload, reason):
    async with live_socket(api.client) as socket:
        await socket.send({"type": "connection_init", **({"payload": payload} if payload is not None else {})})

        closed = await socket.closed()

        assert closed.code == 4403 and closed.reason.startswith(reason)
    assert api.client.app[RUNTIME].services.live.sockets == 0


def token_expiring(user: str, *, in_seconds: float) -> str:
    """A token whose `exp` lies 30 s (the clock skew allowed) before the moment it is refused."""
    now = int(time.time())
    return jwt.encode({"sub": user, "iat": now - 60, "exp": now - 30 + in_seconds}, JWT_SECRET, algorithm="HS256")


async def test_an_expired_token_is_refused_and_one_that_expires_closes_the_socket(api):
    async with live_socket(api.client) as socket:
        await socket.send({"type": "connection_init", "payload": token_payload(token_expiring("alice", in_seconds=-5))})
        assert (await socket.closed()).code == 4403

    async with live_socket(api.client, token_expiring("alice", in_seconds=1)) as alice:
        await alice.subscribe("1", MEETING_CHANGED)
        await subscribed(api.client.app, "alice")

        closed = await alice.closed(timeout=5)

        assert (closed.code, closed.reason) == (4403, "The bearer token has expired.")
    await asyncio.sleep(0.05)
    live = api.client.app[RUNTIME].services.live
    assert (live.sockets, live.subscriptions) == (0, 0)


# --- across processes ------------------------------------------------------------------------------------------


async def test_a_change_made_through_one_server_reaches_a_subscriber_of_another(api, other_server, sandbox):
    await link_account(api, user="alice", profile_name="alice@example.test")
    await link_account(api, user="bob", profile_name="bob@example.test")
    async with live_socket(other_server.client, api.token("bob")) as bob:
        await bob.subscribe("1", MEETING_CHANGED)
        await bob.subscribe("2", CONNECTION_CHANGED)
        await subscribed(other_server.client.app, "bob", 2)

        # when Alice schedules through the first server, and Bob unlinks there
        meeting = await schedule(api)
        [connection] = (await api.data("{ calendarConnections { id } }", user="bob"))["calendarConnections"]
        await api.data(UNLINK, {"input": {"connectionId": connection["id"]}}, user="bob")

        # then Bob, on the second, hears of both
        heard = [await bob.receive() for _ in range(3)]
        by_id = {message["id"]: [] for message in heard}
        for message in heard:
            by_id[message["id"]].append(message["payload"])
        assert kinds(by_id["1"]) == ["SCHEDULED", "SYNC_STATUS"]
        assert by_id["1"][0]["data"]["meetingChanged"]["meetingId"] == meeting["id"]
        unlinked = {"kind": "UNLINKED", "connectionId": connection["id"], "connection": None}
        assert by_id["2"] == [{"data": {"calendarConnectionChanged": unlinked}}]


async def test_a_change_made_by_one_servers_worker_reaches_a_subscriber_of_another(api, other_server, sandbox, clock):
    await link_account(api, user="alice", profile_name="alice@example.test")
    await link_account(api, user="bob", profile_name="bob@example.test")
    # given Cronofy failing the calendar writes once: the meeting is scheduled with its copies pending
    await sandbox.fault(path="/v1/calendars/", method="POST", status=503, times=2)
    meeting = await schedule(api)
    assert {p["calendarEvent"]["status"] for p in meeting["participants"]} == {"PENDING"}
    async with live_socket(other_server.client, api.token("bob")) as bob:
        await bob.subscribe("1", MEETING_CHANGED, {"id": meeting["id"]})
        await subscribed(other_server.client.app, "bob")

        # when the first server's worker writes them, once they are due again
        clock.advance(minutes=1)
        assert (await api.work("calendar writes"))["calendar writes"] == 1

        # then Bob, subscribed on the second, sees them synced
        change = (await bob.next("1"))["data"]["meetingChanged"]
        assert change["kind"] == "SYNC_STATUS"
        assert {p["calendarEvent"]["status"] for p in change["meeting"]["participants"]} == {"SYNCED"}


async def test_calendar_connection_changes_reach_their_owner(api, other_server, sandbox, clock):
    async with live_socket(other_server.client, api.token("alice")) as alice:
        await alice.subscribe("c", CONNECTION_CHANGED)
        await subscribed(other_server.client.app, "alice")

        linked = await link_account(api, user="alice", profile_name="alice@example.test")
        clock.advance(seconds=1)
        again = await link_account(api, user="alice", profile_name="alice@example.test")
        sub = next(a["sub"] for a in (await sandbox.state())["accounts"] if a["profile_name"] == "alice@example.test")
        await sandbox.http.post(f"{sandbox.url}/_control/act/disconnect", json={"sub": sub})

        heard = [(await alice.next("c"))["data"]["calendarConnectionChanged"] for _ in range(3)]
        assert [(change["kind"], change["connectionId"]) for change in heard] == [
            ("LINKED", linked["id"]),
            ("RELINKED", linked["id"]),
            ("NEEDS_RELINK", linked["id"]),
        ]
        assert again["id"] == linked["id"] and heard[2]["connection"]["status"] == "NEEDS_RELINK"


async def test_a_change_made_in_a_calendar_is_heard_and_the_calendar_reads_as_synced(api, sandbox):
    await link_account(api, user="alice", profile_name="alice@example.test")
    bobs_connection = await link_account(api, user="bob", profile_name="bob@example.test")
    meeting = await schedule(api)
    async with live_socket(api.client, api.token("bob")) as bob:
        await bob.subscribe("c", CONNECTION_CHANGED)
        await bob.subscribe("m", MEETING_CHANGED)
        await subscribed(api.client.app, "bob", 2)

        # when Bob deletes his copy in his calendar (the sandbox pushes; the API reads his calendar)
        copy = (await calendar_events(sandbox))["bob@example.test"]
        response = await sandbox.http.post(
            f"{sandbox.url}/_control/act/delete",
            json={"calendar_id": copy["calendar_id"], "event_id": copy["event_id"]},
        )
        assert response.status_code == 200

        # then he hears that he declined, then that his calendar was read
        declined, synced = (await bob.next("m"))["data"], (await bob.next("c"))["data"]
        assert declined["meetingChanged"]["kind"] == "RESPONDED"
        assert declined["meetingChanged"]["meetingId"] == meeting["id"]
        bob_seat = next(
            p for p in declined["meetingChanged"]["meeting"]["participants"] if p["email"] == "bob@example.test"
        )
        assert bob_seat["response"] == "DECLINED"
        change = synced["calendarConnectionChanged"]
        assert (change["kind"], change["connectionId"]) == ("SYNCED", bobs_connection["id"])
        assert change["connection"]["lastSyncedAt"] is not None


# --- nobody hears of what is not theirs -----------------------------------------------------------------------


async def test_a_user_never_receives_another_users_change(api, other_server, sandbox):
    await link_account(api, user="alice", profile_name="alice@example.test")
    await link_account(api, user="bob", profile_name="bob@example.test")
    meeting = await schedule(api)
    async with (
        live_socket(other_server.client, api.token("bob")) as bob,
        live_socket(other_server.client, api.token("carol")) as carol,
    ):
        # given Carol subscribed to every change of hers, and to Alice and Bob's meeting by its id
        await carol.subscribe("all", MEETING_CHANGED)
        await carol.subscribe("theirs", MEETING_CHANGED, {"id": meeting["id"]})
        await carol.subscribe("connections", CONNECTION_CHANGED)
        await bob.subscribe("m", MEETING_CHANGED)
        await subscribed(other_server.client.app, "carol", 3)
        await subscribed(other_server.client.app, "bob")

        # when Alice changes the meeting and links another calendar, and Bob answers
        await api.data(UPDATE, {"input": {"meetingId": meeting["id"], "title": "Just us"}})
        await link_account(api, user="alice", profile_name="alice.work@example.test")
        await api.data(RESPOND, {"input": {"meetingId": meeting["id"], "response": "ACCEPTED"}}, user="bob")

        # then Bob hears of it all, and Carol of nothing
        heard = [await bob.next("m") for _ in range(3)]
        assert "RESPONDED" in kinds(heard)
        await carol.nothing_more()


# --- limits ----------------------------------------------------------------------------------------------------


async def test_beyond_a_users_limit_a_subscription_gets_an_error_and_a_socket_is_closed(settings, database, clock):
    strict = dataclasses.replace(settings, subscriptions_per_user=2)
    async with await serving(strict, database, clock) as client:
        api = Api(client, strict)
        async with live_socket(client, api.token("alice")) as first, live_socket(client, api.token("alice")):
            # given Alice with two subscriptions (her limit)
            await first.subscribe("1", MEETING_CHANGED)
            await first.subscribe("2", CONNECTION_CHANGED)
            await subscribed(client.app, "alice", 2)

            # when she asks for a third: an error for it, the socket and the others go on
            await first.subscribe("3", MEETING_CHANGED)
            error = await first.receive()
            assert (error["type"], error["id"]) == ("error", "3")
            assert error["payload"][0]["extensions"] == {
                "code": "SUBSCRIPTION_LIMIT_REACHED",
                "scope": "user",
                "limit": 2,
            }
            await first.nothing_more()

            # when she opens a third socket: closed at connection_init (1008, not retried by graphql-ws)
            async with live_socket(client) as third:
                await third.send({"type": "connection_init", "payload": token_payload(api.token("alice"))})
                closed = await third.closed()
                assert closed.code == 1008 and "2 live connections" in closed.reason

            # and Bob is not held back by Alice's limit
            async with live_socket(client, api.token("bob")) as bob:
                await bob.subscribe("1", MEETING_CHANGED)
                await subscribed(client.app, "bob")


async def test_beyond_the_process_limit_a_socket_is_asked_to_try_again_later(settings, database, clock):
    small = dataclasses.replace(settings, subscriptions_per_process=2)
    async with await serving(small, database, clock) as client:
        api = Api(client, small)
        async with live_socket(client, api.token("alice")) as alice, live_socket(client, api.token("bob")) as bob:
            await alice.subscribe("1", MEETING_CHANGED)
            await bob.subscribe("1", MEETING_CHANGED)
            await subscribed(client.app, "bob")

            async with live_socket(client) as carol:
                await carol.send({"type": "connection_init", "payload": token_payload(api.token("carol"))})
                assert (await carol.closed()).code == 1013  # graphql-ws connects again later

            await alice.subscribe("2", CONNECTION_CHANGED)
            error = await alice.receive()
            assert error["payload"][0]["extensions"]["scope"] == "process"


# --- origins ---------------------------------------------------------------------------------------------------


async def test_a_page_on_an_origin_not_allowed_cannot_open_a_socket(settings, database, clock):
    cors = dataclasses.replace(settings, cors_allowed_origins=("https://app.mentoring.example",))
    async with await serving(cors, database, clock) as client:
        api = Api(client, cors)
        with pytest.raises(WSServerHandshakeError) as refused:
            async with live_socket(client, origin="https://evil.example"):
                pass
        assert refused.value.status == 403

        async with live_socket(client, api.token("alice"), origin="https://app.mentoring.example") as allowed:
            await allowed.nothing_more()


async def test_in_the_development_shape_pages_on_loopback_origins_may_open_sockets(database, clock, api_port):
    settings = Settings(public_base_url=f"http://127.0.0.1:{api_port}", worker_enabled=False)
    assert settings.development
    app = create_app(settings, database=database, clock=clock)
    async with TestClient(TestServer(app, host="127.0.0.1", port=api_port)) as client:
        token = Api(client, settings).token("alice")
        async with live_socket(client, token, origin="http://localhost:3000") as spa:
            await spa.nothing_more()
        with pytest.raises(WSServerHandshakeError):
            async with live_socket(client, origin="http://evil.example"):
                pass


# --- trusted documents -----------------------------------------------------------------------------------------


async def test_with_trusted_documents_only_the_manifests_subscriptions_run(settings, database, clock, tmp_path):
    manifest = tmp_path / "persisted-documents.json"
    manifest.write_text(json.dumps({"meeting-changed": MEETING_CHANGED, "schedule": SCHEDULE}))
    trusted = dataclasses.replace(settings, graphql_trusted_documents=str(manifest))
    async with await serving(trusted, database, clock) as client:
        api = Api(client, trusted)
        async with live_socket(client, api.token("alice")) as alice:
            # by its id (a subscribe message with no query, as Relay's persisted queries send it), or its text
            await alice.subscribe("1", documentId="meeting-changed")
            await alice.subscribe("2", MEETING_CHANGED)
            await subscribed(client.app, "alice", 2)

            # but not another document, nor an id the manifest does not hold
            await alice.subscribe("3", CONNECTION_CHANGED)
            await alice.subscribe("4", doc_id="nope")
            refused = [await alice.receive() for _ in range(2)]

            assert [(m["id"], m["type"], m["payload"][0]["extensions"]["code"]) for m in refused] == [
                ("3", "error", "TRUSTED_DOCUMENTS_ONLY"),
                ("4", "error", "PERSISTED_QUERY_NOT_FOUND"),
            ]
            await schedule(api)
            heard = {
                (m["id"], m["payload"]["data"]["meetingChanged"]["kind"])
                for m in [await alice.receive() for _ in range(2)]
            }
            assert heard == {("1", "SCHEDULED"), ("2", "SCHEDULED")}


async def test_sockets_open_when_the_server_stops_are_told_it_goes_away(settings, database, clock):
    server = TestServer(create_app(settings, database=database, clock=clock), host="127.0.0.1")
    await server.start_server()
    token = Api(None, settings).token("alice")  # type: ignore[arg-type]
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(server.make_url("/graphql"), protocols=[PROTOCOL]) as ws,
    ):
        alice = LiveSocket(ws)
        assert await alice.init(token_payload(token)) == {"type": "connection_ack"}
        await alice.subscribe("1", MEETING_CHANGED)
        await subscribed(server.app, "alice")

        stopping = asyncio.create_task(server.close())
        closed = await alice.closed()

        assert (closed.code, closed.reason) == (1001, "The server is shutting down.")
        await stopping
