"""Test helpers: a GraphQL client, the sandbox's control API, a browser for the consent page."""

from __future__ import annotations

import collections
import dataclasses
import html.parser
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
from aiohttp.test_utils import TestClient

from gql_api import Settings
from gql_api.auth import mint_dev_token
from gql_api.keys import RUNTIME

CLIENT_ID = "test-client-id"
CLIENT_SECRET = "cs-9f3b1c7e2a5d4b8f6e0a"
JWT_SECRET = "test-jwt-secret-with-at-least-32-bytes!!"
REDIRECT_URI = "https://mentoring.example.test/calendar/linked"
# Two fixed keys (32 zero bytes and 32 0x01 bytes, URL-safe base64): the first encrypts.
KEYS = "k2:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE,k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"


class FakeClock:
    """The API's clock; tests move it instead of sleeping."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclasses.dataclass
class Sandbox:
    url: str
    http: httpx.AsyncClient

    async def state(self) -> dict[str, Any]:
        return (await self.http.get(f"{self.url}/_control/state")).json()

    async def requests(self) -> list[dict[str, Any]]:
        return (await self.http.get(f"{self.url}/_control/requests")).json()

    async def fault(self, **plan: Any) -> None:
        (await self.http.post(f"{self.url}/_control/faults", json=plan)).raise_for_status()

    async def tokens(self, kind: str) -> list[dict[str, Any]]:
        return [token for token in (await self.state())["tokens"] if token["kind"] == kind]


class Api:
    """Posts GraphQL as a client would, and keeps every response body for leak checks."""

    def __init__(self, client: TestClient, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.bodies: list[str] = []

    def token(self, user_id: str) -> str:
        return mint_dev_token(self.settings, user_id, email=f"{user_id}@example.test")

    async def post(self, payload: Any, *, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        response = await self.client.post("/graphql", json=payload, headers=headers or {})
        text = await response.text()
        self.bodies.append(text + str(dict(response.headers)))
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, {"text": text}

    async def gql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        user: str | None = "alice",
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        headers = dict(headers or {})
        if user is not None:
            headers.setdefault("Authorization", f"Bearer {self.token(user)}")
        status, body = await self.post({"query": query, "variables": variables or {}}, headers=headers)
        assert status == 200, body
        return body

    async def work(self, *jobs: str) -> dict[str, int]:
        """One pass of the named worker jobs (all of them when none is named), as the worker would run
        them; returns how many items each handled."""
        worker = self.client.app[RUNTIME].worker
        if not jobs:
            return await worker.run_once()
        return {job: await worker.run_job(job) for job in jobs}

    async def data(self, query: str, variables: dict[str, Any] | None = None, *, user: str = "alice") -> dict:
        body = await self.gql(query, variables, user=user)
        assert "errors" not in body, body["errors"]
        return body["data"]


# --- the browser's side of the OAuth dance --------------------------------------------------


class _FormParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        if tag == "form" and attributes.get("id") == "consent":
            self.action = attributes.get("action", "")
        elif tag == "input" and attributes.get("name"):
            self.fields[attributes["name"]] = attributes.get("value", "")
        elif tag == "select":
            self._select = attributes.get("name")
        elif tag == "option" and self._select and ("selected" in attributes or self._select not in self.fields):
            self.fields[self._select] = attributes.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


async def consent(authorization_url: str, *, decision: str = "allow", **choices: str) -> dict[str, str]:
    """Open the consent page like a browser, submit the form, and return the redirect's query."""
    async with httpx.AsyncClient(timeout=5, follow_redirects=False) as browser:
        page = await browser.get(authorization_url)
        assert page.status_code == 200, page.text
        form = _FormParser()
        form.feed(page.text)
        assert form.action is not None, "no consent form on the page"
        fields = {**form.fields, **choices, "decision": decision}
        answer = await browser.post(urljoin(str(page.url), form.action), data=fields)
    assert answer.status_code in (302, 303), answer.text
    location = answer.headers["Location"]
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


BEGIN_LINK = """
mutation Begin($input: BeginCalendarLinkInput!) {
  beginCalendarLink(input: $input) { authorizationUrl expiresAt userErrors { code message field } }
}"""

LINK = """
mutation Link($input: LinkCalendarInput!) {
  linkCalendar(input: $input) {
    connection { id provider profileName status scopes calendar { id name primary } linkedAt lastSyncedAt }
    userErrors { code message field }
  }
}"""

UNLINK = """
mutation Unlink($input: UnlinkCalendarInput!) {
  unlinkCalendar(input: $input) { unlinkedConnectionId userErrors { code message field } }
}"""

CONNECTIONS = "query { calendarConnections { id provider profileName status scopes calendar { id name primary } } }"


async def begin_link(api: Api, *, user: str = "alice", provider: str | None = None) -> str:
    variables = {"input": {"redirectUri": REDIRECT_URI, **({"provider": provider} if provider else {})}}
    payload = (await api.data(BEGIN_LINK, variables, user=user))["beginCalendarLink"]
    assert payload["userErrors"] == []
    return payload["authorizationUrl"]


async def link_account(
    api: Api, *, user: str = "alice", profile_name: str = "alice@example.test", provider_name: str = "google"
) -> dict[str, Any]:
    """The whole happy path: begin, consent in the sandbox, link. Returns the connection."""
    callback = await consent(await begin_link(api, user=user), profile_name=profile_name, provider_name=provider_name)
    payload = (await api.data(LINK, {"input": {"code": callback["code"], "state": callback["state"]}}, user=user))[
        "linkCalendar"
    ]
    assert payload["userErrors"] == [], payload
    return payload["connection"]


class CountingDatabase:
    """Wraps a motor-style database and counts collection method calls by (collection, method): one
    call is one MongoDB command (cursors here never outgrow their first batch)."""

    def __init__(self, database, counts: collections.Counter) -> None:
        self._database, self._counts = database, counts

    def __getitem__(self, name: str):
        return _CountingCollection(self._database[name], name, self._counts)

    def __getattr__(self, name: str):
        attribute = getattr(self._database, name)
        if name == "command":

            def command(*args, **kwargs):
                self._counts[("<db>", "command")] += 1
                return attribute(*args, **kwargs)

            return command
        return attribute


class _CountingCollection:
    def __init__(self, collection, name: str, counts: collections.Counter) -> None:
        self._collection, self._name, self._counts = collection, name, counts

    def __getattr__(self, method: str):
        attribute = getattr(self._collection, method)
        if not callable(attribute):
            return attribute

        def counted(*args, **kwargs):
            self._counts[(self._name, method)] += 1
            return attribute(*args, **kwargs)

        return counted
