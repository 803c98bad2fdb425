"""Delivering push notifications to channels' callback URLs, signed like Cronofy (§7.2, §7.3).

The `Pusher` owns one aiohttp `ClientSession`, opened when the sandbox app starts and closed
when it is cleaned up (this works mounted as a sub-app too: aiohttp forwards start-up and
clean-up signals to sub-apps, and an app's `cleanup_ctx` hangs on its own signals).
Every delivery attempt is recorded in the state, for `GET /_control/pushes`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Iterable, Sequence

import aiohttp
from aiohttp import web

from .journal import PushRecord
from .model import Push
from .render import push_json
from .state import SandboxState

USER_AGENT = "Cronofy (https://www.cronofy.com/support/)"
CONTENT_TYPE = "application/json; charset=utf-8"
HMAC_HEADER = "Cronofy-HMAC-SHA256"
# Background deliveries (verification pushes, pushes after a relink) in flight at once; more wait.
MAX_BACKGROUND_DELIVERIES = 256


def sign(body: bytes, secrets: Iterable[str]) -> str:
    """The `Cronofy-HMAC-SHA256` value: base64 HMAC-SHA256 of the raw body per secret, comma-joined."""
    return ",".join(
        base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode("ascii") for secret in secrets
    )


def push_body(push: Push) -> bytes:
    """Compact JSON, `notification` then `channel`, as Cronofy sends it."""
    return json.dumps(push_json(push), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class Pusher:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._session: aiohttp.ClientSession | None = None
        self._background: set[asyncio.Task[list[PushRecord]]] = set()
        self._slots = asyncio.Semaphore(MAX_BACKGROUND_DELIVERIES)

    @property
    def running(self) -> bool:
        """Whether the client session is open (between the app's start-up and clean-up)."""
        return self._session is not None and not self._session.closed

    async def session_context(self, app: web.Application) -> AsyncIterator[None]:
        """For the sandbox app's `cleanup_ctx`: the client session lives as long as the app."""
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5), trust_env=False)
        try:
            yield
        finally:
            await self.cancel_background()
            await self._session.close()
            self._session = None

    async def deliver(self, pushes: Sequence[Push]) -> list[PushRecord]:
        """Send these pushes now (concurrently) and give their delivery records once all answered."""
        attempts = [record for push in pushes for record in self._plan(push)]
        await asyncio.gather(*(self._send(record) for record in attempts if not record.dropped))
        return attempts

    def deliver_later(self, pushes: Sequence[Push]) -> None:
        """Send these pushes in the background (after the current request has been answered)."""
        if not pushes:
            return
        task = asyncio.create_task(self._deliver_in_background(list(pushes)))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def wait_for_background(self, timeout: float) -> bool:
        """Wait (bounded) for background deliveries in flight; True when none is left."""
        pending = set(self._background)
        if pending:
            await asyncio.wait(pending, timeout=timeout)
        return not self._background

    async def cancel_background(self) -> None:
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _deliver_in_background(self, pushes: list[Push]) -> list[PushRecord]:
        async with self._slots:
            return await self.deliver(pushes)

    def _plan(self, push: Push) -> list[PushRecord]:
        """The records of this push's attempts, taking up the drop and duplicate counters."""
        config = self.state.config
        body = push_body(push)
        copies, dropped = 1, False
        if push.channel.silent:
            dropped = True
        elif config.push_drops > 0:
            config.push_drops -= 1
            dropped = True
        elif config.push_duplicates > 0:
            config.push_duplicates -= 1
            copies = 2
        signature = sign(body, config.active_signing_secrets)
        return [
            self.state.pushes.add(
                PushRecord(
                    channel_id=push.channel.channel_id,
                    type=push.notification.type,
                    callback_url=push.channel.callback_url,
                    body=body.decode("utf-8"),
                    hmac=signature,
                    at=self.state.now(),
                    dropped=dropped,
                )
            )
            for _ in range(copies)
        ]

    async def _send(self, record: PushRecord) -> None:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("the sandbox app is not running: pushes need its client session")
        headers = {"Content-Type": CONTENT_TYPE, "User-Agent": USER_AGENT, HMAC_HEADER: record.hmac}
        timeout = aiohttp.ClientTimeout(total=self.state.config.push_timeout)
        try:
            async with session.post(
                record.callback_url,
                data=record.body.encode("utf-8"),
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
            ) as response:
                record.status = response.status  # the body is not read: Cronofy only looks at the status
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
            record.status = 0  # connection refused, reset, timed out, or a URL aiohttp cannot use
