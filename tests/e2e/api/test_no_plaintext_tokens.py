"""No Cronofy token leaves the vault: not in the database, the logs, or any GraphQL response."""

from __future__ import annotations

import base64
import json
import logging

import bson

from gql_api.graphql.schema import schema
from gql_api.observability.logging import JsonFormatter
from tests.support.api import CLIENT_SECRET
from tests.support.browser import consent
from tests.support.documents import CANCEL, CONNECTIONS, LINK, UNLINK, UPDATE
from tests.support.factories import begin_link, link_account, schedule


def needles(secret: str) -> set[bytes]:
    raw = secret.encode()
    found = {raw, base64.b64encode(raw), base64.urlsafe_b64encode(raw), raw.hex().encode(), json.dumps(secret).encode()}
    found |= {raw[i : i + 12] for i in range(0, len(raw) - 12, 6)}  # truncated or partial logging
    return found


def assert_absent(secrets: list[str], blob: bytes, where: str) -> None:
    for secret in secrets:
        for needle in needles(secret):
            assert needle not in blob, f"a fragment of a secret was found in {where}"


async def test_tokens_never_appear_in_documents_logs_or_responses(api, sandbox, database, clock, caplog):
    caplog.set_level(logging.DEBUG)

    # given a user who links, relinks, fails a link, queries, and unlinks while Cronofy is flaky
    connection = await link_account(api)
    await link_account(api)
    callback = await consent(await begin_link(api))
    await sandbox.fault(path="/v1/calendars", status=500)
    await api.data(LINK, {"input": callback})
    await api.data(CONNECTIONS)
    await api.gql("query { calendarConnections { id secretField } }")
    await sandbox.fault(path="/oauth/token/revoke", status=503)
    await api.data(UNLINK, {"input": {"connectionId": connection["id"]}})
    other = await link_account(api, profile_name="second@example.test")
    # meetings written to calendars, changed in a calendar (push, webhook, read back), tokens refreshed
    await link_account(api, user="bob", profile_name="bob@example.test")
    meeting = await schedule(api)
    await api.data(UPDATE, {"input": {"meetingId": meeting["id"], "title": "Renamed"}})
    host = next(
        e
        for e in (await sandbox.http.get(f"{sandbox.url}/_control/events")).json()
        if e["managed"] and not e["deleted"]
    )
    await sandbox.http.post(
        f"{sandbox.url}/_control/act/edit",
        json={"calendar_id": host["calendar_id"], "event_id": host["event_id"], "summary": "X"},
    )
    await sandbox.http.post(f"{sandbox.url}/_control/expire-tokens", json={})
    await api.data(CANCEL, {"input": {"meetingId": meeting["id"]}})
    await api.work("calendar writes")
    metrics = await (await api.client.get("/metrics")).text()
    api.bodies.append(metrics)
    assert 'cronofy_token_refreshes_total{result="refreshed"}' in metrics  # the flow did refresh
    assert 'cronofy_webhooks_total{status="202",type="change"}' in metrics  # and took a push

    state = await sandbox.state()
    tokens = [token["token"] for token in state["tokens"]]
    assert len(tokens) >= 6

    # then no document of any collection holds a token, before and after the revocation is paid
    async def scan_database(moment: str) -> int:
        documents = 0
        for name in await database.list_collection_names():
            async for document in database[name].find({}):
                assert_absent(tokens, bson.encode(document), f"{name} ({moment})")
                documents += 1
        return documents

    assert await scan_database("with a revocation owed") >= 2
    clock.advance(minutes=2)
    assert (await api.work("revocations"))["revocations"] == 1
    await scan_database("after the revocation")
    await api.data(UNLINK, {"input": {"connectionId": other["id"]}})

    # nor any log line (ours, aiohttp's, httpx's, strawberry's; as text and as JSON lines), nor any
    # response body or header (GraphQL and /metrics)
    assert caplog.records, "the test must actually capture logs"
    json_lines = "\n".join(JsonFormatter().format(record) for record in caplog.records)
    assert_absent([*tokens, CLIENT_SECRET], caplog.text.encode(), "the logs")
    assert_absent([*tokens, CLIENT_SECRET], json_lines.encode(), "the JSON logs")
    assert_absent([*tokens, CLIENT_SECRET], "".join(api.bodies).encode(), "GraphQL responses")


def test_schema_names_nothing_secret_shaped():
    names = []
    for type_ in schema._schema.type_map.values():
        names.append(type_.name)
        for field_name, field in getattr(type_, "fields", {}).items():
            names.append(field_name)
            names.extend(getattr(field, "args", {}))
    assert names
    for word in ("token", "secret", "password", "verifier", "refresh", "credential"):
        assert not [name for name in names if word in name.lower()], word
