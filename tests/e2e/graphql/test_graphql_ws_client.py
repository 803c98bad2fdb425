"""Subscriptions through graphql-ws's own client in Node (the client Apollo's GraphQLWsLink, urql's
subscriptionExchange and Relay's recipe use), against the real app on 127.0.0.1: connectionParams carry the
token as Apollo's docs show; a refused token ends in the protocol's 4403.

Needs node and npm; graphql-ws and ws are pinned in package.json/package-lock.json beside this file."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

from tests.support.factories import link_account, schedule
from tests.support.live import MEETING_CHANGED, subscribed
from tests.support.npm import installed

HERE = Path(__file__).resolve().parent
RUN_SECONDS = 30


async def node_client(api, *, token: str, count: int = 1, document_id: str = "") -> asyncio.subprocess.Process:
    installed(HERE, "graphql-ws", "package.json")
    url = str(api.client.make_url("/graphql")).replace("http://", "ws://")
    named = {"QUERY": MEETING_CHANGED, "DOCUMENT_ID": document_id}
    return await asyncio.create_subprocess_exec(
        shutil.which("node"),
        str(HERE / "subscribe.mjs"),
        url,
        cwd=HERE,
        env={**os.environ, "TOKEN": token, "COUNT": str(count), **named},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def events(process: asyncio.subprocess.Process) -> list[dict[str, Any]]:
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), RUN_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"the graphql-ws client did not finish in {RUN_SECONDS} s") from None
    assert process.returncode == 0, stderr.decode()[-2000:]
    return [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]


async def test_graphql_ws_clients_subscribe_with_the_token_in_connection_params(api, sandbox):
    await link_account(api, user="alice", profile_name="alice@example.test")
    process = await node_client(api, token=api.token("bob"))
    await subscribed(api.client.app, "bob")

    meeting = await schedule(api)

    heard = await events(process)
    assert heard[0] == {"connected": True}
    [payload] = [event["next"] for event in heard if "next" in event]
    assert payload["data"]["meetingChanged"]["kind"] == "SCHEDULED"
    assert payload["data"]["meetingChanged"]["meetingId"] == meeting["id"]


async def test_a_graphql_ws_client_with_a_bad_token_is_closed_with_4403(api):
    process = await node_client(api, token="not-a-token")

    heard = await events(process)

    assert {"closed": 4403, "reason": "The bearer token is invalid."} in heard
    assert not [event for event in heard if "next" in event or "connected" in event]


async def test_a_graphql_ws_client_subscribes_to_a_trusted_document_by_its_id(api, api_with, sandbox, tmp_path):
    manifest = tmp_path / "persisted-documents.json"
    manifest.write_text(json.dumps({"meeting-changed": MEETING_CHANGED}))
    trusting = await api_with(graphql_trusted_documents=str(manifest))
    process = await node_client(trusting, token=api.token("bob"), document_id="meeting-changed")
    await subscribed(trusting.client.app, "bob")

    await schedule(api)

    [payload] = [event["next"] for event in await events(process) if "next" in event]
    assert payload["data"]["meetingChanged"]["kind"] == "SCHEDULED"
