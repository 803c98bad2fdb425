"""The async Cronofy gateway: the only code that knows Cronofy's URLs. Each endpoint is a call made by
the client (client.py: timeouts, retries, rate budget) on a body read or written by wire.py."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from ..domain.secrets import Secret
from . import wire
from .budget import Purpose
from .client import CronofyClient, Observe, RateBudget
from .errors import CronofyUnavailable
from .models import LINK_SCOPES, CalendarEvent, CronofyCalendar, ManagedEvent, TokenGrant

MAX_EVENT_PAGES = 100  # a bound on following next_page, far above any real change set


@dataclasses.dataclass(frozen=True)
class CronofyHosts:
    api: str
    app: str


def hosts_for(data_center: str, *, api_override: str | None = None, app_override: str | None = None) -> CronofyHosts:
    """reference/cronofy.md §1: `us` has no suffix, every other data center `-xx`."""
    suffix = "" if data_center in ("", "us") else f"-{data_center}"
    return CronofyHosts(
        api=(api_override or f"https://api{suffix}.cronofy.com").rstrip("/"),
        app=(app_override or f"https://app{suffix}.cronofy.com").rstrip("/"),
    )


class CronofyGateway:
    """One per application; owns its client. Every call has a connect, read and whole-call timeout."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        default_data_center: str = "us",
        api_url: str | None = None,
        app_url: str | None = None,
        timeout_seconds: float = 10.0,
        max_attempts: int = 4,
        retry_budget_seconds: float = 20.0,
        rate_budget: RateBudget | None = None,
        observe: Observe | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client_id = client_id
        self._client_secret = Secret(client_secret)
        self.default_data_center = default_data_center
        self._api_override = api_url
        self._app_override = app_url
        self._client = CronofyClient(
            timeout_seconds=timeout_seconds,
            max_attempts=max_attempts,
            retry_budget_seconds=retry_budget_seconds,
            rate_budget=rate_budget,
            observe=observe,
            sleep=sleep,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def hosts(self, data_center: str | None = None) -> CronofyHosts:
        return hosts_for(
            data_center or self.default_data_center,
            api_override=self._api_override,
            app_override=self._app_override,
        )

    # --- OAuth --------------------------------------------------------------------------

    def authorization_url(
        self, *, redirect_uri: str, state: str, data_center: str | None = None, provider_name: str | None = None
    ) -> str:
        params = {
            "response_type": "code",
            "client_id": self._client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(LINK_SCOPES),
            "state": state,
            # Without it Cronofy merges accounts authorised in one browser (cronofy.md §3.1).
            "avoid_linking": "true",
        }
        if provider_name:
            params["provider_name"] = provider_name
        return f"{self.hosts(data_center).app}/oauth/authorize?{urlencode(params)}"

    async def exchange_code(self, *, code: str, redirect_uri: str, data_center: str | None = None) -> TokenGrant:
        fields = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        return await self._grant(fields, data_center, previous_refresh_token=None, purpose=Purpose.LINKING)

    async def refresh(self, *, refresh_token: Secret, data_center: str | None = None) -> TokenGrant:
        fields = {"grant_type": "refresh_token", "refresh_token": refresh_token.reveal()}
        return await self._grant(fields, data_center, previous_refresh_token=refresh_token, purpose=Purpose.REFRESH)

    async def revoke(
        self, *, refresh_token: Secret | None = None, sub: str | None = None, data_center: str | None = None
    ) -> None:
        """Revoke with the refresh token, which cannot have expired (cronofy.md §3.5), or by `sub`,
        which ends every token of the account. Unknown tokens are fine: the answer is 200 anyway."""
        if (refresh_token is None) == (sub is None):
            raise ValueError("revoke with a refresh token or a sub")
        fields = {"token": refresh_token.reveal()} if refresh_token else {"sub": sub}
        await self._client.call(
            "POST",
            self._api(data_center) + "/oauth/token/revoke",
            endpoint="token.revoke",
            purpose=Purpose.REVOKE,
            json=self._token_request(fields),
            token_endpoint=True,
        )

    async def _grant(
        self,
        fields: dict[str, str],
        data_center: str | None,
        *,
        previous_refresh_token: Secret | None,
        purpose: Purpose,
    ) -> TokenGrant:
        # Never retried blindly: a code is single-use, and a refresh may rotate the refresh token.
        data = await self._client.call(
            "POST",
            self._api(data_center) + "/oauth/token",
            endpoint="token",
            purpose=purpose,
            json=self._token_request(fields),
            token_endpoint=True,
            idempotent=False,
        )
        return wire.token_grant(data, previous_refresh_token=previous_refresh_token)

    def _token_request(self, fields: dict[str, Any]) -> dict[str, Any]:
        return {"client_id": self._client_id, "client_secret": self._client_secret.reveal(), **fields}

    # --- user API -----------------------------------------------------------------------

    async def list_calendars(self, *, access_token: Secret, data_center: str | None = None) -> list[CronofyCalendar]:
        data = await self._client.call(
            "GET", self._api(data_center) + "/v1/calendars", endpoint="calendars.list", access_token=access_token
        )
        return wire.calendars(data)

    async def upsert_event(
        self, *, access_token: Secret, calendar_id: str, event: CalendarEvent, data_center: str | None = None
    ) -> None:
        await self._client.call(
            "POST",
            self._events_url(calendar_id, data_center),
            endpoint="events.upsert",
            purpose=Purpose.EVENT_WRITE,
            json=wire.event_body(event),
            access_token=access_token,
        )

    async def delete_event(
        self, *, access_token: Secret, calendar_id: str, event_id: str, data_center: str | None = None
    ) -> None:
        await self._client.call(
            "DELETE",
            self._events_url(calendar_id, data_center),
            endpoint="events.delete",
            purpose=Purpose.EVENT_WRITE,
            json={"event_id": event_id},
            access_token=access_token,
        )

    async def managed_events_since(
        self, *, access_token: Secret, since: datetime, data_center: str | None = None
    ) -> list[ManagedEvent]:
        """Our own events changed at or after `since`, deletions included (privacy notice §3: every
        read carries only_managed=true). Follows next_page, but only on this data center's API host."""
        api = self._api(data_center)
        url: str | None = (
            api
            + "/v1/events?"
            + urlencode(
                {
                    "tzid": "Etc/UTC",
                    "only_managed": "true",
                    "include_deleted": "true",
                    "last_modified": wire.cronofy_time(since),
                }
            )
        )
        events: list[ManagedEvent] = []
        for _ in range(MAX_EVENT_PAGES):
            if url is None:
                return events
            data = await self._client.call("GET", url, endpoint="events.read", access_token=access_token)
            page, url = wire.managed_events_page(data, api)
            events += page
        raise CronofyUnavailable(f"Cronofy's events read did not end within {MAX_EVENT_PAGES} pages")

    async def create_channel(self, *, access_token: Secret, callback_url: str, data_center: str | None = None) -> str:
        """A push channel for our own events only; identical requests return the same channel."""
        data = await self._client.call(
            "POST",
            self._api(data_center) + "/v1/channels",
            endpoint="channels.create",
            json={"callback_url": callback_url, "filters": {"only_managed": True}},
            access_token=access_token,
        )
        return wire.channel_id(data)

    async def close_channel(self, *, access_token: Secret, channel_id: str, data_center: str | None = None) -> None:
        await self._client.call(
            "DELETE",
            f"{self._api(data_center)}/v1/channels/{quote(channel_id, safe='')}",
            endpoint="channels.close",
            access_token=access_token,
        )

    def _api(self, data_center: str | None) -> str:
        return self.hosts(data_center).api

    def _events_url(self, calendar_id: str, data_center: str | None) -> str:
        return f"{self._api(data_center)}/v1/calendars/{quote(calendar_id, safe='')}/events"
