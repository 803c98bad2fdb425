"""How every call to Cronofy is made: one httpx client, timeouts, the rate budget, the observe
callback, retries of idempotent calls (gql_api.retry), and errors that carry no secret."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import httpx
from tenacity import RetryCallState

from ..domain.secrets import Secret
from ..retry import Backoff, retrying
from . import wire
from .budget import DEFERRED, Purpose, Spending, current_spending
from .errors import BudgetDeferred, CronofyError, CronofyRateLimited, CronofyUnavailable, InvalidClient

# The gateway's logger name, kept through the split: log filters and alerts know it.
log = logging.getLogger("gql_api.cronofy.gateway")

BACKOFF = Backoff(first=0.5, longest=8.0)
SUCCESS = frozenset({200, 201, 202, 204})

# (endpoint, purpose, status or 0 for no answer or DEFERRED, seconds): labels from fixed sets only
Observe = Callable[[str, str, int, float], None]


class RateBudget(Protocol):
    async def acquire(self, spending: Spending) -> None:
        """Return when one more call fits the application's rate limits (user-facing calls wait), or raise
        BudgetDeferred for a background call that does not fit now."""


class CronofyClient:
    """One per gateway; owns its httpx client. Every call has a connect, read and whole-call timeout."""

    def __init__(
        self,
        *,
        timeout_seconds: float,
        max_attempts: int,
        retry_budget_seconds: float,
        rate_budget: RateBudget | None,
        observe: Observe | None,
        sleep: Callable[[float], Awaitable[None]],
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self._call_timeout = timeout_seconds
        self._max_attempts = max_attempts
        self._retry_budget = retry_budget_seconds
        self._rate_budget = rate_budget
        self._observe = observe or (lambda endpoint, purpose, status, seconds: None)
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds, connect=min(5.0, timeout_seconds)),
            headers={"User-Agent": "gql-api (calendar-connection API)", "Accept": "application/json"},
            follow_redirects=False,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        purpose: Purpose | None = None,
        json: Any = None,
        access_token: Secret | None = None,
        token_endpoint: bool = False,
        idempotent: bool = True,
    ) -> Any:
        """One call, answering the decoded JSON (None for an empty body) or raising a CronofyError.
        Idempotent calls retry on 429, 5xx and network errors (reference/security.md §5.2): jittered
        exponential backoff or Cronofy's Retry-After, within an attempt and a waiting budget."""

        spending = current_spending(purpose)

        async def send() -> Any:
            return await self._send(method, url, endpoint, spending, json, access_token, token_endpoint)

        if not idempotent:
            return await send()
        policy = retrying(
            backoff=BACKOFF,
            retry_on=self._retryable,
            max_attempts=self._max_attempts,
            budget_seconds=self._retry_budget,
            retry_after=_retry_after,
            sleep=self._sleep,
            before_sleep=_log_retry,
        )
        return await policy(send)

    def _retryable(self, error: BaseException) -> bool:
        if isinstance(error, CronofyRateLimited):
            # A long Retry-After is not waited out inside a call: the outbox reschedules it instead.
            return error.retry_after is None or error.retry_after <= self._retry_budget
        return isinstance(error, CronofyUnavailable)

    async def _send(
        self,
        method: str,
        url: str,
        endpoint: str,
        spending: Spending,
        json: Any,
        access_token: Secret | None,
        token_endpoint: bool,
    ) -> Any:
        purpose = spending.purpose.value
        if self._rate_budget is not None:
            try:
                await self._rate_budget.acquire(spending)
            except BudgetDeferred:
                self._observe(endpoint, purpose, DEFERRED, 0.0)
                raise
        headers = {"Authorization": f"Bearer {access_token.reveal()}"} if access_token is not None else None
        what = f"{method} {httpx.URL(url).path}"
        started = time.monotonic()
        # Failures are raised outside the except blocks: a chained httpx error would carry the
        # request, with its bearer token or client secret, in __context__.
        failure: CronofyError | None = None
        try:
            async with asyncio.timeout(self._call_timeout):
                response = await self._http.request(method, url, json=json, headers=headers)
                await response.aread()
        except (TimeoutError, httpx.TimeoutException):
            failure = CronofyUnavailable(f"Cronofy did not answer {what} in time")
        except httpx.HTTPError as exc:
            failure = CronofyUnavailable(f"Cronofy could not be reached for {what} ({type(exc).__name__})")
        elapsed = time.monotonic() - started
        if failure is not None:
            log.warning("cronofy %s failed: %s", what, failure)
            self._observe(endpoint, purpose, 0, elapsed)
            raise failure
        self._observe(endpoint, purpose, response.status_code, elapsed)
        log.info("cronofy %s -> %s in %.0f ms", what, response.status_code, elapsed * 1000)
        readable, data = _json(response)
        if response.status_code in SUCCESS:
            if not response.content:
                return None
            if readable:
                return data
            raise CronofyUnavailable(f"Cronofy sent a body that is not JSON for {what}")
        error = wire.error_for(
            response.status_code,
            data,
            what=what,
            token_endpoint=token_endpoint,
            retry_after=response.headers.get("Retry-After"),
        )
        if isinstance(error, InvalidClient):
            log.error("Cronofy refused our client credentials (%s): check CRONOFY_CLIENT_ID/SECRET", what)
        raise error


def _json(response: httpx.Response) -> tuple[bool, Any]:
    """(True, the decoded body) or (False, None); the decoding error is dropped here, not chained."""
    try:
        return True, response.json()
    except ValueError:
        return False, None


def _retry_after(error: BaseException) -> float | None:
    return error.retry_after if isinstance(error, CronofyRateLimited) else None


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning(
        "cronofy call failed (%s); attempt %d, retrying in %.1f s",
        type(error).__name__,
        state.attempt_number,
        state.upcoming_sleep,
    )
