"""Flows through the API, as a client goes through them, for tests that need their result as a given."""

from __future__ import annotations

from typing import Any

from tests.support.api import REDIRECT_URI, Api
from tests.support.browser import consent
from tests.support.documents import BEGIN_LINK, LINK


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
