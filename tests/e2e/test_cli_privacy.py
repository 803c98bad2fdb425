"""`gql-api erase-user` and `gql-api export-user`.

No MongoDB server can run here, so the commands are tested in three ways: in a real subprocess for what
needs no database (the refusals); in-process through `main()` with the database the command opens replaced
by an in-memory one (argument wiring, output, exit status); and their command functions on the database and
Cronofy sandbox of a running API (the same erasure as the mutation's, end to end).
"""

from __future__ import annotations

import asyncio
import json

import pytest
from mongomock_motor import AsyncMongoMockClient

from gql_api.cli import main
from gql_api.cli.privacy import erase_user, export_user
from gql_api.domain.erasure import PLACEHOLDER_EMAIL, subject_of
from gql_api.domain.meetings import Meeting, MeetingParticipant, MeetingStatus
from gql_api.store import MeetingStore
from tests.e2e.test_cli import CONFIG_VARIABLES, gql_api
from tests.support.api import KEYS
from tests.support.clock import FakeClock
from tests.support.factories import link_account, schedule
from tests.support.fakes import END, START


@pytest.mark.parametrize("command", ["erase-user", "export-user"])
def test_the_commands_need_the_servers_database(command):
    result = gql_api(command, "bob")

    assert result.returncode == 2
    assert f"{command} works on the server's database: set MONGODB_URI" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def database_of_the_command(monkeypatch):
    """What `gql-api ...` opens as MONGODB_URI: an in-memory database, with Bob in one meeting (without
    calendar copies: the command needs no Cronofy)."""
    client = AsyncMongoMockClient(tz_aware=True)
    monkeypatch.setattr("gql_api.bootstrap.open_client", lambda settings: client)
    for name in CONFIG_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MONGODB_URI", "mongodb://db.invalid/")  # never reached: the client above stands in
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEYS", KEYS)
    store = MeetingStore(client["gql_api"])
    meeting = Meeting(
        id=store.new_id(),
        organizer_id="alice",
        title="Mentoring session",
        description=None,
        location=None,
        start=START,
        end=END,
        time_zone="Europe/London",
        status=MeetingStatus.SCHEDULED,
        participants=(
            MeetingParticipant("alice@example.test", user_id="alice", is_organizer=True),
            MeetingParticipant("bob@example.test", user_id="bob", display_name="Bob"),
        ),
        copies=(),
        version=1,
        created_at=START,
        updated_at=START,
    )
    asyncio.run(store.insert(meeting, idempotency_key=None, now=START))
    return client["gql_api"]


def test_export_then_erase_then_erase_again_from_the_command_line(database_of_the_command, capsys):
    # when the operator exports Bob's data
    assert main(["export-user", "bob"]) == 0
    exported = json.loads(capsys.readouterr().out)

    # then it is the export's JSON document
    assert (exported["format"], exported["userId"]) == ("gql-api/user-data/1", "bob")
    [meeting] = exported["meetings"]
    assert [p["email"] for p in meeting["participants"]] == ["alice@example.test", "bob@example.test"]

    # when they erase him, twice
    assert main(["erase-user", "bob"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["erase-user", "bob"]) == 0
    again = json.loads(capsys.readouterr().out)

    # then the receipt is printed, the same each time (but when the last run finished)
    assert (first["status"], first["subject"], first["counts"]["meetingSeats"]) == ("DONE", subject_of("bob"), 1)
    assert {**again, "finishedAt": None} == {**first, "finishedAt": None}
    stored = asyncio.run(database_of_the_command["meetings"].find_one({}))
    assert [p["email"] for p in stored["participants"]] == ["alice@example.test", PLACEHOLDER_EMAIL]


def test_an_unknown_user_is_nothing_to_erase_and_a_bad_user_id_is_refused(database_of_the_command, capsys):
    assert main(["erase-user", "nobody-we-know"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "NOTHING_TO_ERASE"

    assert main(["erase-user", " "]) == 2
    assert "USER_ID: A user id has 1 to 256 characters" in capsys.readouterr().err


# --- the command functions, on a running API's database and the sandbox -----------------------------------------


async def test_erase_user_revokes_and_deletes_as_the_mutation_does(api, sandbox, settings, database, clock: FakeClock):
    # given Bob's copy of Alice's meeting in his calendar
    await link_account(api, user="alice", profile_name="alice@example.test")
    await link_account(api, user="bob", profile_name="bob@example.test")
    meeting = await schedule(api)

    # when the operator erases Bob from the command line
    receipt = await erase_user(settings, "bob", database=database, clock=clock)

    # then it is done: his event left his calendar, his grant is revoked, and the export finds nothing of his
    assert receipt["status"] == "DONE"
    assert receipt["counts"]["calendarConnections"] == 1 and receipt["counts"]["meetingSeats"] == 1
    state = await sandbox.state()
    bobs = next(a["sub"] for a in state["accounts"] if a["profile_name"] == "bob@example.test")
    assert {t["status"] for t in state["tokens"] if t["sub"] == bobs and t["kind"] == "refresh"} == {"revoked"}
    events = (await sandbox.http.get(f"{sandbox.url}/_control/events", params={"sub": bobs})).json()
    assert not [e for e in events if e["managed"] and not e["deleted"]]
    exported = await export_user(settings, "bob", database=database, clock=clock)
    assert (exported["calendarConnections"], exported["meetings"]) == ([], [])
    alices = await export_user(settings, "alice", database=database, clock=clock)
    [kept] = alices["meetings"]
    assert kept["id"] == meeting["id"] and kept["status"] == "SCHEDULED"
