"""Requests anyone can send, unauthenticated, that used to cost ERROR tracebacks or 500s (issue 12, item 9):
each now gets a clean 4xx or a GraphQL error, and leaves one short log line and no traceback.

Logs are captured at DEBUG: whatever would reach an operator at any level is looked at."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging

import httpx
import pytest
from aiohttp.test_utils import TestServer

from gql_api import create_app
from gql_api.keys import SETTINGS
from gql_api.observability.access_log import AccessLogger
from gql_api.observability.logging import JsonFormatter, safe_operation_name
from tests.support.api import CLIENT_SECRET, Api
from tests.support.factories import link_account
from tests.support.raw_http import exchange

MAX_LOG_LINE = 2000


@pytest.fixture
async def server(settings, database, clock, api_port):
    """The app as `gql-api serve` runs it: our access logger included."""
    server = TestServer(create_app(settings, database=database, clock=clock), host="127.0.0.1", port=api_port)
    await server.start_server(access_log_class=AccessLogger)
    yield server
    await server.close()


def clean(records: list[logging.LogRecord]) -> bool:
    """Nothing at ERROR or above, no traceback, and every line short."""
    return all(
        record.levelno < logging.ERROR
        and record.exc_info is None
        and len(JsonFormatter().format(record)) < MAX_LOG_LINE
        for record in records
    )


def at_info(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    return [record for record in records if record.levelno >= logging.INFO]


# --- malformed HTTP ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header Line\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\n\r\n",  # no Host
        b"GET /healthz HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n",
        b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n",
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",  # a request line over aiohttp's limit
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,  # a TLS hello on the plain port
    ],
    ids=["garbage", "bad-header", "no-host", "bad-version", "negative-length", "long-line", "tls"],
)
async def test_a_malformed_request_gets_400_and_one_short_log_line(server, caplog, raw):
    # given the server, and bytes that are not a valid HTTP request
    caplog.set_level(logging.DEBUG)

    # when they are sent
    answer = await exchange(server.port, raw)

    # then aiohttp answers 400, the access line is the one line at INFO, and no traceback is logged
    assert answer.status == 400, answer.head
    assert clean(caplog.records), [(r.levelname, r.getMessage()[:200]) for r in caplog.records]
    assert [r.name for r in at_info(caplog.records)] == ["aiohttp.access"]


# --- a huge operation name -----------------------------------------------------------------------------


async def test_a_200_kb_operation_name_is_logged_cut(server, caplog):
    # given a signed-in client sending an operation name of 200 KB (and of 120 KB in the document too, which
    # with the name sent alongside stays within the body limit)
    caplog.set_level(logging.DEBUG)
    huge, name = "A" * 200_000, "A" * 120_000
    headers = {"Authorization": f"Bearer {_token(server)}"}

    # when it is sent naming no operation of the document, naming one, and naming one that fails validation
    async with httpx.AsyncClient(timeout=10) as http:
        url = str(server.make_url("/graphql"))
        unknown = await http.post(url, json={"query": "query Q { __typename }", "operationName": huge}, headers=headers)
        named = await http.post(
            url, json={"query": f"query {name} {{ __typename }}", "operationName": name}, headers=headers
        )
        invalid = await http.post(
            url, json={"query": f"query {name} {{ nope }}", "operationName": name}, headers=headers
        )

    # then the answers are clean, every log line is short, and the access line names the operation cut
    assert unknown.status_code == 400
    assert named.status_code == 200 and named.json()["data"] == {"__typename": "Query"}
    assert invalid.status_code == 200 and "Cannot query field 'nope'" in invalid.json()["errors"][0]["message"]
    assert clean(caplog.records)
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "aiohttp.access"]
    assert [line.get("operation") for line in lines] == [None, "A" * 64 + "...", "A" * 64 + "..."]


@pytest.mark.parametrize(
    ("name", "logged"),
    [
        ("StatusPoll", "StatusPoll"),
        ("B" * 64, "B" * 64),
        ("B" * 65, "B" * 64 + "..."),
        ("Poll\nINFO forged line", "(invalid)"),
        ("<script>", "(invalid)"),
        ("9lives", "(invalid)"),
        ("", "anonymous"),
        (None, "anonymous"),
    ],
)
def test_an_operation_name_is_logged_in_a_short_safe_form(name, logged):
    # given an operation name as a client sent it
    # when it is made fit for a log line
    # then it is a GraphQL name of at most 64 characters, or says what it was not
    assert safe_operation_name(name) == logged


def _token(server: TestServer) -> str:
    return Api(None, server.app[SETTINGS]).token("alice")  # type: ignore[arg-type]


# --- lone surrogates --------------------------------------------------------------------------------------

SCHEDULE = """
mutation Schedule($input: ScheduleMeetingInput!) {
  scheduleMeeting(input: $input) { meeting { id title } userErrors { code field message } }
}"""


def schedule_body(title_json: str) -> bytes:
    """A scheduleMeeting body with the title given as raw JSON text (so it can hold an escape json.dumps
    would never write)."""
    variables = (
        '{"input": {"title": ' + title_json + ', "start": "2027-01-12T10:00:00Z", "end": "2027-01-12T11:00:00Z", '
        '"timeZone": "Europe/London", "participants": [{"email": "pat@example.test"}]}}'
    )
    return ('{"query": ' + json.dumps(SCHEDULE) + ', "variables": ' + variables + "}").encode()


@pytest.mark.parametrize(
    "title_json",
    ['"\\ud800"', '"Mentoring \\udfff session"', '"\\ud800\\ud800"', '"ok \\udc00\\ud800"'],
    ids=["high", "low", "two-highs", "reversed-pair"],
)
async def test_a_lone_surrogate_in_a_variable_is_a_clean_400(api, caplog, title_json):
    # given a mutation whose title is a JSON string with an unpaired surrogate escape
    caplog.set_level(logging.DEBUG)

    # when it is sent
    response = await api.client.post(
        "/graphql",
        data=schedule_body(title_json),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {api.token('alice')}"},
    )

    # then it is refused as a body that is no acceptable JSON, with nothing stored and no error logged
    assert response.status == 400, await response.text()
    assert "Unable to parse request body as JSON" in await response.text()
    assert clean(caplog.records)
    assert (await api.data("query { meetings { edges { node { id } } } }"))["meetings"]["edges"] == []


async def test_a_surrogate_pair_is_text_and_is_accepted(api):
    # given a title with a properly paired surrogate escape (an emoji)
    # when it is scheduled
    response = await api.client.post(
        "/graphql",
        data=schedule_body('"Mentoring \\ud83d\\ude00"'),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {api.token('alice')}"},
    )

    # then it is stored as the emoji it is
    body = await response.json()
    assert body["data"]["scheduleMeeting"]["meeting"]["title"] == "Mentoring \U0001f600", body


async def test_a_lone_surrogate_escape_in_the_document_is_a_syntax_error(api, caplog):
    # given a GraphQL string literal with a lone surrogate escape (in the document, not in JSON)
    caplog.set_level(logging.DEBUG)

    # when it is sent
    body = await api.gql('query { meeting(id: "\\ud800") { id } }')

    # then it is the client's syntax error
    assert body["errors"][0]["message"].startswith("Syntax Error: Invalid Unicode escape sequence")
    assert clean(caplog.records)


# --- webhook bodies that are signed but still wrong ---------------------------------------------------------


def sign(body: bytes) -> str:
    return base64.b64encode(hmac.new(CLIENT_SECRET.encode(), body, hashlib.sha256).digest()).decode()


def change(changes_since: str) -> bytes:
    return json.dumps({"notification": {"type": "change", "changes_since": changes_since}, "channel": {}}).encode()


@pytest.mark.parametrize(
    "body",
    [
        b'{"notification": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
        b"[" * 60_000,
        change("0001-01-01T00:00:00Z"),
        change("0001-01-01T00:00:00+14:00"),
        change("9999-12-31T23:59:59Z"),
        change("9999-12-31T23:59:59-14:00"),
        change("1900-01-01T00:00:00Z"),
    ],
    ids=["deep-nesting", "deep-unclosed", "year-1", "year-1-ahead-of-utc", "year-9999", "year-9999-behind-utc", "1900"],
)
async def test_a_signed_webhook_body_that_is_wrong_gets_400(api, sandbox, caplog, body):
    # given a channel's callback URL, and a correctly signed body that is not a usable notification
    await link_account(api, user="alice", profile_name="alice@example.test")
    [channel] = [c for a in (await sandbox.state())["accounts"] for c in a["channels"]]
    caplog.set_level(logging.DEBUG)

    # when Cronofy (or whoever holds the secret) posts it
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            channel["callback_url"],
            content=body,
            headers={"Content-Type": "application/json", "Cronofy-HMAC-SHA256": sign(body)},
        )

    # then it is refused as not a notification, with no error logged
    assert response.status_code == 400, response.text
    assert clean(caplog.records)
    await api.work("calendar changes")  # and nothing queued overflows later


# --- media types are case-insensitive -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["Application/JSON", "APPLICATION/JSON; charset=UTF-8", "application/Json;Charset=utf-8"]
)
async def test_json_in_any_case_is_json(api, content_type):
    # given an operation sent with a Content-Type spelled in another case, with or without parameters
    # when it is posted
    response = await api.client.post(
        "/graphql",
        data=json.dumps({"query": "query { calendarConnections { id } }"}),
        headers={"Content-Type": content_type, "Authorization": f"Bearer {api.token('alice')}"},
    )

    # then it is served like application/json
    assert response.status == 200, await response.text()
    assert await response.json() == {"data": {"calendarConnections": []}}
