"""The async Cronofy gateway: the only code that knows Cronofy's URLs, payloads and status codes."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_random_exponential
from tenacity.stop import stop_base

from ..domain.secrets import Secret
from . import wire
from .errors import CronofyError, CronofyRateLimited, CronofyUnavailable, InvalidClient
from .models import CalendarEvent, CronofyCalendar, ManagedEvent, TokenGrant

log = logging.getLogger(__name__)

# Least privilege (privacy notice §3): write our own events, nothing else is read.
LINK_SCOPES = ("list_calendars", "create_event", "delete_event")


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


MAX_EVENT_PAGES = 100  # a bound on following next_page, far above any real change set


class CronofyGateway:
    """One per application; owns its httpx client. Every call has a connect, read and whole-call timeout."""

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
        observe: Callable[[str, str, int, float], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client_id = client_id
        self._client_secret = Secret(client_secret)
        self.default_data_center = default_data_center
        self._api_override = api_url
        self._app_override = app_url
        self._call_timeout = timeout_seconds
        self._max_attempts = max_attempts
        self._retry_budget = retry_budget_seconds
        self._rate_budget = rate_budget
        self._observe = observe or (lambda method, path, status, seconds: None)  # (method, path, status, s)
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds, connect=min(5.0, timeout_seconds)),
            headers={"User-Agent": "gql-api (calendar-connection API)", "Accept": "application/json"},
            follow_redirects=False,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

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
        body = self._token_request({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri})
        # Never retried blindly: a code is single-use, and a refresh may rotate the refresh token.
        data = await self._call("POST", self.hosts(data_center).api + "/oauth/token", json=body, token_endpoint=True,
                                idempotent=False)
        return wire.token_grant(data, previous_refresh_token=None)

    async def refresh(self, *, refresh_token: Secret, data_center: str | None = None) -> TokenGrant:
        body = self._token_request({"grant_type": "refresh_token", "refresh_token": refresh_token.reveal()})
        data = await self._call("POST", self.hosts(data_center).api + "/oauth/token", json=body, token_endpoint=True,
                                idempotent=False)
        return wire.token_grant(data, previous_refresh_token=refresh_token)

    async def revoke(self, *, refresh_token: Secret | None = None, sub: str | None = None,
                     data_center: str | None = None) -> None:
        """Revoke with the refresh token, which cannot have expired (cronofy.md §3.5), or by `sub`,
        which ends every token of the account. Unknown tokens are fine: the answer is 200 anyway."""
        if (refresh_token is None) == (sub is None):
            raise ValueError("revoke with a refresh token or a sub")
        body = self._token_request({"token": refresh_token.reveal()} if refresh_token else {"sub": sub})
        await self._call("POST", self.hosts(data_center).api + "/oauth/token/revoke", json=body, token_endpoint=True)

    def _token_request(self, fields: dict[str, str]) -> dict[str, str]:
        return {"client_id": self._client_id, "client_secret": self._client_secret.reveal(), **fields}

    # --- user API -----------------------------------------------------------------------

    async def list_calendars(self, *, access_token: Secret, data_center: str | None = None) -> list[CronofyCalendar]:
        data = await self._call(
            "GET", self.hosts(data_center).api + "/v1/calendars", headers=_bearer(access_token)
        )
        return wire.calendars(data)

    async def upsert_event(self, *, access_token: Secret, calendar_id: str, event: CalendarEvent,
                           data_center: str | None = None) -> None:
        await self._call("POST", self._events_url(calendar_id, data_center), json=wire.event_body(event),
                         headers=_bearer(access_token))

    async def delete_event(self, *, access_token: Secret, calendar_id: str, event_id: str,
                           data_center: str | None = None) -> None:
        await self._call("DELETE", self._events_url(calendar_id, data_center), json={"event_id": event_id},
                         headers=_bearer(access_token))

    async def managed_events_since(self, *, access_token: Secret, since: datetime,
                                   data_center: str | None = None) -> list[ManagedEvent]:
        """Our own events changed at or after `since`, deletions included (privacy notice §3: every
        read carries only_managed=true). Follows next_page, but only on this data center's API host."""
        api = self.hosts(data_center).api
        url: str | None = api + "/v1/events?" + urlencode({
            "tzid": "Etc/UTC", "only_managed": "true", "include_deleted": "true",
            "last_modified": wire.cronofy_time(since),
        })
        events: list[ManagedEvent] = []
        for _ in range(MAX_EVENT_PAGES):
            if url is None:
                return events
            page, url = wire.managed_events_page(await self._call("GET", url, headers=_bearer(access_token)), api)
            events += page
        raise CronofyUnavailable(f"Cronofy's events read did not end within {MAX_EVENT_PAGES} pages")

    async def create_channel(self, *, access_token: Secret, callback_url: str,
                             data_center: str | None = None) -> str:
        """A push channel for our own events only; identical requests return the same channel."""
        data = await self._call("POST", self.hosts(data_center).api + "/v1/channels",
                                json={"callback_url": callback_url, "filters": {"only_managed": True}},
                                headers=_bearer(access_token))
        return wire.channel_id(data)

    async def close_channel(self, *, access_token: Secret, channel_id: str, data_center: str | None = None) -> None:
        await self._call("DELETE", f"{self.hosts(data_center).api}/v1/channels/{quote(channel_id, safe='')}",
                         headers=_bearer(access_token))

    def _events_url(self, calendar_id: str, data_center: str | None) -> str:
        return f"{self.hosts(data_center).api}/v1/calendars/{quote(calendar_id, safe='')}/events"

    # --- transport ----------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        token_endpoint: bool = False,
        idempotent: bool = True,
    ) -> Any:
        """One call; idempotent ones retry on 429, 5xx and network errors (reference/security.md §5.2):
        jittered exponential backoff or Cronofy's Retry-After, within an attempt and a waiting budget."""
        if not idempotent:
            return await self._send(method, url, json=json, headers=headers, token_endpoint=token_endpoint)
        retrying = AsyncRetrying(
            retry=retry_if_exception(lambda exc: _retryable(exc, self._retry_budget)),
            wait=_wait_for_cronofy,
            stop=stop_after_attempt(self._max_attempts) | _waited_beyond(self._retry_budget),
            sleep=self._sleep,
            before_sleep=_log_retry,
            reraise=True,
        )
        return await retrying(self._send, method, url, json=json, headers=headers, token_endpoint=token_endpoint)

    async def _send(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        token_endpoint: bool = False,
    ) -> Any:
        if self._rate_budget is not None:
            await self._rate_budget.acquire()
        endpoint = httpx.URL(url).path
        started = time.monotonic()
        # Failures are raised outside the except blocks: a chained httpx error would carry the
        # request, with its bearer token or client secret, in __context__.
        failure: CronofyError | None = None
        try:
            async with asyncio.timeout(self._call_timeout):
                response = await self._http.request(method, url, json=json, headers=headers)
                await response.aread()
        except (TimeoutError, httpx.TimeoutException):
            failure = CronofyUnavailable(f"Cronofy did not answer {method} {endpoint} in time")
        except httpx.HTTPError as exc:
            failure = CronofyUnavailable(f"Cronofy could not be reached for {method} {endpoint} "
                                         f"({type(exc).__name__})")
        elapsed = time.monotonic() - started
        if failure is not None:
            log.warning("cronofy %s %s failed: %s", method, endpoint, failure)
            self._observe(method, endpoint, 0, elapsed)
            raise failure
        self._observe(method, endpoint, response.status_code, elapsed)
        log.info("cronofy %s %s -> %s in %.0f ms", method, endpoint, response.status_code, elapsed * 1000)
        if response.status_code in (200, 201, 202, 204):
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                failure = CronofyUnavailable(f"Cronofy sent a body that is not JSON for {method} {endpoint}")
            raise failure
        what = f"{method} {endpoint}"
        error = wire.error_for(response.status_code, _json_or_none(response), what=what,
                               token_endpoint=token_endpoint, retry_after=response.headers.get("Retry-After"))
        if isinstance(error, InvalidClient):
            log.error("Cronofy refused our client credentials (%s): check CRONOFY_CLIENT_ID/SECRET", what)
        raise error


class RateBudget(Protocol):
    async def acquire(self) -> None:
        """Wait until one more call to Cronofy fits the application's rate limits."""


FIRST_BACKOFF_SECONDS = 0.5
LONGEST_BACKOFF_SECONDS = 8.0
_exponential_jitter = wait_random_exponential(multiplier=FIRST_BACKOFF_SECONDS, max=LONGEST_BACKOFF_SECONDS)


def _retryable(exc: BaseException, budget: float) -> bool:
    if isinstance(exc, CronofyRateLimited):
        # A long Retry-After is not waited out inside a call: the outbox reschedules it instead.
        return exc.retry_after is None or exc.retry_after <= budget
    return isinstance(exc, CronofyUnavailable)


def _wait_for_cronofy(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, CronofyRateLimited) and exc.retry_after is not None:
        return exc.retry_after
    return _exponential_jitter(state)


class _waited_beyond(stop_base):
    """Stop once the waits so far, plus the next one, would pass the budget."""

    def __init__(self, budget: float) -> None:
        self._budget = budget

    def __call__(self, state: RetryCallState) -> bool:
        return state.idle_for + (state.upcoming_sleep or 0) > self._budget


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning("cronofy call failed (%s); attempt %d, retrying in %.1f s", type(exc).__name__,
                state.attempt_number, state.upcoming_sleep)


def _bearer(token: Secret) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.reveal()}"}


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
