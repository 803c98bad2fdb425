"""The whole service on a simulated clock, for counting what work costs: the real app (GraphQL, webhooks,
services, worker, the MongoDB store on mongomock) and the sandbox standing in for Cronofy, both served on
127.0.0.1 and both reading one `FakeClock`.

Nothing sleeps: every wait of the service (the rate budget's, a retry's) moves the clock instead, and
`run_until` moves it on between worker passes, as a worker polling every WORKER_POLL_SECONDS would run
them (a pass each poll while there is work, else the next pass at the next minute: work that falls due
while the worker is idle starts up to a minute later than a real worker would start it, and nothing else
changes). Cronofy answers in `cronofy_latency` of simulated time, so a worker's pass takes time as it does.

What is counted, per simulated minute (`Minute`):
- the calls Cronofy received (the sandbox's own journal: what counts towards its limits), and its 429s;
- the service's own account of its calls, by purpose and status, and the calls it deferred (the app's
  Prometheus counters, `cronofy_calls_total`);
- every MongoDB command the app sent (one collection method call is one command).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from mongomock_motor import AsyncMongoMockClient

from gql_api import Settings, create_app
from gql_api.auth import mint_dev_token
from gql_api.keys import METRICS, RUNTIME
from gql_api.sandbox import SandboxConfig, create_sandbox_app
from gql_api.sandbox.keys import SANDBOX_PUSHER, SANDBOX_STATE
from gql_api.sandbox.limits import counts_toward_limit
from gql_api.store.mongo import CONNECTIONS, MEETINGS, REVOCATIONS
from tests.support.api import CLIENT_ID, CLIENT_SECRET, JWT_SECRET, KEYS, REDIRECT_URI
from tests.support.browser import ConsentForm
from tests.support.clock import FakeClock
from tests.support.counting import CountingDatabase
from tests.support.documents import BEGIN_LINK, LINK
from tests.support.fast_mongomock import fast_mongomock
from tests.support.net import free_port

MINUTE = timedelta(minutes=1)
CRONOFY_TOKEN_SECONDS = 3 * 3600  # Cronofy's access tokens last three hours
SETTLE_ROUNDS = 10_000  # bound on waiting for background work between steps (each round yields once)


@dataclasses.dataclass
class Minute:
    """What one simulated minute cost."""

    at: datetime
    received: int = 0  # calls Cronofy received (429s included)
    rate_limited: int = 0  # of which Cronofy answered 429
    by_purpose: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)  # sent
    deferred: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)  # not sent
    mongo: int = 0


class Simulation:
    def __init__(
        self,
        *,
        start: datetime,
        settings: dict[str, Any] | None = None,
        sandbox: dict[str, Any] | None = None,
        cronofy_latency: float = 0.15,
        idle_step: timedelta = MINUTE,
    ) -> None:
        self.idle_step = idle_step  # how far the clock moves after a pass that found nothing to do
        self.cronofy_latency = cronofy_latency  # seconds each Cronofy call takes: the clock moves on by it
        self.clock = FakeClock(start)
        self.port = free_port()
        self.settings = Settings(
            **{
                "public_base_url": f"http://127.0.0.1:{self.port}",
                "cronofy_client_id": CLIENT_ID,
                "cronofy_client_secret": CLIENT_SECRET,
                "token_encryption_keys": KEYS,
                "auth_jwt_secret": JWT_SECRET,
                "allowed_redirect_uris": (REDIRECT_URI,),
                "worker_enabled": False,  # `run_until` runs the worker's passes on the simulated clock
                "mutations_per_user_per_minute": 0,
                **(settings or {}),
            }
        )
        self.sandbox_config = SandboxConfig(
            **{
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": (REDIRECT_URI,),
                "clock": self.clock.timestamp,
                "access_token_ttl": CRONOFY_TOKEN_SECONDS,
                "rate_limit_per_second": 50,  # Cronofy's defaults: a call over them would be a 429 here
                "rate_limit_per_minute": 500,
                **(sandbox or {}),
            }
        )
        self.mongo: collections.Counter[tuple[str, str]] = collections.Counter()
        self.raw_database = AsyncMongoMockClient(tz_aware=True)["capacity"]  # for looking, uncounted
        self.database = CountingDatabase(self.raw_database, self.mongo)
        self.minutes: list[Minute] = []
        self._minute_start = self._minute_of(self.clock())
        self._received: dict[datetime, tuple[int, int]] = {}
        self._purposes_seen: collections.Counter[tuple[str, str]] = collections.Counter()
        self._mongo_seen = 0
        self._stack = contextlib.AsyncExitStack()

    # --- the two servers ------------------------------------------------------------------------

    async def __aenter__(self) -> Simulation:
        self._stack.enter_context(fast_mongomock())
        self.sandbox_app = create_sandbox_app(self.sandbox_config)
        self.sandbox_app.middlewares.append(self._answering_takes_time)
        sandbox = TestServer(self.sandbox_app, host="127.0.0.1")
        await sandbox.start_server()
        self._stack.push_async_callback(sandbox.close)
        self.sandbox_url = str(sandbox.make_url("")).rstrip("/")
        self.settings = dataclasses.replace(
            self.settings, cronofy_api_url=self.sandbox_url, cronofy_app_url=self.sandbox_url
        )
        self.http = await self._stack.enter_async_context(httpx.AsyncClient(base_url=self.sandbox_url, timeout=30))
        await self.start_app()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop_app()
        await self._stack.aclose()

    async def start_app(self, **settings: Any) -> None:
        """Start the app (again: a restart keeps the database and the port, so channels still reach it)."""
        if settings:
            self.settings = dataclasses.replace(self.settings, **settings)
        app = create_app(self.settings, database=self.database, clock=self.clock, sleep=self.sleep)
        self.client = TestClient(TestServer(app, host="127.0.0.1", port=self.port))
        await self.client.start_server()
        self._purposes_seen = self._purposes()

    async def stop_app(self) -> None:
        await self.settle()
        await self.client.close()

    async def restart(self, **settings: Any) -> None:
        """Stop the process and start another on the same database: what is due must be found again."""
        await self.stop_app()
        await self.start_app(**settings)

    @web.middleware
    async def _answering_takes_time(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith("/_control"):
            self.clock.advance(self.cronofy_latency)
        return await handler(request)  # type: ignore[no-any-return]

    @property
    def runtime(self) -> Any:
        return self.client.app[RUNTIME]

    # --- time -----------------------------------------------------------------------------------

    async def sleep(self, seconds: float) -> None:
        """Every wait of the service: the clock moves on instead."""
        self.clock.advance(max(0.0, seconds))
        await asyncio.sleep(0)

    async def settle(self) -> None:
        """Let background work finish at this instant: the app's (writes, reads after pushes, channels)
        and the sandbox's (pushes in flight)."""
        pusher = self.sandbox_app[SANDBOX_PUSHER]
        for _ in range(SETTLE_ROUNDS):
            await pusher.wait_for_background(5.0)
            if not len(self.runtime.background):
                return
            await asyncio.sleep(0.001)
        raise AssertionError("background work did not settle")

    async def run_until(
        self, until: datetime, *, on_minute: Callable[[Minute], None] | None = None, keep_minutes: bool = True
    ) -> None:
        """Worker passes up to `until`: one pass per poll while a pass finds work, else the next at the next
        minute. Each simulated minute's costs are recorded (in `minutes`, unless `keep_minutes` is False)."""
        poll = timedelta(seconds=self.settings.worker_poll_seconds)
        while self.clock() < until:
            handled = await self.runtime.worker.run_once()
            await self.settle()
            now = self.clock()  # a pass takes time: each call Cronofy answers moves the clock
            idle = self._minute_of(now) + self.idle_step
            target = min(now + poll if any(handled.values()) else idle, until)
            self.clock.now = max(now, target)
            while self._minute_start + MINUTE <= self.clock():
                minute = self.close_minute()
                if keep_minutes:
                    self.minutes.append(minute)
                if on_minute is not None:
                    on_minute(minute)

    @staticmethod
    def _minute_of(moment: datetime) -> datetime:
        return moment.replace(second=0, microsecond=0)

    def start_counting(self) -> None:
        """Forget what was counted so far: counting starts with the current minute."""
        self.close_minute()
        self.minutes.clear()
        self._received.clear()
        self._minute_start = self._minute_of(self.clock())

    def close_minute(self) -> Minute:
        """The costs of the minute being counted. Cronofy's calls are placed by the moment it received them;
        the service's account by purpose and the MongoDB commands by when the minute closed."""
        minute = Minute(at=self._minute_start)
        self._collect_received()
        minute.received, minute.rate_limited = self._received.pop(minute.at, (0, 0))
        purposes = self._purposes()
        for (purpose, status), count in (purposes - self._purposes_seen).items():
            (minute.deferred if status == "deferred" else minute.by_purpose)[purpose] += count
        self._purposes_seen = purposes
        total = sum(self.mongo.values())
        minute.mongo, self._mongo_seen = total - self._mongo_seen, total
        self._minute_start += MINUTE
        return minute

    def _collect_received(self) -> None:
        """Move Cronofy's journal into per-minute counts (received, 429s), emptying it."""
        journal = self.sandbox_app[SANDBOX_STATE].requests
        for request in journal.to_json():
            if counts_toward_limit(request["path"]) and not request["path"].startswith("/_control"):
                at = self._minute_of(datetime.fromtimestamp(request["at"], UTC))
                received, limited = self._received.get(at, (0, 0))
                self._received[at] = (received + 1, limited + (request["status"] == 429))
        journal.clear()

    def _purposes(self) -> collections.Counter[tuple[str, str]]:
        counted: collections.Counter[tuple[str, str]] = collections.Counter()
        for family in self.client.app[METRICS].cronofy_calls.collect():
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    counted[(sample.labels["purpose"], sample.labels["status"])] += int(sample.value)
        return counted

    # --- users, as the platform's SPA would act for them ----------------------------------------------

    def token(self, user_id: str, partners: tuple[str, ...] = ()) -> str:
        return mint_dev_token(self.settings, user_id, email=f"{user_id}@example.test", partners=partners)

    async def gql(
        self, query: str, variables: dict[str, Any], *, user: str, partners: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token(user, partners)}"}
        response = await self.client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
        body: dict[str, Any] = await response.json()
        assert response.status == 200 and "errors" not in body, body
        return body["data"]  # type: ignore[no-any-return]

    async def link(self, user: str) -> dict[str, Any]:
        """Begin, consent in the sandbox as `user@example.test`, link; the connection as the API gives it."""
        begun = (await self.gql(BEGIN_LINK, {"input": {"redirectUri": REDIRECT_URI}}, user=user))["beginCalendarLink"]
        assert begun["userErrors"] == [], begun
        callback = await self._consent(begun["authorizationUrl"], profile_name=f"{user}@example.test")
        linked = (await self.gql(LINK, {"input": {"code": callback["code"], "state": callback["state"]}}, user=user))[
            "linkCalendar"
        ]
        assert linked["userErrors"] == [], linked
        await self.settle()
        return linked["connection"]  # type: ignore[no-any-return]

    async def _consent(self, authorization_url: str, **choices: str) -> dict[str, str]:
        """The consent page, allowed as a browser would (tests.support.browser.consent, on one client: a
        new client per consent costs more than the rest of linking)."""
        page = await self.http.get(authorization_url)
        assert page.status_code == 200, page.text
        form = ConsentForm()
        form.feed(page.text)
        assert form.action is not None, "no consent form on the page"
        answer = await self.http.post(
            urljoin(str(page.url), form.action), data={**form.fields, **choices, "decision": "allow"}
        )
        assert answer.status_code in (302, 303), answer.text
        query = parse_qs(urlsplit(answer.headers["Location"]).query)
        return {key: values[0] for key, values in query.items()}

    async def control(self, path: str, **body: Any) -> dict[str, Any]:
        """The sandbox's control API: a user acting in their calendar, a channel silenced."""
        response = await self.http.post(f"/_control/{path}", json=body)
        assert response.status_code == 200, response.text
        await self.settle()
        return response.json()  # type: ignore[no-any-return]

    async def calendar_events(self) -> list[dict[str, Any]]:
        return (await self.http.get("/_control/events")).json()  # type: ignore[no-any-return]

    async def rate_limited(self) -> int:
        """How many calls Cronofy (the sandbox) answered with 429, ever."""
        return int((await self.http.get("/_control/limits")).json()["rate_limited"])

    async def due_work(self) -> dict[str, int]:
        """What is still due in MongoDB: calendar reads, meetings with calendar work, revocations."""
        due = {"sync_due_at": {"$ne": None}}
        return {
            "reads": await self.raw_database[CONNECTIONS].count_documents(due),
            "writes": await self.raw_database[MEETINGS].count_documents(due),
            "revocations": await self.raw_database[REVOCATIONS].count_documents({}),
        }
