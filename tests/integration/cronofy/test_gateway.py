"""The Cronofy gateway across a real HTTP boundary.

A tiny aiohttp app on 127.0.0.1 plays Cronofy: it answers with the payload shapes recorded in
reference/cronofy.md and records what it received. Nothing in the gateway is patched; only the
data-center test, whose hosts no loopback server can answer, uses `httpx.MockTransport`.

Every secret the gateway handles is a distinctive canary string, so the leak checks can search
exception texts, exception chains and DEBUG logs for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
import traceback
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gql_api.cronofy.errors import (
    CronofyBadRequest,
    CronofyError,
    CronofyForbidden,
    CronofyLocked,
    CronofyNotFound,
    CronofyRateLimited,
    CronofyServerError,
    CronofyUnauthorized,
    CronofyUnavailable,
    CronofyValidationError,
    InvalidClient,
    InvalidGrant,
)
from gql_api.cronofy.gateway import CronofyGateway, CronofyHosts, hosts_for
from gql_api.cronofy.wire import parse_retry_after
from gql_api.vault import Secret
from tests.support.net import free_port

# --- recorded Cronofy payloads (reference/cronofy.md) -----------------------------------------

# §3.3, fixture `oauth_token_response.json`, verbatim.
OAUTH_TOKEN_RESPONSE_JSON = """\
{
  "token_type": "bearer",
  "access_token": "P531x88i05Ld2yXHIQ7WjiEyqlmOHsgI",
  "expires_in": 3600,
  "refresh_token": "3gBYG1XamYDUEXUyybbummQWEe5YqPmf",
  "scope": "create_event delete_event",
  "account_id": "acc_5ba21743f408617d1269ea1e",
  "sub": "acc_5ba21743f408617d1269ea1e",
  "linking_profile": {"provider_name": "google", "profile_id": "pro_n23kjnwrw2", "profile_name": "example@cronofy.com"}
}
"""

# §3.4, fixture `oauth_refresh_response.json`. The reference describes it ("the same shape but only
# token_type, access_token, expires_in, refresh_token, scope"; no account_id, sub or linking_profile)
# without printing it, so it is written here in exactly that shape.
OAUTH_REFRESH_RESPONSE_JSON = """\
{
  "token_type": "bearer",
  "access_token": "fffff88i05Ld2yXHIQ7WjiEyqlmOHsgI",
  "expires_in": 3600,
  "refresh_token": "3gBYG1XamYDUEXUyybbummQWEe5YqPmf",
  "scope": "create_event delete_event"
}
"""

# §3.3: [CS] also models `provider_service` in linking_profile (fixture
# `oauth_token_response_with_provider_service.json`, named but not printed in the reference).
OAUTH_TOKEN_RESPONSE_WITH_PROVIDER_SERVICE_JSON = """\
{
  "token_type": "bearer",
  "access_token": "P531x88i05Ld2yXHIQ7WjiEyqlmOHsgI",
  "expires_in": 3600,
  "refresh_token": "3gBYG1XamYDUEXUyybbummQWEe5YqPmf",
  "scope": "create_event delete_event",
  "account_id": "acc_5ba21743f408617d1269ea1e",
  "sub": "acc_5ba21743f408617d1269ea1e",
  "linking_profile": {"provider_name": "google", "provider_service": "gsuite", "profile_id": "pro_n23kjnwrw2",
                      "profile_name": "example@cronofy.com"}
}
"""

# §3.3 + §4.3: the markdown request-token page embeds a `userinfo` object (OpenID-style shape).
USERINFO_EMBEDDED = {
    "sub": "acc_5ba21743f408617d1269ea1e",
    "email": "example@cronofy.com",
    "name": "Example Person",
    "zoneinfo": "Europe/London",
    "cronofy.type": "account",
    "cronofy.data": {
        "authorization": {"scope": "create_event delete_event", "status": "active"},
        "profiles": [
            {
                "provider_name": "google",
                "provider_service": "gsuite",
                "profile_id": "pro_n23kjnwrw2",
                "profile_name": "example@cronofy.com",
                "profile_connected": True,
                "profile_calendars": [],
            }
        ],
        "conferencing_profiles": [],
    },
}

# §5, fixture `calendars_list.json`, verbatim.
CALENDARS_LIST_JSON = """\
{"sub": "acc_…",
 "calendars": [{"provider_name": "google", "profile_id": "pro_n23kjnwrw2", "profile_name": "example@cronofy.com",
   "calendar_id": "cal_n23kjnwrw2_jsdfjksn234", "calendar_name": "Home",
   "calendar_readonly": false, "calendar_deleted": false, "calendar_primary": true,
   "calendar_integrated_conferencing_available": true, "calendar_attachments_available": false,
   "permission_level": "sandbox"}]}
"""

# §8.1, the 422 body, verbatim.
VALIDATION_ERROR_JSON = """\
{"errors": {"event_id": [{"key": "errors.required", "description": "required"}]}}
"""

TOKEN_FIXTURE = json.loads(OAUTH_TOKEN_RESPONSE_JSON)
REFRESH_FIXTURE = json.loads(OAUTH_REFRESH_RESPONSE_JSON)
VALIDATION_ERRORS = json.loads(VALIDATION_ERROR_JSON)["errors"]

# --- canaries: values that must never show up in an exception or a log line -------------------

CLIENT_ID = "gateway-test-client-id"
CLIENT_SECRET = "CANARY-client-secret-5d1f0c"
ACCESS_TOKEN = "CANARY-access-token-9b72e4"
REFRESH_TOKEN = "CANARY-refresh-token-41c8aa"
AUTH_CODE = "CANARY-auth-code-7a0b33"
BODY_CANARY = "CANARY-upstream-body-e03f17"
REDIRECT_URI = "https://mentoring.example.test/calendar/linked"

CANARIES = (
    CLIENT_SECRET,
    ACCESS_TOKEN,
    REFRESH_TOKEN,
    AUTH_CODE,
    BODY_CANARY,
    TOKEN_FIXTURE["access_token"],
    TOKEN_FIXTURE["refresh_token"],
    REFRESH_FIXTURE["access_token"],
)

# An upstream body that echoes everything we sent, as a misbehaving server or proxy might.
ECHO_TEXT = f"{BODY_CANARY} client_secret={CLIENT_SECRET} refresh_token={REFRESH_TOKEN} access_token={ACCESS_TOKEN}"

TOKEN_PATH = "/oauth/token"
REVOKE_PATH = "/oauth/token/revoke"
CALENDARS_PATH = "/v1/calendars"

HANG_SECONDS = 1.0  # how long a "slow Cronofy" holds a request at most (released early at teardown)
SHORT_TIMEOUT = 0.3


# --- the fake Cronofy --------------------------------------------------------------------------


@dataclasses.dataclass
class Reply:
    status: int = 200
    body: str | bytes = b""
    content_type: str | None = "application/json"
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    hang: bool = False  # hold the request up to HANG_SECONDS before answering
    trickle: bool = False  # send the headers, then one byte every 0.1 s (up to 2 s)


def json_reply(payload: Any, status: int = 200, **kwargs: Any) -> Reply:
    return Reply(status=status, body=payload if isinstance(payload, str) else json.dumps(payload), **kwargs)


@dataclasses.dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    json: Any
    headers: dict[str, str]  # lower-cased names
    body: bytes


class FakeCronofy:
    """Answers scripted replies per (method, path) and records every request it gets."""

    def __init__(self) -> None:
        self.url = ""
        self.replies: dict[tuple[str, str], Reply] = {}
        self.received: list[Received] = []
        self.release = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.server = TestServer(app, host="127.0.0.1")

    def on(self, method: str, path: str, reply: Reply) -> None:
        self.replies[(method, path)] = reply

    def only_request(self) -> Received:
        assert len(self.received) == 1, [(r.method, r.path) for r in self.received]
        return self.received[0]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        self.received.append(
            Received(
                method=request.method,
                path=request.path,
                query=parse_qs(request.query_string),
                content_type=request.content_type,
                json=parsed,
                headers={name.lower(): value for name, value in request.headers.items()},
                body=raw,
            )
        )
        reply = self.replies.get((request.method, request.path))
        if reply is None:  # unscripted: a status no test expects, so the test fails loudly
            return web.Response(status=418, text="unscripted")
        body = reply.body.encode() if isinstance(reply.body, str) else reply.body
        headers = dict(reply.headers)
        if reply.content_type and body:
            headers["Content-Type"] = reply.content_type
        if reply.hang:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), HANG_SECONDS)
        if reply.trickle:
            return await self._trickle(request, reply.status, headers, body)
        return web.Response(status=reply.status, body=body, headers=headers)

    async def _trickle(
        self, request: web.Request, status: int, headers: dict[str, str], body: bytes
    ) -> web.StreamResponse:
        response = web.StreamResponse(status=status, headers=headers)
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            for _ in range(20):
                if self.release.is_set():
                    break
                await response.write(b" ")
                await asyncio.sleep(0.1)
            await response.write(body)
            await response.write_eof()
        return response


@pytest.fixture
async def cronofy():
    fake = FakeCronofy()
    await fake.server.start_server()
    fake.url = str(fake.server.make_url("")).rstrip("/")
    yield fake
    fake.release.set()
    await fake.server.close()


@pytest.fixture
async def make_gateway(cronofy: FakeCronofy):
    made: list[CronofyGateway] = []

    def make(**overrides: Any) -> CronofyGateway:
        # One attempt: these tests pin how each answer maps (retries have their own tests below).
        options: dict[str, Any] = {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "api_url": cronofy.url,
            "app_url": cronofy.url,
            "timeout_seconds": 2.0,
            "max_attempts": 1,
        }
        options.update(overrides)
        gateway = CronofyGateway(**options)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        await gateway.aclose()


@pytest.fixture
def gateway(make_gateway) -> CronofyGateway:
    return make_gateway()


@pytest.fixture(autouse=True)
def no_canary_in_logs(caplog: pytest.LogCaptureFixture):
    """Every test runs with DEBUG logging captured; afterwards no canary may appear in any record."""
    caplog.set_level(logging.DEBUG)
    yield caplog
    for when in ("setup", "call"):
        for record in caplog.get_records(when):
            assert_clean(record.getMessage(), f"log record {record.name} ({when})")
            if record.exc_info:
                assert_clean("".join(traceback.format_exception(*record.exc_info)), f"log traceback {record.name}")


# --- helpers -----------------------------------------------------------------------------------


def assert_clean(text: str, where: str) -> None:
    for canary in CANARIES:
        assert canary not in text, f"{canary!r} leaked into {where}"


def exception_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10 and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def assert_nothing_leaks(exc: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    """No canary in str/repr of the exception or of anything chained to it, nor in the logs so far."""
    assert exc.__cause__ is None
    assert exc.__context__ is None, "no httpx error (holding the request and its secrets) may hang off it"
    for linked in exception_chain(exc):
        assert_clean(str(linked), f"str({type(linked).__name__})")
        assert_clean(repr(linked), f"repr({type(linked).__name__})")
    assert_clean("".join(traceback.format_exception(exc)), "the formatted traceback")
    assert_clean(caplog.text, "the captured logs")


async def invoke(gateway: CronofyGateway, call: str) -> Any:
    if call == "exchange":
        return await gateway.exchange_code(code=AUTH_CODE, redirect_uri=REDIRECT_URI)
    if call == "refresh":
        return await gateway.refresh(refresh_token=Secret(REFRESH_TOKEN))
    if call == "revoke":
        return await gateway.revoke(refresh_token=Secret(REFRESH_TOKEN))
    if call == "calendars":
        return await gateway.list_calendars(access_token=Secret(ACCESS_TOKEN))
    raise AssertionError(call)


ROUTE_OF = {
    "exchange": ("POST", TOKEN_PATH),
    "refresh": ("POST", TOKEN_PATH),
    "revoke": ("POST", REVOKE_PATH),
    "calendars": ("GET", CALENDARS_PATH),
}


# --- authorization URL -------------------------------------------------------------------------


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True, strict_parsing=True)


def test_authorization_url_goes_to_the_app_host_with_every_required_parameter(make_gateway, cronofy):
    # given a gateway whose app host is the fake Cronofy and whose api host is elsewhere
    gateway = make_gateway(api_url="http://127.0.0.1:9", app_url=cronofy.url)

    # when
    url = gateway.authorization_url(redirect_uri=REDIRECT_URI, state="state-123")

    # then
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == cronofy.url
    assert parts.path == "/oauth/authorize"
    assert query_of(url) == {
        "response_type": ["code"],
        "client_id": [CLIENT_ID],
        "redirect_uri": [REDIRECT_URI],
        "scope": ["list_calendars create_event delete_event"],
        "state": ["state-123"],
        "avoid_linking": ["true"],
    }
    assert CLIENT_SECRET not in url


@pytest.mark.parametrize("provider_name", [None, ""])
def test_authorization_url_omits_provider_name_unless_given(gateway, provider_name):
    url = gateway.authorization_url(redirect_uri=REDIRECT_URI, state="s", provider_name=provider_name)

    assert "provider_name" not in query_of(url)


def test_authorization_url_carries_provider_name_when_given(gateway):
    url = gateway.authorization_url(redirect_uri=REDIRECT_URI, state="s", provider_name="office365")

    assert query_of(url)["provider_name"] == ["office365"]


def test_authorization_url_encodes_every_value(gateway):
    # given values full of URL metacharacters, one trying to smuggle a second client_id
    redirect_uri = "https://mentoring.example.test/cb?next=/a b&lang=fr#frag"
    state = "s/t+a=t&client_id=evil é"

    # when
    url = gateway.authorization_url(redirect_uri=redirect_uri, state=state, provider_name="a&b")

    # then the raw query holds no bare metacharacter and decodes back to the exact values
    raw_query = urlsplit(url).query
    assert "#" not in url and " " not in url and "é" not in url
    assert "redirect_uri=https%3A%2F%2Fmentoring.example.test%2Fcb%3Fnext%3D%2Fa" in raw_query
    params = query_of(url)
    assert params["redirect_uri"] == [redirect_uri]
    assert params["state"] == [state]
    assert params["provider_name"] == ["a&b"]
    assert params["client_id"] == [CLIENT_ID]


async def test_authorization_url_uses_the_data_center_app_host_without_overrides():
    gateway = CronofyGateway(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    try:
        us = gateway.authorization_url(redirect_uri=REDIRECT_URI, state="s")
        de = gateway.authorization_url(redirect_uri=REDIRECT_URI, state="s", data_center="de")
    finally:
        await gateway.aclose()

    assert us.startswith("https://app.cronofy.com/oauth/authorize?")
    assert de.startswith("https://app-de.cronofy.com/oauth/authorize?")


# --- data centers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data_center", "api", "app"),
    [
        ("us", "https://api.cronofy.com", "https://app.cronofy.com"),
        ("", "https://api.cronofy.com", "https://app.cronofy.com"),
        ("uk", "https://api-uk.cronofy.com", "https://app-uk.cronofy.com"),
        ("de", "https://api-de.cronofy.com", "https://app-de.cronofy.com"),
        ("au", "https://api-au.cronofy.com", "https://app-au.cronofy.com"),
        ("ca", "https://api-ca.cronofy.com", "https://app-ca.cronofy.com"),
        ("sg", "https://api-sg.cronofy.com", "https://app-sg.cronofy.com"),
    ],
)
def test_hosts_for_each_data_center(data_center, api, app):
    assert hosts_for(data_center) == CronofyHosts(api=api, app=app)


def test_host_overrides_win_over_the_data_center():
    assert hosts_for("de", api_override="http://127.0.0.1:1234/", app_override="http://127.0.0.1:5678") == CronofyHosts(
        api="http://127.0.0.1:1234", app="http://127.0.0.1:5678"
    )
    assert hosts_for("de", api_override="http://127.0.0.1:1234") == CronofyHosts(
        api="http://127.0.0.1:1234", app="https://app-de.cronofy.com"
    )


class RecordingTransport:
    """httpx.MockTransport for hosts no loopback server can answer; answers with recorded payloads."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(str(request.url))
        if request.url.path == CALENDARS_PATH:
            return httpx.Response(200, text=CALENDARS_LIST_JSON, headers={"Content-Type": "application/json"})
        if request.url.path == TOKEN_PATH:
            return httpx.Response(200, text=OAUTH_TOKEN_RESPONSE_JSON, headers={"Content-Type": "application/json"})
        return httpx.Response(200)


@pytest.mark.parametrize(
    ("call", "url"),
    [
        ("calendars", "https://api-de.cronofy.com/v1/calendars"),
        ("exchange", "https://api-de.cronofy.com/oauth/token"),
        ("refresh", "https://api-de.cronofy.com/oauth/token"),
        ("revoke", "https://api-de.cronofy.com/oauth/token/revoke"),
    ],
)
async def test_a_connection_in_de_is_served_by_api_de(call, url):
    # given a gateway with no host override, defaulting to us
    recorder = RecordingTransport()
    gateway = CronofyGateway(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, transport=recorder.transport)
    try:
        # when a call is made for a connection stored in de
        if call == "calendars":
            await gateway.list_calendars(access_token=Secret(ACCESS_TOKEN), data_center="de")
        elif call == "exchange":
            await gateway.exchange_code(code=AUTH_CODE, redirect_uri=REDIRECT_URI, data_center="de")
        elif call == "refresh":
            await gateway.refresh(refresh_token=Secret(REFRESH_TOKEN), data_center="de")
        else:
            await gateway.revoke(refresh_token=Secret(REFRESH_TOKEN), data_center="de")
    finally:
        await gateway.aclose()

    # then it went to the de api host
    assert recorder.urls == [url]


async def test_the_default_data_center_picks_the_host_when_the_call_names_none():
    recorder = RecordingTransport()
    uk = CronofyGateway(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, default_data_center="uk", transport=recorder.transport
    )
    us = CronofyGateway(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, transport=recorder.transport)
    try:
        await uk.list_calendars(access_token=Secret(ACCESS_TOKEN))
        await us.list_calendars(access_token=Secret(ACCESS_TOKEN))
    finally:
        await uk.aclose()
        await us.aclose()

    assert recorder.urls == ["https://api-uk.cronofy.com/v1/calendars", "https://api.cronofy.com/v1/calendars"]


def events_page(next_page: str | None, event_id: str) -> httpx.Response:
    pages = {"current": 1, "total": 2, **({"next_page": next_page} if next_page else {})}
    event = {
        "calendar_id": "cal_a_b",
        "event_uid": "evt_1",
        "event_id": event_id,
        "summary": "S",
        "start": "2027-01-12T10:00:00Z",
        "end": "2027-01-12T11:00:00Z",
        "deleted": False,
        "updated": "2026-11-25T10:00:00Z",
        "unknown_key": {"ignored": True},
    }
    return httpx.Response(200, json={"pages": pages, "events": [event]})


@pytest.mark.parametrize(
    ("next_page", "followed"),
    [
        ("https://api-de.cronofy.com/v1/events/pages/p2", True),
        ("https://api.cronofy.com/v1/events/pages/p2", False),  # another data center
        ("https://evil.example/v1/events/pages/p2", False),
        ("https://api-de.cronofy.com.evil.example/v1/events/pages/p2", False),
        ("http://api-de.cronofy.com/v1/events/pages/p2", False),  # not TLS
    ],
)
async def test_next_page_is_followed_only_on_the_connections_data_center(next_page, followed):
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return events_page(next_page if len(seen) == 1 else None, f"mtg_{len(seen)}")

    gateway = CronofyGateway(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, transport=httpx.MockTransport(answer), max_attempts=1
    )
    try:
        if followed:
            events = await gateway.managed_events_since(
                access_token=Secret(ACCESS_TOKEN),
                data_center="de",
                since=datetime(2026, 11, 25, 9, tzinfo=UTC),
            )
            assert [e.event_id for e in events] == ["mtg_1", "mtg_2"]
        else:
            with pytest.raises(CronofyUnavailable):
                await gateway.managed_events_since(
                    access_token=Secret(ACCESS_TOKEN),
                    data_center="de",
                    since=datetime(2026, 11, 25, 9, tzinfo=UTC),
                )
    finally:
        await gateway.aclose()

    first = httpx.URL(seen[0])
    assert first.host == "api-de.cronofy.com" and first.path == "/v1/events"
    assert dict(first.params) == {
        "tzid": "Etc/UTC",
        "only_managed": "true",
        "include_deleted": "true",
        "last_modified": "2026-11-25T09:00:00Z",
    }
    assert len(seen) == (2 if followed else 1)


# --- exchange_code -----------------------------------------------------------------------------


async def test_exchange_code_posts_the_credentials_as_json_without_an_authorization_header(gateway, cronofy):
    # given
    cronofy.on("POST", TOKEN_PATH, json_reply(OAUTH_TOKEN_RESPONSE_JSON))

    # when
    await gateway.exchange_code(code=AUTH_CODE, redirect_uri=REDIRECT_URI)

    # then
    sent = cronofy.only_request()
    assert (sent.method, sent.path, sent.query) == ("POST", TOKEN_PATH, {})
    assert sent.content_type == "application/json"
    assert sent.json == {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_type": "authorization_code",
        "code": AUTH_CODE,
        "redirect_uri": REDIRECT_URI,
    }
    assert "authorization" not in sent.headers
    assert sent.headers["accept"] == "application/json"


async def test_exchange_code_parses_the_recorded_token_response(gateway, cronofy):
    # given
    cronofy.on("POST", TOKEN_PATH, json_reply(OAUTH_TOKEN_RESPONSE_JSON))

    # when
    grant = await gateway.exchange_code(code=AUTH_CODE, redirect_uri=REDIRECT_URI)

    # then
    assert isinstance(grant.access_token, Secret) and isinstance(grant.refresh_token, Secret)
    assert grant.access_token.reveal() == "P531x88i05Ld2yXHIQ7WjiEyqlmOHsgI"
    assert grant.refresh_token.reveal() == "3gBYG1XamYDUEXUyybbummQWEe5YqPmf"
    for secret in (grant.access_token, grant.refresh_token):
        assert "***" in repr(secret) and "***" in str(secret) and f"{secret}" == "***"
    assert grant.expires_in == 3600
    assert grant.scope == ("create_event", "delete_event")
    assert grant.sub == "acc_5ba21743f408617d1269ea1e"
    assert grant.linking_profile is not None
    assert grant.linking_profile.provider_name == "google"
    assert grant.linking_profile.profile_id == "pro_n23kjnwrw2"
    assert grant.linking_profile.profile_name == "example@cronofy.com"
    now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert grant.expires_at(now) == now + timedelta(seconds=3600)
    assert_clean(repr(grant), "repr(TokenGrant)")


def token_variant(change: dict[str, Any] | None = None, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    payload = {key: value for key, value in TOKEN_FIXTURE.items() if key not in drop}
    payload.update(change or {})
    return payload


@pytest.mark.parametrize(
    ("payload", "sub", "profile"),
    [
        pytest.param(
            token_variant({"unknown_future_field": {"nested": [1, 2]}, "application_calendar_id": None}),
            "acc_5ba21743f408617d1269ea1e",
            ("google", "pro_n23kjnwrw2", "example@cronofy.com"),
            id="unknown-extra-keys",
        ),
        pytest.param(
            token_variant(drop=("linking_profile",)), "acc_5ba21743f408617d1269ea1e", None, id="no-linking-profile"
        ),
        pytest.param(
            token_variant({"linking_profile": None}), "acc_5ba21743f408617d1269ea1e", None, id="null-linking-profile"
        ),
        pytest.param(
            token_variant({"linking_profile": {"provider_name": "google"}}),
            "acc_5ba21743f408617d1269ea1e",
            ("google", None, None),
            id="partial-linking-profile",
        ),
        pytest.param(
            token_variant(drop=("sub",)),
            "acc_5ba21743f408617d1269ea1e",
            ("google", "pro_n23kjnwrw2", "example@cronofy.com"),
            id="account-id-without-sub",
        ),
        pytest.param(
            token_variant(drop=("sub", "account_id")),
            None,
            ("google", "pro_n23kjnwrw2", "example@cronofy.com"),
            id="neither-sub-nor-account-id",
        ),
        pytest.param(
            OAUTH_TOKEN_RESPONSE_WITH_PROVIDER_SERVICE_JSON,
            "acc_5ba21743f408617d1269ea1e",
            ("google", "pro_n23kjnwrw2", "example@cronofy.com"),
            id="provider-service",
        ),
        pytest.param(
            token_variant({"userinfo": USERINFO_EMBEDDED}),
            "acc_5ba21743f408617d1269ea1e",
            ("google", "pro_n23kjnwrw2", "example@cronofy.com"),
            id="embedded-userinfo",
        ),
    ],
)
async def test_exchange_code_tolerates_the_shapes_cronofy_may_send(gateway, cronofy, payload, sub, profile):
    # given
    cronofy.on("POST", TOKEN_PATH, json_reply(payload))

    # when
    grant = await gateway.exchange_code(code=AUTH_CODE, redirect_uri=REDIRECT_URI)

    # then
    assert grant.access_token.reveal() == "P531x88i05Ld2yXHIQ7WjiEyqlmOHsgI"
    assert grant.sub == sub
    if profile is None:
        assert grant.linking_profile is None
    else:
        lp = grant.linking_profile
        assert (lp.provider_name, lp.profile_id, lp.profile_name) == profile


@pytest.mark.parametrize(
    "expires_in",
    [
        pytest.param(..., id="missing"),
        None,
        "soon",
        "3600",
        0,
        -60,
        True,
        12.5,
        [3600],
        {},
    ],
)
async def test_exchange_code_falls_back_to_a_bounded_lifetime_for_unusable_expires_in(gateway, cronofy, expires_in):
    # given
    payload = token_variant(drop=("expires_in",)) if expires_in is ... else token_variant({"expires_in": expires_in})
    cronofy.on("POST", TOKEN_PATH, json_reply(payload))

    # when
    grant = await gateway.exchange_code(code=AUTH_CODE, redirect_uri=REDIRECT_URI)

    # then the lifetime is a positive whole number of seconds, no longer than an hour
    assert type(grant.expires_in) is int and 0 < grant.expires_in <= 3600
    assert grant.expires_at(datetime.now(UTC)) > datetime.now(UTC)


async def test_exchange_code_keeps_a_short_documented_lifetime(gateway, cronofy):
    cronofy.on("POST", TOKEN_PATH, json_reply(token_variant({"expires_in": 1800})))

    grant = await gateway.exchange_code(code=AUTH_CODE, redirect_uri=REDIRECT_URI)

    assert grant.expires_in == 1800


async def test_an_absurd_expires_in_still_gives_a_usable_expiry(gateway, cronofy):
    # given a lifetime far beyond the documented maximum of 2,147,483,647 seconds
    cronofy.on("POST", TOKEN_PATH, json_reply(token_variant({"expires_in": 10**12})))

    # when
    grant = await gateway.exchange_code(code=AUTH_CODE, redirect_uri=REDIRECT_URI)

    # then the expiry can still be computed and stored
    assert grant.expires_in <= 2**31 - 1
    grant.expires_at(datetime.now(UTC))


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(json_reply(token_variant(drop=("access_token",))), id="no-access-token"),
        pytest.param(json_reply(token_variant({"access_token": None})), id="null-access-token"),
        pytest.param(json_reply(token_variant({"access_token": 12345})), id="numeric-access-token"),
        pytest.param(json_reply(token_variant(drop=("refresh_token",))), id="no-refresh-token-on-exchange"),
        pytest.param(json_reply([TOKEN_FIXTURE]), id="a-list"),
        pytest.param(json_reply({"error": "nothing"}), id="unrelated-object"),
        pytest.param(Reply(status=200, body=b""), id="empty-body"),
    ],
)
async def test_exchange_code_rejects_an_unusable_token_response(gateway, cronofy, caplog, reply):
    cronofy.on("POST", TOKEN_PATH, reply)

    with pytest.raises(CronofyUnavailable) as caught:
        await gateway.exchange_code(code=AUTH_CODE, redirect_uri=REDIRECT_URI)

    assert_nothing_leaks(caught.value, caplog)


# --- refresh -----------------------------------------------------------------------------------


async def test_refresh_posts_the_refresh_grant(gateway, cronofy):
    # given
    cronofy.on("POST", TOKEN_PATH, json_reply(OAUTH_REFRESH_RESPONSE_JSON))

    # when
    await gateway.refresh(refresh_token=Secret(REFRESH_TOKEN))

    # then
    sent = cronofy.only_request()
    assert (sent.method, sent.path, sent.content_type) == ("POST", TOKEN_PATH, "application/json")
    assert sent.json == {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_type": "refresh_token",
        "refresh_token": REFRESH_TOKEN,
    }
    assert "authorization" not in sent.headers


async def test_refresh_parses_the_recorded_refresh_response(gateway, cronofy):
    # given the recorded refresh response: no sub, no linking_profile
    cronofy.on("POST", TOKEN_PATH, json_reply(OAUTH_REFRESH_RESPONSE_JSON))

    # when
    grant = await gateway.refresh(refresh_token=Secret(REFRESH_TOKEN))

    # then
    assert grant.access_token.reveal() == REFRESH_FIXTURE["access_token"]
    assert grant.refresh_token.reveal() == REFRESH_FIXTURE["refresh_token"]
    assert grant.expires_in == 3600
    assert grant.scope == ("create_event", "delete_event")
    assert grant.sub is None
    assert grant.linking_profile is None


@pytest.mark.parametrize("refresh_field", [pytest.param(..., id="absent"), None, ""])
async def test_refresh_keeps_the_previous_refresh_token_when_none_is_returned(gateway, cronofy, refresh_field):
    # given a refresh response without a (usable) refresh_token
    payload = {key: value for key, value in REFRESH_FIXTURE.items() if key != "refresh_token"}
    if refresh_field is not ...:
        payload["refresh_token"] = refresh_field
    cronofy.on("POST", TOKEN_PATH, json_reply(payload))
    previous = Secret(REFRESH_TOKEN)

    # when
    grant = await gateway.refresh(refresh_token=previous)

    # then
    assert grant.refresh_token.reveal() == REFRESH_TOKEN
    assert grant.access_token.reveal() == REFRESH_FIXTURE["access_token"]


async def test_refresh_returns_a_rotated_refresh_token(gateway, cronofy):
    # given Cronofy rotates the refresh token
    rotated = "rotatedRefreshToken0000000000000"
    cronofy.on("POST", TOKEN_PATH, json_reply({**REFRESH_FIXTURE, "refresh_token": rotated}))

    # when
    grant = await gateway.refresh(refresh_token=Secret(REFRESH_TOKEN))

    # then
    assert grant.refresh_token.reveal() == rotated
    assert grant.refresh_token != Secret(REFRESH_TOKEN)


async def test_refresh_without_an_access_token_is_unavailable(gateway, cronofy, caplog):
    cronofy.on("POST", TOKEN_PATH, json_reply({"token_type": "bearer", "refresh_token": REFRESH_TOKEN}))

    with pytest.raises(CronofyUnavailable) as caught:
        await gateway.refresh(refresh_token=Secret(REFRESH_TOKEN))

    assert_nothing_leaks(caught.value, caplog)


# --- revoke ------------------------------------------------------------------------------------


async def test_revoke_posts_the_refresh_token_and_accepts_an_empty_200(gateway, cronofy):
    # given Cronofy's answer: 200 with an empty body
    cronofy.on("POST", REVOKE_PATH, Reply(status=200, body=b"", content_type=None))

    # when
    result = await gateway.revoke(refresh_token=Secret(REFRESH_TOKEN))

    # then
    assert result is None
    sent = cronofy.only_request()
    assert (sent.method, sent.path, sent.content_type) == ("POST", REVOKE_PATH, "application/json")
    assert sent.json == {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "token": REFRESH_TOKEN}
    assert "authorization" not in sent.headers


# --- list_calendars ----------------------------------------------------------------------------


async def test_list_calendars_sends_the_bearer_token_and_parses_the_recorded_list(gateway, cronofy):
    # given
    cronofy.on("GET", CALENDARS_PATH, json_reply(CALENDARS_LIST_JSON))

    # when
    calendars = await gateway.list_calendars(access_token=Secret(ACCESS_TOKEN))

    # then the request carried the user's token and nothing else
    sent = cronofy.only_request()
    assert (sent.method, sent.path, sent.body) == ("GET", CALENDARS_PATH, b"")
    assert sent.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    # and the recorded calendar was read
    assert len(calendars) == 1
    home = calendars[0]
    assert home.calendar_id == "cal_n23kjnwrw2_jsdfjksn234"
    assert home.name == "Home"
    assert (home.primary, home.readonly, home.deleted, home.writable) == (True, False, False, True)
    assert home.provider_name == "google"
    assert home.profile_name == "example@cronofy.com"


async def test_list_calendars_accepts_minimal_calendars_from_older_responses(gateway, cronofy):
    # given calendars with only an id (and no top-level sub), as the SDK tests use
    cronofy.on(
        "GET",
        CALENDARS_PATH,
        json_reply(
            {
                "calendars": [
                    {"calendar_id": "cal_U9uuErStTG@EAAAB_IsAsykA2DBTWqQTf-f0kJw"},
                    {"calendar_id": "cal_min_2", "calendar_name": ""},
                ]
            }
        ),
    )

    # when
    calendars = await gateway.list_calendars(access_token=Secret(ACCESS_TOKEN))

    # then the id stands in for the name and every flag defaults to false
    assert [c.calendar_id for c in calendars] == ["cal_U9uuErStTG@EAAAB_IsAsykA2DBTWqQTf-f0kJw", "cal_min_2"]
    assert [c.name for c in calendars] == ["cal_U9uuErStTG@EAAAB_IsAsykA2DBTWqQTf-f0kJw", "cal_min_2"]
    for calendar in calendars:
        assert (calendar.primary, calendar.readonly, calendar.deleted, calendar.writable) == (False, False, False, True)
        assert calendar.provider_name is None and calendar.profile_name is None


async def test_list_calendars_skips_items_without_a_calendar_id(gateway, cronofy):
    cronofy.on(
        "GET",
        CALENDARS_PATH,
        json_reply(
            {
                "calendars": [
                    {"calendar_name": "No id"},
                    {"calendar_id": "", "calendar_name": "Empty id"},
                    {"calendar_id": None},
                    "cal_not_an_object",
                    None,
                    {"calendar_id": "cal_kept", "calendar_name": "Kept"},
                ]
            }
        ),
    )

    calendars = await gateway.list_calendars(access_token=Secret(ACCESS_TOKEN))

    assert [(c.calendar_id, c.name) for c in calendars] == [("cal_kept", "Kept")]


async def test_list_calendars_reads_readonly_deleted_and_primary_flags(gateway, cronofy):
    cronofy.on(
        "GET",
        CALENDARS_PATH,
        json_reply(
            {
                "calendars": [
                    {
                        "calendar_id": "cal_ro",
                        "calendar_readonly": True,
                        "calendar_deleted": False,
                        "calendar_primary": True,
                    },
                    {
                        "calendar_id": "cal_del",
                        "calendar_readonly": False,
                        "calendar_deleted": True,
                        "calendar_primary": False,
                    },
                    {
                        "calendar_id": "cal_rw",
                        "calendar_readonly": False,
                        "calendar_deleted": False,
                        "calendar_primary": False,
                    },
                ]
            }
        ),
    )

    calendars = {c.calendar_id: c for c in await gateway.list_calendars(access_token=Secret(ACCESS_TOKEN))}

    assert (calendars["cal_ro"].readonly, calendars["cal_ro"].primary, calendars["cal_ro"].writable) == (
        True,
        True,
        False,
    )
    assert (calendars["cal_del"].deleted, calendars["cal_del"].writable) == (True, False)
    assert (calendars["cal_rw"].primary, calendars["cal_rw"].writable) == (False, True)


@pytest.mark.parametrize(
    "payload",
    [
        {"calendars": {"calendar_id": "cal_x"}},
        {"calendars": None},
        {"calendars": "cal_x"},
        {"sub": "acc_5ba21743f408617d1269ea1e"},
        [],
        "calendars",
    ],
)
async def test_list_calendars_rejects_a_response_without_a_calendar_list(gateway, cronofy, caplog, payload):
    cronofy.on("GET", CALENDARS_PATH, json_reply(payload))

    with pytest.raises(CronofyUnavailable) as caught:
        await gateway.list_calendars(access_token=Secret(ACCESS_TOKEN))

    assert_nothing_leaks(caught.value, caplog)


# --- errors: status codes to typed exceptions ---------------------------------------------------


def echo(**fields: Any) -> dict[str, Any]:
    """An error body that also echoes our secrets and a body canary."""
    return {**fields, "error_description": ECHO_TEXT}


HTML_ECHO = f"<html><body>{ECHO_TEXT}</body></html>"


@dataclasses.dataclass(frozen=True)
class ErrorCase:
    call: str
    reply: Reply
    expected: type[CronofyError]
    status: int | None


ERROR_CASES = {
    "exchange-400-invalid_grant": ErrorCase(
        "exchange", json_reply(echo(error="invalid_grant"), 400), InvalidGrant, 400
    ),
    "refresh-400-invalid_grant": ErrorCase("refresh", json_reply(echo(error="invalid_grant"), 400), InvalidGrant, 400),
    "refresh-400-invalid_request": ErrorCase(
        "refresh", json_reply(echo(error="invalid_request"), 400), CronofyBadRequest, 400
    ),
    "refresh-400-no-error-key": ErrorCase("refresh", json_reply(echo(), 400), CronofyBadRequest, 400),
    "refresh-400-html": ErrorCase("refresh", Reply(400, HTML_ECHO, "text/html"), CronofyBadRequest, 400),
    "exchange-401": ErrorCase("exchange", Reply(401, HTML_ECHO, "text/html"), InvalidClient, 401),
    "refresh-401-empty": ErrorCase("refresh", Reply(401, b""), InvalidClient, 401),
    "refresh-400-invalid_client": ErrorCase(
        "refresh", json_reply(echo(error="invalid_client"), 400), InvalidClient, 400
    ),
    "revoke-400-invalid_client": ErrorCase("revoke", json_reply(echo(error="invalid_client"), 400), InvalidClient, 400),
    "calendars-401": ErrorCase("calendars", Reply(401, HTML_ECHO, "text/plain"), CronofyUnauthorized, 401),
    "calendars-401-invalid_client-body": ErrorCase(
        "calendars", json_reply(echo(error="invalid_client"), 401), CronofyUnauthorized, 401
    ),
    "calendars-403": ErrorCase("calendars", json_reply(echo(), 403), CronofyForbidden, 403),
    "calendars-404": ErrorCase("calendars", Reply(404, HTML_ECHO, "text/html"), CronofyNotFound, 404),
    "calendars-423": ErrorCase("calendars", json_reply(echo(), 423), CronofyLocked, 423),
    "calendars-429-empty": ErrorCase("calendars", Reply(429, b""), CronofyRateLimited, 429),
    "refresh-429-empty": ErrorCase("refresh", Reply(429, b""), CronofyRateLimited, 429),
    "calendars-500": ErrorCase("calendars", Reply(500, HTML_ECHO, "text/html"), CronofyServerError, 500),
    "calendars-502": ErrorCase("calendars", Reply(502, HTML_ECHO, "text/html"), CronofyServerError, 502),
    "calendars-503": ErrorCase("calendars", Reply(503, b""), CronofyServerError, 503),
    "calendars-504": ErrorCase("calendars", json_reply(echo(), 504), CronofyServerError, 504),
    "refresh-500": ErrorCase("refresh", json_reply(echo(error="server_error"), 500), CronofyServerError, 500),
    "revoke-503": ErrorCase("revoke", Reply(503, HTML_ECHO, "text/html"), CronofyServerError, 503),
    "calendars-200-not-json": ErrorCase("calendars", Reply(200, HTML_ECHO, "text/html"), CronofyUnavailable, None),
    "exchange-200-not-json": ErrorCase("exchange", Reply(200, ECHO_TEXT, "application/json"), CronofyUnavailable, None),
    "calendars-402": ErrorCase("calendars", json_reply(echo(), 402), CronofyError, 402),
    "calendars-302": ErrorCase(
        "calendars", Reply(302, b"", None, {"Location": "http://127.0.0.1:9/elsewhere"}), CronofyError, 302
    ),
}


@pytest.mark.parametrize("case", list(ERROR_CASES.values()), ids=list(ERROR_CASES))
async def test_upstream_failures_become_typed_errors_that_leak_nothing(gateway, cronofy, caplog, case):
    # given Cronofy answers this call with a failure
    method, path = ROUTE_OF[case.call]
    cronofy.on(method, path, case.reply)

    # when
    with pytest.raises(CronofyError) as caught:
        await invoke(gateway, case.call)

    # then the exception has exactly the expected type and status
    assert type(caught.value) is case.expected
    assert caught.value.status == case.status
    if isinstance(caught.value, CronofyServerError):
        assert isinstance(caught.value, CronofyUnavailable)
    # and the gateway asked once, without retrying
    assert [(r.method, r.path) for r in cronofy.received] == [(method, path)]
    # and neither the exception, its chain nor the logs carry a secret or the upstream body
    assert_nothing_leaks(caught.value, caplog)


async def test_422_keeps_the_errors_map_for_code(gateway, cronofy, caplog):
    # given the recorded 422 body
    cronofy.on("GET", CALENDARS_PATH, json_reply(VALIDATION_ERROR_JSON, 422))

    # when
    with pytest.raises(CronofyValidationError) as caught:
        await gateway.list_calendars(access_token=Secret(ACCESS_TOKEN))

    # then
    assert caught.value.status == 422
    assert caught.value.errors == {"event_id": [{"key": "errors.required", "description": "required"}]}
    assert "errors.required" not in str(caught.value)
    assert_nothing_leaks(caught.value, caplog)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            {"errors": {"event_id": [{"key": "errors.required", "description": "required"}]}, "echo": ECHO_TEXT},
            id="with-extra-keys",
        ),
        pytest.param({"errors": ["errors.required"], "echo": ECHO_TEXT}, id="errors-not-a-map"),
        pytest.param(HTML_ECHO, id="not-json"),
    ],
)
async def test_422_with_odd_bodies_still_maps_and_leaks_nothing(gateway, cronofy, caplog, body):
    cronofy.on("GET", CALENDARS_PATH, Reply(422, body if isinstance(body, str) else json.dumps(body)))

    with pytest.raises(CronofyValidationError) as caught:
        await gateway.list_calendars(access_token=Secret(ACCESS_TOKEN))

    assert isinstance(caught.value.errors, dict)
    if isinstance(body, dict) and isinstance(body["errors"], dict):
        assert caught.value.errors == VALIDATION_ERRORS
    assert_nothing_leaks(caught.value, caplog)


async def test_the_oauth_error_string_of_a_400_is_not_copied_into_the_exception(gateway, cronofy):
    # given an upstream whose `error` field echoes the refresh token
    cronofy.on("POST", TOKEN_PATH, json_reply({"error": f"invalid_request: {REFRESH_TOKEN} {BODY_CANARY}"}, 400))

    # when
    with pytest.raises(CronofyBadRequest) as caught:
        await gateway.refresh(refresh_token=Secret(REFRESH_TOKEN))

    # then
    assert_clean(str(caught.value), "str(CronofyBadRequest)")


# --- 429 and Retry-After -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        pytest.param(None, None, id="absent"),
        pytest.param("7", 7.0, id="seconds"),
        pytest.param(" 7 ", 7.0, id="padded-seconds"),
        pytest.param("0", 0.0, id="zero"),
        pytest.param("soon", None, id="garbage"),
        pytest.param("-3", None, id="negative"),
        pytest.param("1.5", None, id="fraction"),
        pytest.param("²", None, id="non-ascii-digit"),
        pytest.param("9" * 400, 86_400.0, id="absurdly-long"),
    ],
)
async def test_429_reads_retry_after_seconds(gateway, cronofy, caplog, retry_after, expected):
    # given
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    cronofy.on("GET", CALENDARS_PATH, Reply(429, b"", headers=headers))

    # when
    try:
        await gateway.list_calendars(access_token=Secret(ACCESS_TOKEN))
    except CronofyRateLimited as exc:
        caught = exc
    except Exception as exc:
        raise AssertionError(f"{type(exc).__name__} escaped instead of CronofyRateLimited") from None
    else:
        raise AssertionError("no error raised")

    # then
    assert caught.status == 429
    assert caught.retry_after == expected
    assert_nothing_leaks(caught, caplog)


async def test_429_reads_retry_after_as_an_http_date(gateway, cronofy):
    # given a Retry-After 30 seconds ahead, as an HTTP date
    cronofy.on(
        "GET", CALENDARS_PATH, Reply(429, b"", headers={"Retry-After": formatdate(time.time() + 30, usegmt=True)})
    )

    # when
    with pytest.raises(CronofyRateLimited) as caught:
        await gateway.list_calendars(access_token=Secret(ACCESS_TOKEN))

    # then (HTTP dates have whole-second resolution)
    assert caught.value.retry_after is not None
    assert 28.0 < caught.value.retry_after <= 30.0


def test_parse_retry_after_measures_an_http_date_from_now():
    now = 1_445_412_470.0  # Wed, 21 Oct 2015 07:27:50 GMT

    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00", now=now) == 10.0  # no zone: read as UTC
    assert parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now=now) == 0.0  # in the past
    assert parse_retry_after("Wed, 99 Foo 2015 07:27:00 GMT", now=now) is None
    assert parse_retry_after("", now=now) is None
    assert parse_retry_after(None, now=now) is None


# --- timeouts and unreachable hosts ------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(json_reply(CALENDARS_LIST_JSON, hang=True), id="slow-headers"),
        pytest.param(json_reply(CALENDARS_LIST_JSON, trickle=True), id="trickling-body"),
    ],
)
async def test_a_slow_cronofy_times_out_quickly(make_gateway, cronofy, caplog, reply):
    # given a gateway with a short deadline and a Cronofy slower than it
    gateway = make_gateway(timeout_seconds=SHORT_TIMEOUT)
    cronofy.on("GET", CALENDARS_PATH, reply)

    # when
    started = time.monotonic()
    with pytest.raises(CronofyUnavailable) as caught:
        await gateway.list_calendars(access_token=Secret(ACCESS_TOKEN))
    elapsed = time.monotonic() - started

    # then it gave up at its deadline, not when Cronofy finished
    assert type(caught.value) is CronofyUnavailable
    assert elapsed < HANG_SECONDS * 0.8, elapsed
    assert_nothing_leaks(caught.value, caplog)


async def test_a_slow_token_endpoint_times_out_quickly(make_gateway, cronofy, caplog):
    gateway = make_gateway(timeout_seconds=SHORT_TIMEOUT)
    cronofy.on("POST", TOKEN_PATH, json_reply(OAUTH_REFRESH_RESPONSE_JSON, hang=True))

    started = time.monotonic()
    with pytest.raises(CronofyUnavailable) as caught:
        await gateway.refresh(refresh_token=Secret(REFRESH_TOKEN))

    assert time.monotonic() - started < HANG_SECONDS * 0.8
    assert_nothing_leaks(caught.value, caplog)


@pytest.mark.parametrize("call", ["exchange", "refresh", "revoke", "calendars"])
async def test_a_refused_connection_is_unavailable(make_gateway, caplog, call):
    # given nothing listens on the port
    base = f"http://127.0.0.1:{free_port()}"
    gateway = make_gateway(api_url=base, app_url=base, timeout_seconds=SHORT_TIMEOUT)

    # when
    started = time.monotonic()
    with pytest.raises(CronofyUnavailable) as caught:
        await invoke(gateway, call)

    # then
    assert type(caught.value) is CronofyUnavailable
    assert time.monotonic() - started < 1.0
    assert_nothing_leaks(caught.value, caplog)


# --- secrets never leak, across a whole session of calls -----------------------------------------


async def test_a_session_of_calls_logs_no_secret_at_debug(gateway, cronofy, caplog):
    # given a Cronofy that succeeds and then fails in every way
    cronofy.on("POST", TOKEN_PATH, json_reply(OAUTH_TOKEN_RESPONSE_JSON))
    cronofy.on("GET", CALENDARS_PATH, json_reply(CALENDARS_LIST_JSON))
    cronofy.on("POST", REVOKE_PATH, Reply(200, b"", None))

    # when the happy path runs...
    grant = await gateway.exchange_code(code=AUTH_CODE, redirect_uri=REDIRECT_URI)
    await gateway.list_calendars(access_token=grant.access_token)
    cronofy.on("POST", TOKEN_PATH, json_reply(OAUTH_REFRESH_RESPONSE_JSON))
    grant = await gateway.refresh(refresh_token=grant.refresh_token)
    await gateway.revoke(refresh_token=grant.refresh_token)
    # ...and then every kind of failure
    failures = 0
    for case in ERROR_CASES.values():
        cronofy.on(*ROUTE_OF[case.call], case.reply)
        with contextlib.suppress(CronofyError):
            await invoke(gateway, case.call)
            raise AssertionError(f"{case} did not fail")
        failures += 1

    # then the logs were really captured at DEBUG (so the check below is not vacuous)...
    assert failures == len(ERROR_CASES)
    names = {record.name for record in caplog.records}
    assert "gql_api.cronofy.gateway" in names
    assert any(record.levelno == logging.DEBUG for record in caplog.records)
    assert any("-> 200" in record.getMessage() for record in caplog.records if record.name == "gql_api.cronofy.gateway")
    # ...and no secret, token or upstream body appears in them
    assert_clean(caplog.text, "the captured logs")
    for record in caplog.records:
        assert_clean(record.getMessage(), f"log record {record.name}")
