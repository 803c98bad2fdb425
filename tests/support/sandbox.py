"""The Cronofy sandbox in tests: the one app factory, serving on loopback, its control client, and the
OAuth steps the sandbox's own tests take without a browser page.

CLIENT_ID, CLIENT_SECRET and REDIRECT_URI here are the Cronofy application the sandbox's own tests
play (the sandbox's development defaults); the API tests configure another one (tests.support.api).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
from aiohttp import web
from aiohttp.test_utils import TestServer

from gql_api.sandbox import SandboxConfig, create_sandbox_app
from tests.support.clock import FakeClock

CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"
REDIRECT_URI = "https://app.example.test/calendars/callback"
PROFILE = "sandbox.user@example.com"
START = 1_700_000_000.0  # 2023-11-14T22:13:20Z; the seeded dentist is on 2023-11-15


def sandbox_app(clock: FakeClock | None, **settings: Any) -> web.Application:
    """A sandbox on `clock` (real time when None) for CLIENT_ID with REDIRECT_URI registered, unless
    `settings` (SandboxConfig's fields) say otherwise."""
    settings = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": (REDIRECT_URI,), **settings}
    if clock is not None:
        settings["clock"] = clock.timestamp
    return create_sandbox_app(SandboxConfig(**settings))


@asynccontextmanager
async def serving(app: web.Application, root: str = "") -> AsyncIterator[httpx.AsyncClient]:
    """Serve `app` on loopback and give a client whose base URL is the sandbox root."""
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with httpx.AsyncClient(base_url=str(server.make_url(root)), timeout=5.0) as http:
            yield http
    finally:
        await server.close()


@dataclass
class Sandbox:
    """A sandbox being served, its clock, and its control API; `http`'s base URL is the sandbox root."""

    http: httpx.AsyncClient
    clock: FakeClock
    app: web.Application

    @property
    def url(self) -> str:
        return str(self.http.base_url).rstrip("/")

    async def state(self) -> dict[str, Any]:
        return (await self.http.get("_control/state")).json()

    async def requests(self) -> list[dict[str, Any]]:
        return (await self.http.get("_control/requests")).json()

    async def fault(self, **plan: Any) -> None:
        (await self.http.post("_control/faults", json=plan)).raise_for_status()

    async def tokens(self, kind: str) -> list[dict[str, Any]]:
        return [token for token in (await self.state())["tokens"] if token["kind"] == kind]

    async def configure(self, **settings: Any) -> dict[str, Any]:
        response = await self.http.post("_control/config", json=settings)
        assert response.status_code == 200, response.text
        return response.json()


async def calendar_events(sandbox: Sandbox, *, deleted: bool = False) -> dict[str, dict[str, Any]]:
    """The managed events in the sandbox, by the owning profile's e-mail."""
    events = (await sandbox.http.get(f"{sandbox.url}/_control/events")).json()
    state = await sandbox.state()
    owners = {c["calendar_id"]: a["profile_name"] for a in state["accounts"] for c in a["calendars"]}
    return {owners[e["calendar_id"]]: e for e in events if e["managed"] and e["deleted"] is deleted}


# -- linking an account --------------------------------------------------------------------


def redirect_query(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    return dict(parse_qsl(urlsplit(response.headers["location"]).query))


async def allow(http: httpx.AsyncClient, *, scope: str, profile: str) -> str:
    """Press Allow on the consent form (posted as a browser would, without the page): the code."""
    consent = await http.post(
        "oauth/authorize",
        data={
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "scope": scope,
            "state": "s",
            "avoid_linking": "true",
            "provider_name": "google",
            "profile_name": profile,
            "decision": "allow",
        },
    )
    return redirect_query(consent)["code"]


async def exchange(
    http: httpx.AsyncClient, code: str, *, redirect_uri: str = REDIRECT_URI, as_form: bool = False
) -> httpx.Response:
    body = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
    }
    if as_form:
        return await http.post("oauth/token", data=body)
    return await http.post("oauth/token", json=body)


async def link_tokens(http: httpx.AsyncClient, *, scope: str, profile: str) -> dict[str, Any]:
    """Allow, then exchange the code: the token response of the linked account."""
    tokens = await exchange(http, await allow(http, scope=scope, profile=profile))
    assert tokens.status_code == 200, tokens.text
    return tokens.json()


async def calendar_ids(http: httpx.AsyncClient, sub: str) -> dict[str, str]:
    """An account's calendars by name, plus "primary", seen through the control API so any scope will do."""
    state = (await http.get("_control/state")).json()
    account = next(a for a in state["accounts"] if a["sub"] == sub)
    calendars = {c["calendar_name"]: c["calendar_id"] for c in account["calendars"]}
    calendars["primary"] = next(c["calendar_id"] for c in account["calendars"] if c["calendar_primary"])
    return calendars


@dataclass
class LinkedUser:
    http: httpx.AsyncClient
    sub: str
    token: str
    calendars: dict[str, str]  # calendar name -> calendar_id

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def primary(self) -> str:
        return self.calendars["primary"]

    def events_path(self, calendar_id: str | None = None) -> str:
        return f"v1/calendars/{quote(calendar_id or self.primary, safe='')}/events"
