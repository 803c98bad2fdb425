"""What one scheduleMeeting with two linked participants costs: Cronofy calls and MongoDB commands.

Runs the real app and the sandbox on loopback; counts every collection method the app calls (one
method call is one MongoDB command here: no cursor in this path outgrows its first batch).

    .venv/bin/python bench/schedule_cost.py
"""

from __future__ import annotations

import asyncio
import collections
import sys
from pathlib import Path

import httpx
from aiohttp.test_utils import TestClient, TestServer
from mongomock_motor import AsyncMongoMockClient

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from gql_api import Settings, create_app  # noqa: E402
from gql_api.sandbox import SandboxConfig, create_sandbox_app  # noqa: E402
from tests.support.api import CLIENT_ID, CLIENT_SECRET, JWT_SECRET, KEYS, REDIRECT_URI, Api  # noqa: E402
from tests.support.counting import CountingDatabase  # noqa: E402
from tests.support.documents import SCHEDULE  # noqa: E402
from tests.support.factories import link_account, meeting_input  # noqa: E402


async def main() -> None:
    config = SandboxConfig(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=(REDIRECT_URI,))
    sandbox = TestServer(create_sandbox_app(config), host="127.0.0.1")
    await sandbox.start_server()
    base = str(sandbox.make_url("")).rstrip("/")
    settings = Settings(
        cronofy_client_id=CLIENT_ID,
        cronofy_client_secret=CLIENT_SECRET,
        cronofy_api_url=base,
        cronofy_app_url=base,
        token_encryption_keys=KEYS,
        auth_jwt_secret=JWT_SECRET,
        allowed_redirect_uris=(REDIRECT_URI,),
        worker_enabled=False,
    )
    counts: collections.Counter = collections.Counter()
    database = CountingDatabase(AsyncMongoMockClient(tz_aware=True)["cost"], counts)
    async with (
        TestClient(TestServer(create_app(settings, database=database), host="127.0.0.1")) as client,
        httpx.AsyncClient() as http,
    ):
        api = Api(client, settings)
        await link_account(api, user="alice", profile_name="alice@example.test")
        await link_account(api, user="bob", profile_name="bob@example.test")
        counts.clear()
        await http.delete(f"{base}/_control/requests")

        payload = (await api.data(SCHEDULE, {"input": meeting_input()}))["scheduleMeeting"]
        assert payload["userErrors"] == [] and {
            p["calendarEvent"]["status"] for p in payload["meeting"]["participants"]
        } == {"SYNCED"}

        cronofy = (await http.get(f"{base}/_control/requests")).json()
        spent = collections.Counter(counts)  # before shutdown hands leases back
    await sandbox.close()
    counts = spent

    print("scheduleMeeting, organizer and partner both linked, Cronofy answering at once:")
    print(f"  Cronofy calls: {len(cronofy)}")
    for request in cronofy:
        print(f"    {request['method']} {request['path']} -> {request['status']}")
    print(f"  MongoDB commands: {sum(counts.values())}")
    for (collection, method), count in sorted(counts.items()):
        print(f"    {count} x {collection}.{method}")


if __name__ == "__main__":
    asyncio.run(main())
