"""The API under test: the identity it is configured with, and a GraphQL client that talks to it over HTTP.

CLIENT_ID, CLIENT_SECRET and REDIRECT_URI are the Cronofy application the API tests configure (the
sandbox they start registers it); the sandbox's own tests play another one (tests.support.sandbox).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient

from gql_api import Settings
from gql_api.auth import mint_dev_token
from gql_api.keys import RUNTIME

CLIENT_ID = "test-client-id"
CLIENT_SECRET = "cs-9f3b1c7e2a5d4b8f6e0a"
JWT_SECRET = "test-jwt-secret-with-at-least-32-bytes!!"
REDIRECT_URI = "https://mentoring.example.test/calendar/linked"
CAST = frozenset({"alice", "bob", "carol", "dave", "erin"})  # mentoring partners of each other
ADMIN = "mentoring-platform"  # the platform's backend, acting with a service token
# Two fixed keys (32 zero bytes and 32 0x01 bytes, URL-safe base64): the first encrypts.
KEYS = "k2:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE,k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"


class Api:
    """Posts GraphQL as a client would, and keeps every response body for leak checks."""

    def __init__(self, client: TestClient, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.bodies: list[str] = []

    def token(
        self,
        user_id: str,
        *,
        partners: tuple[str, ...] | None = None,
        name: str | None = None,
        roles: tuple[str, ...] = (),
    ) -> str:
        """A token as the platform would issue it: the cast of the tests are each other's mentoring partners
        (the `partners` claim) unless the test says otherwise; Mallory and strangers are nobody's. The
        platform's own backend has a token with the admin role (`admin_headers`)."""
        if partners is None:
            partners = tuple(sorted(CAST - {user_id})) if user_id in CAST else ()
        return mint_dev_token(
            self.settings, user_id, email=f"{user_id}@example.test", name=name, partners=partners, roles=roles
        )

    def headers(self, user_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id)}"}

    def admin_headers(self) -> dict[str, str]:
        """The platform's backend: a service token with the admin role (AUTH_ADMIN_ROLE)."""
        token = self.token(ADMIN, partners=(), roles=(self.settings.auth_admin_role,))
        return {"Authorization": f"Bearer {token}"}

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

    async def reconcile(self, clock: Any, *, minutes: int = 3) -> int:
        """Reconciliation as the worker runs it, a pass a minute for a few minutes: it is paced (at least one
        calendar a minute), so calendars due at one moment are read one after another. How many were read."""
        read = 0
        for _ in range(minutes):
            read += (await self.work("reconciliation", "calendar changes"))["calendar changes"]
            clock.advance(minutes=1)
        return read

    async def data(self, query: str, variables: dict[str, Any] | None = None, *, user: str = "alice") -> dict:
        body = await self.gql(query, variables, user=user)
        assert "errors" not in body, body["errors"]
        return body["data"]
