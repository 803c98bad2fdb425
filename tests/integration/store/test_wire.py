"""The store over the wire: MockupDB (MongoDB's scripted wire server) answers the REAL drivers.

Both drivers the app supports (motor, PyMongo's AsyncMongoClient) talk OP_MSG to a MockupDB bound
on 127.0.0.1. Every command (handshakes aside) is answered by a per-test script from the server's
own thread and recorded, so the tests never block on `receives()` and nothing can hang: the
drivers get short server-selection timeouts and every wait below is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from bson import ObjectId
from mockupdb import MockupDB, OpMsg
from pymongo.errors import NotPrimaryError, PyMongoError

from gql_api import Settings, create_app
from gql_api.domain.connections import CalendarProvider, ConnectionStatus, Credential, TargetCalendar
from gql_api.store import (
    ConnectionStore,
    LinkStateStore,
    StoreUnavailable,
    close_client,
    describe_uri,
    open_client,
    prepare,
)
from gql_api.store.mongo import CONNECTIONS, INDEXES, LINK_STATES, MEETINGS
from gql_api.vault import KeyRing, Secret, Vault
from tests.support.api import KEYS
from tests.support.net import free_port

DRIVERS = ["motor", "pymongo"]
HELLO = {"maxWireVersion": 21, "minWireVersion": 0}  # a 7.0 standalone, no sessions
NOW = datetime(2026, 3, 4, 5, 6, 7, 123000, tzinfo=UTC)
PROJECT_ROOT = Path(__file__).resolve().parents[3]
SETTINGS_VARIABLES = (
    "HOST",
    "PORT",
    "PUBLIC_BASE_URL",
    "MONGODB_URI",
    "MONGODB_DATABASE",
    "MONGODB_DRIVER",
    "CRONOFY_CLIENT_ID",
    "CRONOFY_CLIENT_SECRET",
    "CRONOFY_DATA_CENTER",
    "CRONOFY_API_URL",
    "CRONOFY_APP_URL",
    "CRONOFY_TIMEOUT_SECONDS",
    "TOKEN_ENCRYPTION_KEYS",
    "AUTH_JWT_SECRET",
    "AUTH_JWT_PUBLIC_KEY",
    "AUTH_JWT_ISSUER",
    "AUTH_JWT_AUDIENCE",
    "ALLOWED_REDIRECT_URIS",
)


class ScriptedMongo:
    """A MockupDB on 127.0.0.1 that answers each command from `script` (default `{ok: 1}`) and records it."""

    def __init__(self) -> None:
        self.server = MockupDB(auto_ismaster=HELLO, request_timeout=5)
        self.server._address = ("127.0.0.1", 0)  # MockupDB binds 'localhost' unless told otherwise
        self.script: dict[str, Callable[[OpMsg], Any]] = {}  # lower-case command name -> answer
        self.script["listindexes"] = indexes_listed()  # start-up reads the meetings' (store/retention.py)
        self._commands: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        self.server.run()
        self.server.autoresponds(self._answer)

    @property
    def uri(self) -> str:
        return f"{self.server.uri}/?serverSelectionTimeoutMS=1000"

    @property
    def commands(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._commands)

    def stop(self) -> None:
        """Stop at once: MockupDB.stop() joins an accept loop that polls once a second, so wake it."""
        if not self.server.running:
            return
        self.server._stopped = True
        with contextlib.suppress(OSError), socket.create_connection(self.server.address, timeout=1):
            pass
        self.server.stop()

    def named(self, name: str) -> list[dict[str, Any]]:
        return [command for command in self.commands if _name(command) == name]

    def _answer(self, request: Any) -> bool:
        name = (request.command_name or "").lower()
        if name == "ismaster":
            return False  # auto_ismaster answers the legacy handshake and the monitor
        if name == "hello":
            return request.ok({"isWritablePrimary": True, **HELLO})
        with self._lock:
            self._commands.append(request.doc)
        answer = self.script.get(name)
        if answer is None:
            return request.ok()
        answer(request)
        return True


def _name(command: dict[str, Any]) -> str:
    return next(iter(command))


@pytest.fixture
def mongo() -> Iterator[ScriptedMongo]:
    wire = ScriptedMongo()
    wire.start()
    yield wire
    wire.stop()  # idempotent; also releases any driver thread still waiting on a reply


@contextlib.asynccontextmanager
async def database(mongo: ScriptedMongo, driver: str) -> AsyncIterator[Any]:
    client = open_client(
        Settings(mongodb_uri=mongo.uri, mongodb_driver=driver, worker_enabled=False, token_encryption_keys=KEYS)
    )
    try:
        yield client["gql_api"]
    finally:
        await close_client(client)


def app_settings(uri: str, driver: str) -> Settings:
    return Settings(mongodb_uri=uri, mongodb_driver=driver, worker_enabled=False, token_encryption_keys=KEYS)


def empty_cursor(request: Any) -> None:
    request.ok(cursor={"id": 0, "firstBatch": [], "ns": f"{request.doc['$db']}.{request.doc['find']}"})


def upserted_document(request: Any) -> None:
    """Answer a findAndModify upsert with the document a server would have created."""
    command = request.doc
    update = command["update"]
    document = {"_id": command["query"]["_id"], **update.get("$setOnInsert", {}), **update["$set"]}
    for field, include in (command.get("fields") or {}).items():
        if not include:
            document.pop(field, None)
    request.ok(value=document, lastErrorObject={"n": 1, "updatedExisting": False, "upserted": document["_id"]})


# --- start-up ---------------------------------------------------------------------------------


def indexes_listed(*existing: dict[str, Any]) -> Callable[[Any], None]:
    """Answer listIndexes with these indexes (besides _id's)."""

    def answer(request: Any) -> None:
        ns = f"{request.doc['$db']}.{request.doc['listIndexes']}"
        batch = [{"v": 2, "key": {"_id": 1}, "name": "_id_"}, *existing]
        request.ok(cursor={"id": 0, "firstBatch": batch, "ns": ns})

    return answer


@pytest.mark.parametrize("driver", DRIVERS)
async def test_startup_pings_creates_every_index_then_is_ready(mongo: ScriptedMongo, driver: str) -> None:
    async with TestClient(TestServer(create_app(app_settings(mongo.uri, driver)), host="127.0.0.1")) as client:
        commands = mongo.commands
        assert [_name(command) for command in commands] == ["ping"] + ["createIndexes"] * len(INDEXES) + [
            "listIndexes",
            "createIndexes",
        ]
        assert all(command["$db"] == "gql_api" for command in commands)

        # the meetings' retention TTL index, as MEETING_RETENTION_DAYS (365 by default) says
        (retention,) = commands[-1]["indexes"]
        assert (commands[-2]["listIndexes"], commands[-1]["createIndexes"]) == (MEETINGS, MEETINGS)
        assert list(retention["key"].items()) == [("over_at", 1)]
        assert retention["expireAfterSeconds"] == 365 * 86_400
        commands = commands[:-2]

        created = {command["createIndexes"]: command["indexes"] for command in commands[1:]}
        assert set(created) == set(INDEXES)
        for collection, models in INDEXES.items():
            sent = {index["name"]: index for index in created[collection]}
            for model in models:
                expected = model.document
                index = sent.pop(expected["name"])
                assert list(index["key"].items()) == list(expected["key"].items())
                assert {k: v for k, v in index.items() if k != "key"} == {
                    k: v for k, v in expected.items() if k != "key"
                }
            assert sent == {}, f"unexpected indexes on {collection}"

        unique = created[CONNECTIONS][0]
        assert list(unique["key"].items()) == [("user_id", 1), ("sub", 1)]
        assert unique["unique"] is True
        others = created[CONNECTIONS][1:]
        assert all("unique" not in index for index in others)
        ttl = {index["name"]: index for index in created[LINK_STATES]}["expires_at_ttl"]
        assert list(ttl["key"].items()) == [("expires_at", 1)]
        assert ttl["expireAfterSeconds"] == 0

        response = await client.get("/readyz")
        assert response.status == 200
        assert await response.json() == {"status": "ready"}
        assert _name(mongo.commands[-1]) == "ping"


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize(
    ("days", "existing", "expected"),
    [
        (30, 365, ["dropIndexes", "createIndexes"]),  # a new setting: the index is made again with it
        (0, 365, ["dropIndexes"]),  # retention off: meetings are kept, the index goes
        (365, 365, []),  # as it is
    ],
)
async def test_the_meeting_retention_index_follows_the_setting(
    mongo: ScriptedMongo, driver: str, days: int, existing: int, expected: list[str]
) -> None:
    from gql_api.store import prepare_retention
    from gql_api.store.retention import RETENTION_INDEX

    index = {"v": 2, "key": {"over_at": 1}, "name": RETENTION_INDEX, "expireAfterSeconds": existing * 86_400}
    mongo.script["listindexes"] = indexes_listed(index)
    async with database(mongo, driver) as db:
        await prepare_retention(db, meeting_retention_days=days)
    commands = [command for command in mongo.commands if _name(command) != "endSessions"]
    assert [_name(command) for command in commands] == ["listIndexes", *expected]
    if "createIndexes" in expected:
        assert commands[-1]["indexes"][0]["expireAfterSeconds"] == days * 86_400


# --- writes through the real drivers ------------------------------------------------------------


@pytest.mark.parametrize("driver", DRIVERS)
async def test_link_state_is_inserted_under_its_hash_never_the_raw_state(mongo: ScriptedMongo, driver: str) -> None:
    mongo.script["insert"] = lambda request: request.ok(n=1)
    async with database(mongo, driver) as db:
        state = await LinkStateStore(db).create(
            user_id="alice",
            redirect_uri="https://app.test/cb",
            data_center="de",
            now=NOW,
            expires_at=NOW + timedelta(minutes=10),
        )

    (insert,) = mongo.named("insert")
    assert insert["insert"] == LINK_STATES
    (document,) = insert["documents"]
    assert re.fullmatch(r"[0-9a-f]{64}", document["_id"])
    assert document["_id"] == hashlib.sha256(state.encode()).hexdigest()
    assert state.encode() not in bson.encode(insert)
    assert document["user_id"] == "alice"
    assert document["data_center"] == "de"
    assert document["used_at"] is None
    assert document["expires_at"] == (NOW + timedelta(minutes=10)).replace(tzinfo=None)  # BSON dates are UTC


@pytest.mark.parametrize("driver", DRIVERS)
async def test_save_link_sends_only_ciphertext_tokens(mongo: ScriptedMongo, driver: str) -> None:
    mongo.script["find"] = empty_cursor
    mongo.script["findandmodify"] = upserted_document
    vault = Vault(KeyRing.ephemeral())
    access, refresh = f"at-{secrets.token_urlsafe(18)}", f"rt-{secrets.token_urlsafe(18)}"
    async with database(mongo, driver) as db:
        connection = await ConnectionStore(db, vault).save_link(
            user_id="alice",
            sub="acc_1",
            provider=CalendarProvider.GOOGLE,
            profile_name="alice@example.test",
            scopes=("read_free_busy", "create_event"),
            calendar=TargetCalendar("cal_1", "Work", True),
            data_center="us",
            now=NOW,
            credential=Credential(Secret(access), Secret(refresh), NOW + timedelta(hours=1)),
        )

    assert [_name(command) for command in mongo.commands] == ["find", "findAndModify"]
    (find,) = mongo.named("find")
    assert find["find"] == CONNECTIONS
    assert dict(find["filter"]) == {"user_id": "alice", "sub": "acc_1"}

    (command,) = mongo.named("findAndModify")
    assert command["findAndModify"] == CONNECTIONS
    assert command["upsert"] is True and command["new"] is True
    # the projection is built fresh per call: mongomock mutates the dicts it is given
    assert dict(command["fields"]) == {"access_token": 0, "refresh_token": 0}
    doc_id = command["query"]["_id"]
    assert isinstance(doc_id, ObjectId)
    assert dict(command["query"]) == {"_id": doc_id, "user_id": "alice"}
    fields = command["update"]["$set"]
    for field, token in (("access_token", access), ("refresh_token", refresh)):
        blob = fields[field]
        assert set(blob) == {"kid", "n", "ct"}
        assert blob["kid"] == "ephemeral"
        assert isinstance(blob["n"], bytes) and len(blob["n"]) == 12
        assert isinstance(blob["ct"], bytes) and len(blob["ct"]) == len(token) + 16  # AES-GCM tag
        assert vault.decrypt(blob, collection=CONNECTIONS, doc_id=doc_id, field=field) == Secret(token)
    for sent in mongo.commands:
        wire = bson.encode(sent)
        assert access.encode() not in wire and refresh.encode() not in wire
    assert dict(command["update"]["$setOnInsert"]) == {"linked_at": NOW.replace(tzinfo=None), "last_synced_at": None}

    assert connection.id == str(doc_id)
    assert connection.status is ConnectionStatus.ACTIVE
    assert connection.scopes == ("read_free_busy", "create_event")
    assert connection.calendar == TargetCalendar("cal_1", "Work", True)
    assert connection.linked_at == NOW


# --- MongoDB not there ----------------------------------------------------------------------------


@pytest.fixture
def refused() -> tuple[str, str]:
    """A URI whose port nobody listens on (bound, noted, closed), and its host:port."""
    port = free_port()
    return f"mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=300", f"127.0.0.1:{port}"


@pytest.mark.parametrize("driver", DRIVERS)
async def test_prepare_names_the_refusing_server(refused: tuple[str, str], driver: str) -> None:
    uri, where = refused
    assert describe_uri(uri) == where
    client = open_client(app_settings(uri, driver))
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as caught:
            async with asyncio.timeout(10):
                await prepare(client["gql_api"], where=describe_uri(uri))
        assert time.monotonic() - started < 5
    finally:
        await close_client(client)
    assert str(caught.value).startswith(f"MongoDB at {where} is not usable: ServerSelectionTimeoutError")
    assert "\n" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize("driver", DRIVERS)
async def test_app_start_fails_with_store_unavailable(refused: tuple[str, str], driver: str) -> None:
    uri, where = refused
    server = TestServer(create_app(app_settings(uri, driver)), host="127.0.0.1")
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match=rf"^MongoDB at {re.escape(where)} is not usable: "):
            async with asyncio.timeout(10):
                await server.start_server()
        assert time.monotonic() - started < 5
    finally:
        await server.close()


@pytest.mark.parametrize("driver", DRIVERS)
def test_serve_exits_non_zero_saying_mongodb_is_not_usable(refused: tuple[str, str], driver: str) -> None:
    uri, where = refused
    http_port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in SETTINGS_VARIABLES}
    env.update(MONGODB_URI=uri, MONGODB_DRIVER=driver, TOKEN_ENCRYPTION_KEYS=KEYS)
    result = subprocess.run(
        [sys.executable, "-m", "gql_api", "serve", "--port", str(http_port)],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1, result.stderr
    assert f"cannot start: MongoDB at {where} is not usable: ServerSelectionTimeoutError" in result.stderr
    assert "Traceback" not in result.stderr


# --- readiness follows the server -------------------------------------------------------------------


def _shutting_down(request: Any) -> None:
    request.command_err(
        code=91, errmsg="The server is in quiesce mode and will shut down", codeName="ShutdownInProgress"
    )


def _never_answer(request: Any) -> None:
    """Leave the ping unanswered: only the readiness timeout ends the wait."""


@pytest.mark.parametrize("failure", ["stopped", "error", "silent"])
@pytest.mark.parametrize("driver", DRIVERS)
async def test_readyz_is_503_when_mongodb_stops_answering(mongo: ScriptedMongo, driver: str, failure: str) -> None:
    async with TestClient(TestServer(create_app(app_settings(mongo.uri, driver)), host="127.0.0.1")) as client:
        assert (await client.get("/readyz")).status == 200

        if failure == "stopped":
            mongo.stop()
        else:
            mongo.script["ping"] = _shutting_down if failure == "error" else _never_answer
        started = time.monotonic()
        response = await client.get("/readyz")
        assert time.monotonic() - started < 4
        assert response.status == 503
        body = await response.json()
        assert body["status"] == "unavailable"
        assert body == {"status": "unavailable", "reason": "store unreachable"}  # no driver detail leaks

        health = await client.get("/healthz")
        assert health.status == 200
        assert await health.json() == {"status": "ok"}

        if failure == "error":  # the node is back: readiness recovers without a restart
            del mongo.script["ping"]
            for _ in range(20):
                if (await client.get("/readyz")).status == 200:
                    break
                await asyncio.sleep(0.25)
            else:
                pytest.fail("/readyz did not recover after MongoDB answered pings again")
        if failure == "silent":
            mongo.stop()  # hang up the connection still waiting for its ping reply


# --- a primary that steps down ----------------------------------------------------------------------


@pytest.mark.parametrize("driver", DRIVERS)
async def test_not_primary_reaches_the_caller(mongo: ScriptedMongo, driver: str) -> None:
    def not_primary(request: Any) -> None:
        request.command_err(code=10107, errmsg="not primary")

    mongo.script["insert"] = not_primary
    mongo.script["find"] = empty_cursor
    mongo.script["findandmodify"] = not_primary
    async with database(mongo, driver) as db:
        with pytest.raises(NotPrimaryError) as insert_error:
            await LinkStateStore(db).create(
                user_id="alice",
                redirect_uri="https://app.test/cb",
                data_center="us",
                now=NOW,
                expires_at=NOW + timedelta(minutes=10),
            )
        with pytest.raises(PyMongoError) as upsert_error:
            await ConnectionStore(db, Vault(KeyRing.ephemeral())).save_link(
                user_id="alice",
                sub="acc_1",
                provider=CalendarProvider.GOOGLE,
                profile_name="alice",
                scopes=("read_free_busy",),
                calendar=None,
                data_center="us",
                now=NOW,
                credential=Credential(Secret("at"), Secret("rt"), NOW + timedelta(hours=1)),
            )
    assert insert_error.value.details["code"] == 10107
    assert isinstance(upsert_error.value, NotPrimaryError)
    assert len(mongo.named("insert")) == 1
    assert len(mongo.named("findAndModify")) == 1


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("fault", ["step-down", "dropped connection"])
async def test_a_rotated_refresh_token_survives_a_failover_during_its_write(
    mongo: ScriptedMongo, driver: str, fault: str
) -> None:
    # given the first write of a refreshed credential meets a primary stepping down (or a dropped socket)
    failures = {"left": 2}

    def flaky_update(request: Any) -> None:
        if failures["left"]:
            failures["left"] -= 1
            if fault == "step-down":
                request.command_err(code=10107, errmsg="not primary")
            else:
                request.hangup()
            return
        request.ok(n=1, nModified=1)

    mongo.script["update"] = flaky_update
    vault = Vault(KeyRing.parse(KEYS))
    connection_id = str(ObjectId())
    rotated = Credential(Secret("access-2"), Secret("rotated-refresh-token"), NOW + timedelta(hours=1))

    # when it is stored
    async with database(mongo, driver) as db:
        await ConnectionStore(db, vault).store_credential(connection_id, rotated, now=NOW)

    # then the write was tried again until it landed, with the rotated token (encrypted) in it
    updates = mongo.named("update")
    assert len(updates) == 3
    landed = updates[-1]["updates"][0]["u"]["$set"]["refresh_token"]
    assert vault.decrypt(
        landed, collection=CONNECTIONS, doc_id=ObjectId(connection_id), field="refresh_token"
    ) == Secret("rotated-refresh-token")
    assert b"rotated-refresh-token" not in bson.encode(updates[-1])
