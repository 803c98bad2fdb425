"""Live updates (GraphQL subscriptions), measured: what an idle subscribed socket costs a server process, and
how long a change takes from the process that made it to a subscriber of another.

    .venv/bin/python bench/live.py                        # both, with the defaults
    .venv/bin/python bench/live.py --sockets 1000 --changes 300 --poll 0.05

1. Memory. `gql-api serve` runs as its own process in the development shape (in-memory store, sandbox, dev
   auth); this script opens N WebSockets to it over loopback, each a different user, each acknowledged and
   subscribed to `meetingChanged`, and reads the server's resident memory (VmRSS) before and after (after a
   warm-up round, so what is measured is sockets and not code loaded on first use). Prints the delta / N.

2. Latency. Two server apps in one process over one database stand for two server processes sharing
   MongoDB: a subscriber on B over a real WebSocket, and A's worker writing a meeting's calendars (the
   sandbox on loopback answering), whose SYNC_STATUS reaches B through the change feed. Measured from the
   moment A publishes the change to the moment the subscriber's client has the `next` message; p50/p99 over
   `--changes` changes, each at a random moment within a poll interval (as changes come in production, not
   in step with the reads); then the same with the subscriber on A itself (a process reads the feed at once
   after publishing), and a mutation made through A (updateMeeting over HTTP: from its request to the
   message on B). The limitation, stated: no MongoDB server exists on these machines, and two processes
   cannot share mongomock, so both apps share one process, one event loop and one in-memory database; B
   follows the feed by reading it every SUBSCRIPTION_POLL_SECONDS (`--poll`), as it would on a standalone
   MongoDB. On a replica set the feed is pushed through a change stream instead, and this wait is gone
   (not measured here).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from aiohttp.test_utils import TestClient, TestServer  # noqa: E402
from mongomock_motor import AsyncMongoMockClient  # noqa: E402

from gql_api import Settings, create_app  # noqa: E402
from gql_api.auth import mint_dev_token  # noqa: E402
from gql_api.graphql.ids import MEETING, decode_id  # noqa: E402
from gql_api.keys import RUNTIME  # noqa: E402
from gql_api.sandbox import SandboxConfig, create_sandbox_app  # noqa: E402
from tests.support.api import CLIENT_ID, CLIENT_SECRET, JWT_SECRET, KEYS, REDIRECT_URI, Api  # noqa: E402
from tests.support.factories import link_account, schedule  # noqa: E402
from tests.support.live import MEETING_CHANGED, PROTOCOL  # noqa: E402

UPDATE = "mutation U($input: UpdateMeetingInput!) { updateMeeting(input: $input) { userErrors { code } } }"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


# --- 1. memory per idle subscribed socket ---------------------------------------------------------------------


@contextlib.asynccontextmanager
async def server_process(port: int) -> AsyncIterator[subprocess.Popen[bytes]]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MONGODB_", "CRONOFY_", "AUTH_"))}
    env.update({"LOG_FORMAT": "text", "SUBSCRIPTIONS_PER_PROCESS": "100000"})
    with tempfile.TemporaryFile() as log:
        command = [str(ROOT / ".venv" / "bin" / "gql-api"), "serve", "--port", str(port)]
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        try:
            yield await started(process, port, log)
        finally:
            process.terminate()
            process.wait(timeout=15)


async def started(process: subprocess.Popen[bytes], port: int, log: Any) -> subprocess.Popen[bytes]:
    """The process, once /healthz answers."""
    async with httpx.AsyncClient() as http:
        for _ in range(200):
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return process
            await asyncio.sleep(0.05)
    log.seek(0)
    raise RuntimeError("the server did not start:\n" + log.read().decode()[-2000:])


async def subscribed_socket(session: aiohttp.ClientSession, url: str, user: str) -> aiohttp.ClientWebSocketResponse:
    ws = await session.ws_connect(url, protocols=[PROTOCOL], heartbeat=None)
    token = mint_dev_token(Settings(), user)
    await ws.send_str(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
    ack = json.loads((await ws.receive(timeout=10)).data)
    assert ack == {"type": "connection_ack"}, ack
    await ws.send_str(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": MEETING_CHANGED}}))
    return ws


async def live_gauges(http: httpx.AsyncClient, base: str) -> dict[str, float]:
    text = (await http.get(f"{base}/metrics")).text
    return {
        line.split()[0]: float(line.split()[1])
        for line in text.splitlines()
        if line.startswith(("live_websockets", "live_subscriptions"))
    }


async def open_sockets(session, url, http, base, users: list[str]) -> list[aiohttp.ClientWebSocketResponse]:
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    for start in range(0, len(users), 50):
        sockets += await asyncio.gather(*(subscribed_socket(session, url, user) for user in users[start : start + 50]))
    expected = len(sockets)
    for _ in range(200):  # every subscription admitted by the server (it runs them in tasks of their own)
        gauges = await live_gauges(http, base)
        if gauges.get("live_subscriptions", 0) >= expected:
            break
        await asyncio.sleep(0.05)
    return sockets


async def memory(count: int) -> None:
    port = free_port()
    base, url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/graphql"
    async with (
        server_process(port) as server,
        httpx.AsyncClient() as http,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
    ):
        warm = await open_sockets(session, url, http, base, [f"warm-{i}" for i in range(50)])
        for ws in warm:
            await ws.close()
        await asyncio.sleep(0.5)
        before = rss_kib(server.pid)
        sockets = await open_sockets(session, url, http, base, [f"user-{i}" for i in range(count)])
        await asyncio.sleep(1.0)
        after = rss_kib(server.pid)
        gauges = await live_gauges(http, base)
        for ws in sockets:
            await ws.close()
    print(f"memory: {count} idle sockets, each acknowledged and subscribed to meetingChanged, one server process")
    print(f"  server RSS {before / 1024:.1f} MiB before, {after / 1024:.1f} MiB after ({gauges})")
    print(f"  per idle subscribed socket: {(after - before) / count:.1f} KiB")


# --- 2. latency from a change on A to a subscriber on B ----------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summary(name: str, seconds: list[float]) -> None:
    ms = [s * 1000 for s in seconds]
    print(
        f"  {name}: n={len(ms)} p50 {percentile(ms, 0.5):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms, "
        f"min {min(ms):.1f} ms, max {max(ms):.1f} ms, mean {statistics.fmean(ms):.1f} ms"
    )


async def subscribe(client: TestClient, token: str, meeting_id: str) -> aiohttp.ClientWebSocketResponse:
    ws = await client.ws_connect("/graphql", protocols=[PROTOCOL])
    await ws.send_str(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
    assert json.loads((await ws.receive(timeout=5)).data) == {"type": "connection_ack"}
    payload = {"query": MEETING_CHANGED, "variables": {"id": meeting_id}}
    await ws.send_str(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
    live = client.app[RUNTIME].services.live
    while not live.subscriptions:  # noqa: ASYNC110 (the server admits it in a task of its own)
        await asyncio.sleep(0.01)
    return ws


async def kind_of(ws: aiohttp.ClientWebSocketResponse) -> str:
    message = json.loads((await ws.receive(timeout=10)).data)
    return str(message["payload"]["data"]["meetingChanged"]["kind"])


async def latency(changes: int, poll: float) -> None:
    config = SandboxConfig(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=(REDIRECT_URI,))
    sandbox = TestServer(create_sandbox_app(config), host="127.0.0.1")
    await sandbox.start_server()
    cronofy = str(sandbox.make_url("")).rstrip("/")
    settings = Settings(
        cronofy_client_id=CLIENT_ID,
        cronofy_client_secret=CLIENT_SECRET,
        cronofy_api_url=cronofy,
        cronofy_app_url=cronofy,
        token_encryption_keys=KEYS,
        auth_jwt_secret=JWT_SECRET,
        allowed_redirect_uris=(REDIRECT_URI,),
        worker_enabled=False,  # A's worker passes are run below, one per change
        mutations_per_user_per_minute=0,
        cronofy_rate_per_second=100_000,
        cronofy_rate_per_minute=1_000_000,
        subscription_poll_seconds=poll,
        log_format="text",
    )
    database = AsyncMongoMockClient(tz_aware=True)["live_bench"]
    async with (
        TestClient(TestServer(create_app(settings, database=database), host="127.0.0.1")) as a,
        TestClient(TestServer(create_app(settings, database=database), host="127.0.0.1")) as b,
    ):
        api = Api(a, settings)
        await link_account(api, user="alice", profile_name="alice@example.test")
        await link_account(api, user="bob", profile_name="bob@example.test")
        meeting = await schedule(api)
        published: list[float] = []
        feed = a.app[RUNTIME].repositories.changes
        publish = feed.publish

        async def timed_publish(batch: Any) -> None:  # when A publishes: the clock starts
            published.append(time.perf_counter())
            await publish(batch)

        feed.publish = timed_publish  # type: ignore[method-assign]
        runtime_a = a.app[RUNTIME]
        store = runtime_a.repositories.meetings
        raw_id = decode_id(MEETING, meeting["id"]) or ""

        async def worker_change(ws: aiohttp.ClientWebSocketResponse, i: int) -> float:
            """A meeting changed (stored with its calendar work due, as a mutation leaves it), then A's worker."""
            await asyncio.sleep(random.uniform(0, poll))
            current = await store.get(raw_id)
            assert current is not None
            await store.change(current, {"title": f"Worker {i}"}, now=datetime.now(UTC))
            published.clear()
            await runtime_a.worker.run_job("calendar writes")
            assert await kind_of(ws) == "SYNC_STATUS"
            return time.perf_counter() - published[0]

        results: dict[str, list[float]] = {"worker": [], "worker, same process": [], "mutation": []}
        ws = await subscribe(b, api.token("bob"), meeting["id"])
        for i in range(changes):
            results["worker"].append(await worker_change(ws, i))

            await asyncio.sleep(random.uniform(0, poll))
            started = time.perf_counter()
            body = await api.data(UPDATE, {"input": {"meetingId": meeting["id"], "title": f"Mutation {i}"}})
            assert body["updateMeeting"]["userErrors"] == []
            kinds = [await kind_of(ws)]
            results["mutation"].append(time.perf_counter() - started)
            while "SYNC_STATUS" not in kinds or "UPDATED" not in kinds:  # the write's own change follows
                kinds.append(await kind_of(ws))
        await ws.close()

        ws = await subscribe(a, api.token("bob"), meeting["id"])
        for i in range(changes):
            results["worker, same process"].append(await worker_change(ws, changes + i))
        await ws.close()
    await sandbox.close()
    print(f"latency: two server apps over one in-memory database, each reading the feed every {poll} s")
    summary("A's worker writes the calendars -> B's subscriber has SYNC_STATUS (from A's publish)", results["worker"])
    summary("updateMeeting through A -> B's subscriber has UPDATED (from the request)", results["mutation"])
    summary("A's worker -> a subscriber on A itself (read at once after publishing)", results["worker, same process"])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=500, help="idle subscribed sockets to open (default 500)")
    parser.add_argument("--changes", type=int, default=200, help="changes to time (default 200)")
    parser.add_argument("--poll", type=float, default=Settings().subscription_poll_seconds, help="B's feed reads")
    parser.add_argument("--only", choices=("memory", "latency"))
    options = parser.parse_args()
    if options.only != "latency":
        await memory(options.sockets)
    if options.only != "memory":
        await latency(options.changes, options.poll)


if __name__ == "__main__":
    asyncio.run(main())
