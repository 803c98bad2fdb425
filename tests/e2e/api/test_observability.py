"""Request ids, the JSON access line, Prometheus metrics, and a graceful shutdown."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging

import httpx
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gql_api import Settings, create_app
from gql_api.observability.access_log import AccessLogger
from gql_api.observability.logging import JsonFormatter
from tests.support.api import CLIENT_ID, CLIENT_SECRET, JWT_SECRET, KEYS, REDIRECT_URI, Api
from tests.support.documents import SCHEDULE
from tests.support.factories import deliveries, link_account, meeting_input, schedule
from tests.support.sandbox import sandbox_app, serving


async def test_every_answer_carries_a_request_id_and_a_good_incoming_one_is_kept(api):
    fresh = await api.client.get("/healthz")
    kept = await api.client.get("/healthz", headers={"X-Request-ID": "trace-0123456789"})
    junk = await api.client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})

    assert len(fresh.headers["X-Request-ID"]) == 32
    assert kept.headers["X-Request-ID"] == "trace-0123456789"
    assert junk.headers["X-Request-ID"] != "bad id with spaces"


async def test_one_json_access_line_per_request_without_query_strings(settings, database, clock, caplog):
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    server = TestServer(create_app(settings, database=database, clock=clock), host="127.0.0.1")
    await server.start_server(access_log_class=AccessLogger)
    try:
        async with httpx.AsyncClient() as http:
            response = await http.get(str(server.make_url("/healthz?code=secret-code&state=secret-state")))
            await http.post(str(server.make_url("/webhooks/cronofy/secret-channel-token")), content=b"{}")
            await http.post(
                str(server.make_url("/graphql")),
                json={
                    "query": "query StatusPoll($x: String) { calendarConnections { id } }",
                    "variables": {"x": "secret-variable"},
                },
                headers={"Authorization": f"Bearer {Api(None, settings).token('alice')}"},
            )
        request_id = response.headers["X-Request-ID"]
    finally:
        await server.close()

    record, webhook, graphql = [r for r in caplog.records if r.name == "aiohttp.access"]
    assert json.loads(JsonFormatter().format(webhook))["path"] == "/webhooks/cronofy/{token}"
    assert json.loads(JsonFormatter().format(graphql))["operation"] == "StatusPoll"
    assert "secret" not in JsonFormatter().format(graphql)
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == request_id and line["status"] == 200 and line["path"] == "/healthz"
    assert isinstance(line["duration_ms"], float) and line["level"] == "INFO"
    assert "secret" not in json.dumps(line)


async def test_metrics_count_cronofy_calls_refreshes_webhooks_and_the_outbox(api, sandbox, clock):
    await link_account(api, user="alice", profile_name="alice@example.test")
    await link_account(api, user="bob", profile_name="bob@example.test")
    await schedule(api)
    await sandbox.fault(path="/v1/calendars/", status=503, times=2)
    await schedule(api, title="Pending")
    await sandbox.http.post(f"{sandbox.url}/_control/expire-tokens", json={})
    clock.advance(minutes=1)
    await api.work("calendar writes")

    response = await api.client.get("/metrics")
    text = await response.text()

    assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
    assert 'cronofy_calls_total{endpoint="events.upsert",purpose="event_write",status="202"}' in text
    assert 'cronofy_calls_total{endpoint="token",purpose="linking",status="200"}' in text  # the code exchange
    assert 'cronofy_calls_total{endpoint="token",purpose="refresh",status="200"}' in text
    assert 'status="503"' in text
    assert 'cronofy_token_refreshes_total{result="refreshed"}' in text
    assert 'cronofy_webhooks_total{status="200",type="verification"}' in text
    assert "outbox_pending_meetings 0.0" in text
    assert "cal_" not in text  # calendar ids never become label values


async def test_shutdown_finishes_the_request_in_flight_and_hands_back_the_lease(
    settings, database, sandbox, clock, api_port
):
    slow = dataclasses.replace(settings, sync_grace_seconds=1.0)
    runner = web.AppRunner(create_app(slow, database=database, clock=clock), shutdown_timeout=5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", api_port).start()
    base = f"http://127.0.0.1:{api_port}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        api = Api(_Client(http), settings)
        await link_account(api, user="alice", profile_name="alice@example.test")
        await sandbox.fault(path="/v1/calendars/", method="POST", delay_seconds=3.0)

        # given a scheduleMeeting in flight whose calendar write is slow
        in_flight = asyncio.create_task(
            http.post(
                "/graphql",
                json={
                    "query": SCHEDULE,
                    "variables": {"input": meeting_input(participants=[{"email": "dave@example.test"}])},
                },
                headers={"Authorization": f"Bearer {api.token('alice')}"},
            )
        )
        await asyncio.sleep(0.3)

        # when the server is told to stop
        await runner.cleanup()

        # then the request still got its whole answer
        answer = (await in_flight).json()["data"]["scheduleMeeting"]
    assert answer["userErrors"] == []
    assert {s for _, s in deliveries(answer["meeting"]).values()} == {"PENDING"}
    # and the lease its background write held was handed back, due at once for the next worker
    meeting = await database["meetings"].find_one({})
    assert meeting["lease_owner"] is None and meeting["sync_due_at"] is not None


class _Client:
    """The few TestClient methods tests.support.api.Api uses, over a plain httpx client (for a real runner)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def post(self, path, json=None, headers=None):
        return _Response(await self._http.post(path, json=json, headers=headers))


class _Response:
    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status = response.status_code
        self.headers = response.headers

    async def text(self) -> str:
        return self._response.text


async def test_graphql_operations_are_counted_by_name_and_outcome_and_named_in_the_access_line(api, caplog):
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    await api.data("query StatusPoll { calendarConnections { id } }")
    await api.gql("query Broken { calendarConnections { nope } }")
    await api.gql("{ calendarConnections { id } }")

    text = await (await api.client.get("/metrics")).text()

    assert 'graphql_requests_total{operation="StatusPoll",outcome="ok"} 1.0' in text
    assert 'graphql_requests_total{operation="Broken",outcome="error"} 1.0' in text
    assert 'graphql_requests_total{operation="anonymous",outcome="ok"} 1.0' in text
    assert 'graphql_request_seconds_count{operation="StatusPoll"} 1.0' in text


async def test_metrics_labels_come_from_fixed_sets_even_when_cronofys_url_has_a_path(database, clock, api_port):
    """Issue 12 item 13: with the Cronofy base URL under a path (the sandbox mounted at /sandbox/cronofy,
    a proxy in front of Cronofy), raw paths with calendar ids in them became label values."""
    outer = web.Application()
    sandbox = sandbox_app(clock, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=(REDIRECT_URI,))
    outer.add_subapp("/sandbox/cronofy", sandbox)
    async with serving(outer, "/sandbox/cronofy/") as http:
        url = str(http.base_url).rstrip("/")
        settings = Settings(
            public_base_url=f"http://127.0.0.1:{api_port}",
            cronofy_client_id=CLIENT_ID,
            cronofy_client_secret=CLIENT_SECRET,
            cronofy_api_url=url,
            cronofy_app_url=url,
            cronofy_max_attempts=1,
            token_encryption_keys=KEYS,
            auth_jwt_secret=JWT_SECRET,
            allowed_redirect_uris=(REDIRECT_URI,),
            worker_enabled=False,
            cronofy_rate_per_second=100_000,  # the test's clock stands still: a window would never end
            cronofy_rate_per_minute=1_000_000,
        )
        app = create_app(settings, database=database, clock=clock)
        async with TestClient(TestServer(app, host="127.0.0.1", port=api_port)) as client:
            api = Api(client, settings)
            await link_account(api, user="alice", profile_name="alice@example.test")
            await link_account(api, user="bob", profile_name="bob@example.test")
            await schedule(api)
            text = await (await client.get("/metrics")).text()

    calls = [line for line in text.splitlines() if line.startswith("cronofy_calls_total{")]
    endpoints = {line.split('endpoint="')[1].split('"')[0] for line in calls}
    assert endpoints <= {
        "token",
        "token.revoke",
        "calendars.list",
        "events.upsert",
        "events.delete",
        "events.read",
        "channels.create",
        "channels.close",
    }, endpoints
    assert "events.upsert" in endpoints
    assert "cal_" not in text and "/sandbox" not in text
