"""Flows through the API, as a client goes through them, for tests that need their result as a given:
linking a calendar, scheduling a meeting (and reading its deliveries)."""

from __future__ import annotations

from typing import Any

from tests.support.api import REDIRECT_URI, Api
from tests.support.browser import consent
from tests.support.documents import BEGIN_LINK, LINK, SCHEDULE


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


def meeting_input(**overrides: Any) -> dict[str, Any]:
    return {
        "title": "Mentoring session",
        "description": "Career plans",
        "location": "Video call",
        "start": "2027-01-12T10:00:00Z",
        "end": "2027-01-12T11:00:00+00:00",
        "timeZone": "Europe/London",
        "participants": [{"userId": "bob", "email": "bob@example.test", "displayName": "Bob"}],
        **overrides,
    }


async def schedule(api: Api, *, user: str = "alice", **overrides: Any) -> dict[str, Any]:
    payload = (await api.data(SCHEDULE, {"input": meeting_input(**overrides)}, user=user))["scheduleMeeting"]
    assert payload["userErrors"] == [], payload
    return payload["meeting"]


def deliveries(meeting: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {p["email"]: (p["calendarEvent"]["delivery"], p["calendarEvent"]["status"]) for p in meeting["participants"]}
