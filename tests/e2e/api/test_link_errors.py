"""Every way linking can go wrong gets a UserError with a code and a field path, and stores nothing."""

from __future__ import annotations

from datetime import timedelta

from tests.support.api import REDIRECT_URI
from tests.support.browser import consent
from tests.support.documents import BEGIN_LINK, CONNECTIONS, LINK, UNLINK
from tests.support.factories import begin_link, link_account


def codes(payload: dict) -> list[tuple[str, list[str] | None]]:
    return [(error["code"], error["field"]) for error in payload["userErrors"]]


async def token_requests(sandbox) -> int:
    return sum(1 for r in await sandbox.requests() if r["path"] == "/oauth/token")


async def test_redirect_uri_must_match_the_allow_list_exactly(api):
    for bad in (
        "https://evil.example/cb",
        "https://mentoring.example.test/calendar/linked/",
        "https://mentoring.example.test/calendar/linked?next=https://evil.example",
        "",
    ):
        payload = (await api.data(BEGIN_LINK, {"input": {"redirectUri": bad}}))["beginCalendarLink"]
        assert payload["authorizationUrl"] is None
        assert codes(payload) == [("INVALID_REDIRECT_URI", ["input", "redirectUri"])], bad


async def test_unknown_state_is_refused_and_the_code_is_not_exchanged(api, sandbox):
    for state in ("no-such-state", "", "x" * 5000):
        payload = (await api.data(LINK, {"input": {"code": "some-code", "state": state}}))["linkCalendar"]
        assert payload["connection"] is None
        assert codes(payload) == [("INVALID_STATE", ["input", "state"])]
    assert await token_requests(sandbox) == 0


async def test_blank_code_is_invalid_input(api, sandbox):
    callback = await consent(await begin_link(api))
    payload = (await api.data(LINK, {"input": {"code": "  ", "state": callback["state"]}}))["linkCalendar"]
    assert codes(payload) == [("INVALID_INPUT", ["input", "code"])]
    assert await token_requests(sandbox) == 0


async def test_expired_state_is_refused(api, sandbox, clock):
    callback = await consent(await begin_link(api))
    clock.advance(minutes=10, seconds=1)
    payload = (await api.data(LINK, {"input": callback}))["linkCalendar"]
    assert codes(payload) == [("INVALID_STATE", ["input", "state"])]
    assert await token_requests(sandbox) == 0


async def test_state_expiry_is_announced_ten_minutes_ahead(api, clock):
    payload = await api.data(BEGIN_LINK, {"input": {"redirectUri": REDIRECT_URI}})
    expires_at = payload["beginCalendarLink"]["expiresAt"]
    expected = clock.now + timedelta(minutes=10)
    assert expires_at == expected.isoformat().replace("+00:00", "Z")


async def test_replayed_state_is_refused(api, sandbox):
    callback = await consent(await begin_link(api))
    first = (await api.data(LINK, {"input": callback}))["linkCalendar"]
    assert first["userErrors"] == []
    replay = (await api.data(LINK, {"input": callback}))["linkCalendar"]
    assert codes(replay) == [("INVALID_STATE", ["input", "state"])]
    assert await token_requests(sandbox) == 1


async def test_another_users_state_is_refused_and_stays_usable_by_its_owner(api, sandbox):
    callback = await consent(await begin_link(api, user="alice"))

    stolen = (await api.data(LINK, {"input": callback}, user="mallory"))["linkCalendar"]
    assert codes(stolen) == [("INVALID_STATE", ["input", "state"])]
    assert await token_requests(sandbox) == 0
    assert (await api.data(CONNECTIONS, user="mallory"))["calendarConnections"] == []

    owners = (await api.data(LINK, {"input": callback}, user="alice"))["linkCalendar"]
    assert owners["userErrors"] == []


async def test_a_failed_attempt_consumes_the_state(api, sandbox):
    callback = await consent(await begin_link(api))
    await sandbox.fault(path="/oauth/token", status=500)
    failed = (await api.data(LINK, {"input": callback}))["linkCalendar"]
    assert codes(failed) == [("UPSTREAM_UNAVAILABLE", None)]
    again = (await api.data(LINK, {"input": callback}))["linkCalendar"]
    assert codes(again) == [("INVALID_STATE", ["input", "state"])]


async def test_replayed_code_is_rejected_by_cronofy(api, sandbox):
    callback = await consent(await begin_link(api))
    assert (await api.data(LINK, {"input": callback}))["linkCalendar"]["userErrors"] == []
    fresh_state = (await consent(await begin_link(api)))["state"]

    replay = (await api.data(LINK, {"input": {"code": callback["code"], "state": fresh_state}}))["linkCalendar"]

    assert codes(replay) == [("AUTHORIZATION_REJECTED", ["input", "code"])]
    assert replay["connection"] is None


async def test_cronofy_failing_or_slow_during_exchange_stores_nothing(api, sandbox, database):
    for fault in ({"status": 500}, {"status": 503}, {"delay_seconds": 3.0}, {"reset": True}):
        callback = await consent(await begin_link(api))
        await sandbox.fault(path="/oauth/token", **fault)

        payload = (await api.data(LINK, {"input": callback}))["linkCalendar"]

        assert payload["connection"] is None, fault
        assert codes(payload) == [("UPSTREAM_UNAVAILABLE", None)], fault
        assert "500" not in payload["userErrors"][0]["message"]
    assert await database["calendar_connections"].count_documents({}) == 0
    assert (await api.data(CONNECTIONS))["calendarConnections"] == []


async def test_cronofy_failing_to_list_calendars_stores_nothing(api, sandbox, database):
    callback = await consent(await begin_link(api))
    await sandbox.fault(path="/v1/calendars", status=502)
    payload = (await api.data(LINK, {"input": callback}))["linkCalendar"]
    assert codes(payload) == [("UPSTREAM_UNAVAILABLE", None)]
    assert await database["calendar_connections"].count_documents({}) == 0


async def test_bad_client_credentials_are_a_clean_upstream_error(api, sandbox, settings, database, caplog):
    from dataclasses import replace

    from aiohttp.test_utils import TestClient, TestServer

    from gql_api import create_app
    from tests.support.api import Api

    misconfigured = replace(settings, cronofy_client_secret="wrong-secret")
    async with TestClient(TestServer(create_app(misconfigured, database=database), host="127.0.0.1")) as client:
        other = Api(client, misconfigured)
        callback = await consent(await begin_link(other))
        payload = (await other.data(LINK, {"input": callback}))["linkCalendar"]
    assert codes(payload) == [("UPSTREAM_UNAVAILABLE", None)]
    assert "CRONOFY_CLIENT_ID/SECRET" in caplog.text


async def test_an_account_linked_by_another_user_is_not_allowed(api, sandbox):
    await link_account(api, user="alice", profile_name="shared@example.test")
    callback = await consent(await begin_link(api, user="bob"), profile_name="shared@example.test")
    payload = (await api.data(LINK, {"input": callback}, user="bob"))["linkCalendar"]
    assert codes(payload) == [("NOT_ALLOWED", None)]
    assert (await api.data(CONNECTIONS, user="bob"))["calendarConnections"] == []
    assert len((await api.data(CONNECTIONS, user="alice"))["calendarConnections"]) == 1


async def test_unlinking_unknown_or_malformed_ids_is_not_found(api):
    for connection_id in ("Q2FsZW5kYXJDb25uZWN0aW9uOjY1MDAwMDAwMDAwMDAwMDAwMDAwMDAwMA", "not-an-id", "", "💥"):
        payload = (await api.data(UNLINK, {"input": {"connectionId": connection_id}}))["unlinkCalendar"]
        assert codes(payload) == [("NOT_FOUND", ["input", "connectionId"])], connection_id


async def test_unlinking_twice_is_not_found_the_second_time(api):
    connection = await link_account(api)
    first = (await api.data(UNLINK, {"input": {"connectionId": connection["id"]}}))["unlinkCalendar"]
    second = (await api.data(UNLINK, {"input": {"connectionId": connection["id"]}}))["unlinkCalendar"]
    assert first["userErrors"] == []
    assert codes(second) == [("NOT_FOUND", ["input", "connectionId"])]


async def test_an_invalid_provider_enum_is_a_validation_error(api):
    body = await api.gql(BEGIN_LINK, {"input": {"redirectUri": "https://x.test", "provider": "MYSPACE"}})
    assert body.get("data") is None
    assert "MYSPACE" in body["errors"][0]["message"]
