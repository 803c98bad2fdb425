"""A user's rights over HTTP (README "Your users' data"): the platform erases a user who left and exports a
user's data with its service token; a user reads their own. Over the real app and the Cronofy sandbox: after
an erasure a canary scan of every collection finds nothing of the user, and Cronofy holds no grant and no
future event of theirs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import bson
import pytest

from gql_api.domain.erasure import PLACEHOLDER_EMAIL, subject_of
from gql_api.graphql.ids import MEETING as MEETING_KIND
from gql_api.graphql.ids import decode_id
from tests.support.api import Api
from tests.support.documents import MEETING, MEETING_FIELDS, SCHEDULE
from tests.support.factories import begin_link, link_account, schedule
from tests.support.sandbox import Sandbox

ERASE = """
mutation Erase($input: EraseUserInput!) { eraseUser(input: $input) { receipt userErrors { code message field } } }"""
EXPORT = "query Export($userId: ID!) { exportUserData(userId: $userId) }"
MY_DATA = "query { myData }"

# Erin, the user who leaves: her calendar account is not her login address, and her name is on her token.
ERIN_NAME = "Erin Example"
ERIN_EMAIL = "erin@example.test"
ERIN_CALENDAR = "erin.cal@example.test"


@pytest.fixture(autouse=True)
async def privacy_kept(sandbox):
    """Over every test here: we never read beyond our own events (privacy notice §3): our grants hold no
    read_events scope, so a read without only_managed=true would have been refused (403)."""
    yield
    requests = await sandbox.requests()
    reads = [r for r in requests if r["path"].startswith("/v1/events")]
    assert all(r["status"] in (200, 423, 0) or r["status"] >= 500 for r in reads), reads
    assert not [r for r in requests if r["status"] == 403], "a request needed a scope we never asked for"


async def erase(api: Api, user_id: str) -> dict[str, Any]:
    body = await api.gql(ERASE, {"input": {"userId": user_id}}, user=None, headers=api.admin_headers())
    assert "errors" not in body, body
    return body["data"]["eraseUser"]


async def as_erin(api: Api, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {api.token('erin', name=ERIN_NAME)}"}
    body = await api.gql(query, variables, user=None, headers=headers)
    assert "errors" not in body, body
    return body["data"]


async def canary(database, *needles: str) -> list[str]:
    """Every document of every collection, as stored, searched for each needle in any letter case."""
    found = []
    for name in await database.list_collection_names():
        async for document in database[name].find({}):
            stored = bson.encode(document).lower()
            found += [f"{needle!r} in {name}" for needle in needles if needle.lower().encode() in stored]
    return found


async def erins_grants_and_future_events(sandbox: Sandbox) -> tuple[list[dict], list[dict]]:
    """Erin's live tokens at Cronofy, and our events still in her calendars (every meeting here is to come)."""
    state = await sandbox.state()
    subs = {account["sub"] for account in state["accounts"] if account["profile_name"] == ERIN_CALENDAR}
    alive = [t for t in state["tokens"] if t["sub"] in subs and t["status"] == "alive"]
    events = (await sandbox.http.get(f"{sandbox.url}/_control/events")).json()
    return alive, [e for e in events if e["sub"] in subs and e["managed"] and not e["deleted"]]


async def event_of(sandbox: Sandbox, meeting: dict[str, Any]) -> dict[str, Any]:
    """The host event of a meeting (in its organizer's calendar)."""
    event_id = "mtg_" + (decode_id(MEETING_KIND, meeting["id"]) or "")
    events = (await sandbox.http.get(f"{sandbox.url}/_control/events")).json()
    return next(e for e in events if e["event_id"] == event_id and not e["deleted"])


async def erins_world(api: Api) -> dict[str, Any]:
    """Erin in everything the service keeps: an invitation on Alice's event from before she linked, her own
    calendar, a meeting she attends and one she organizes (with an idempotency key), a seat by address only in
    a meeting that names her, and a link she began and never finished."""
    await link_account(api, user="alice", profile_name="alice@example.test")
    invited = await schedule(api, user="alice", participants=[{"userId": "erin", "email": ERIN_EMAIL}])
    await link_account(api, user="erin", profile_name=ERIN_CALENDAR)
    attended = await schedule(
        api,
        participants=[
            {"userId": "erin", "email": ERIN_EMAIL, "displayName": ERIN_NAME},
            {"userId": "bob", "email": "bob@example.test"},
        ],
    )
    organized = (
        await as_erin(
            api,
            SCHEDULE,
            {
                "input": {
                    "title": "Office hours",
                    "start": "2027-02-01T10:00:00Z",
                    "end": "2027-02-01T11:00:00Z",
                    "timeZone": "Europe/London",
                    "participants": [
                        {"userId": "alice", "email": "alice@example.test"},
                        {"email": "outside@elsewhere.test"},
                    ],
                    "idempotencyKey": "erin-office-hours",
                }
            },
        )
    )["scheduleMeeting"]["meeting"]
    by_address = await schedule(
        api, user="carol", title=f"Catch-up with {ERIN_NAME}", participants=[{"email": ERIN_CALENDAR}]
    )
    await begin_link(api, user="erin")
    await api.work("calendar writes")
    return {"invited": invited, "attended": attended, "organized": organized, "by_address": by_address}


# --- erasure -------------------------------------------------------------------------------------------------


async def test_erasing_a_user_leaves_nothing_of_them_and_the_others_keep_their_meetings(api, sandbox, database, clock):
    # given Erin in every kind of record, her events in the calendars, which were read back since
    meetings = await erins_world(api)
    clock.advance(seconds=api.settings.sync_reconcile_interval_seconds + 60)
    assert await api.reconcile(clock) == 2
    assert await canary(database, "erin", ERIN_EMAIL, ERIN_CALENDAR, ERIN_NAME) != []
    assert len((await erins_grants_and_future_events(sandbox))[1]) == 2  # the one she organizes, one she attends

    # when the platform erases her
    payload = await erase(api, "erin")

    # then the receipt counts what went, per kind of record
    assert payload["userErrors"] == []
    receipt = payload["receipt"]
    assert (receipt["status"], receipt["subject"], receipt["waitingFor"]) == ("DONE", subject_of("erin"), None)
    assert receipt["counts"] == {
        "meetingsCancelled": 1,
        "meetingSeats": 4,
        "meetingTexts": 1,
        "idempotencyKeys": 1,
        "linkStates": 1,
        "calendarConnections": 1,
        "calendarEventsLeft": 0,
    }
    assert receipt["startedAt"] and receipt["finishedAt"]

    # and no collection holds her id, her addresses or her name
    assert await canary(database, "erin", ERIN_EMAIL, ERIN_CALENDAR, ERIN_NAME) == []
    # and Cronofy holds no grant and no future event of hers
    assert await erins_grants_and_future_events(sandbox) == ([], [])

    # the meeting she organized is cancelled, for Alice too, and gone from Alice's calendar
    cancelled = (await api.data(MEETING, {"id": meetings["organized"]["id"]}))["meeting"]
    assert cancelled["status"] == "CANCELLED" and cancelled["organizer"] == {"userId": None, "email": PLACEHOLDER_EMAIL}
    # the ones she attended go on without her, a declined placeholder in her seat
    for name in ("invited", "attended"):
        kept = (await api.data(MEETING, {"id": meetings[name]["id"]}))["meeting"]
        assert kept["status"] == "SCHEDULED"
        seat = next(p for p in kept["participants"] if not p["isOrganizer"] and p["email"] == PLACEHOLDER_EMAIL)
        assert (seat["userId"], seat["displayName"], seat["response"]) == (None, None, "DECLINED")
        assert seat["calendarEvent"]["delivery"] == "NONE"
    invited = await event_of(sandbox, meetings["invited"])
    assert invited["attendees"] == []  # the invitation from before she linked was withdrawn
    titles = {
        e["summary"]
        for e in (await sandbox.http.get(f"{sandbox.url}/_control/events")).json()
        if e["managed"] and not e["deleted"]
    }
    assert "Office hours" not in titles
    # Carol's meeting no longer names her
    by_address = (await api.data(MEETING, {"id": meetings["by_address"]["id"]}, user="carol"))["meeting"]
    assert by_address["title"] == "Catch-up with [erased]"


async def test_erasing_twice_answers_the_same_receipt_and_calls_cronofy_no_more(api, sandbox):
    await erins_world(api)
    first = (await erase(api, "erin"))["receipt"]
    await sandbox.http.delete(f"{sandbox.url}/_control/requests")

    again = (await erase(api, "erin"))["receipt"]

    assert again["status"] == "DONE" and again["counts"] == first["counts"]
    assert await sandbox.requests() == []


async def test_with_cronofy_down_the_erasure_finishes_later_through_the_worker(api, sandbox, database, clock):
    # given Erin's events in the calendars, and Cronofy refusing every delete and revocation for now
    await erins_world(api)
    await sandbox.fault(path="/v1/calendars", method="DELETE", status=503, times=50)
    await sandbox.fault(path="/oauth/token/revoke", status=503, times=50)

    # when the platform erases her
    receipt = (await erase(api, "erin"))["receipt"]

    # then it is in progress: her data left the meetings at once, her grant waits for her events to go
    assert (receipt["status"], receipt["waitingFor"]) == ("IN_PROGRESS", "calendars")
    assert await database["calendar_connections"].count_documents({"user_id": "erin"}) == 1
    assert await database["meetings"].count_documents({"participant_ids": "erin"}) == 0
    assert await erins_grants_and_future_events(sandbox) != ([], [])

    # when Cronofy is back and the worker runs (the outbox, then the erasures, then the owed revocations)
    await sandbox.http.delete(f"{sandbox.url}/_control/faults")
    clock.advance(minutes=3)
    await api.work("calendar writes", "erasures", "revocations")

    # then it is done, and nothing of hers is left here or at Cronofy
    done = await database["erasures"].find_one({"_id": subject_of("erin")})
    assert done["status"] == "DONE" and done["counts"]["calendar_events_left"] == 0
    assert await canary(database, "erin", ERIN_EMAIL, ERIN_CALENDAR, ERIN_NAME) == []
    assert await erins_grants_and_future_events(sandbox) == ([], [])


async def test_a_user_with_meetings_in_flight_is_erased_without_losing_the_others_meetings(api, sandbox, clock):
    # given Alice schedules with Erin while Cronofy refuses every write: both copies PENDING
    await link_account(api, user="alice", profile_name="alice@example.test")
    await link_account(api, user="erin", profile_name=ERIN_CALENDAR)
    await sandbox.fault(path="/v1/calendars", method="POST", status=503, times=50)
    meeting = await schedule(api, participants=[{"userId": "erin", "email": ERIN_EMAIL}])
    assert {p["calendarEvent"]["status"] for p in meeting["participants"]} == {"PENDING"}

    # when Erin is erased, and Cronofy is back later
    receipt = (await erase(api, "erin"))["receipt"]
    await sandbox.http.delete(f"{sandbox.url}/_control/faults")
    clock.advance(minutes=30)
    await api.work("calendar writes", "erasures", "revocations")

    # then Alice's meeting reached her calendar, without Erin; nothing of Erin's is at Cronofy
    assert receipt["counts"]["meetingSeats"] == 1
    kept = (await api.data(MEETING, {"id": meeting["id"]}))["meeting"]
    assert kept["status"] == "SCHEDULED"
    assert [p["calendarEvent"]["status"] for p in kept["participants"]] == ["SYNCED", "SYNCED"]
    host = await event_of(sandbox, meeting)
    assert host["summary"] == "Mentoring session" and host["attendees"] == []
    assert await erins_grants_and_future_events(sandbox) == ([], [])


async def test_a_users_own_token_is_refused_NOT_ALLOWED(api):
    await schedule(api)

    # the mutation: a user error on the payload
    body = await api.gql(ERASE, {"input": {"userId": "bob"}}, user="alice")
    assert body["data"]["eraseUser"] == {
        "receipt": None,
        "userErrors": [
            {
                "code": "NOT_ALLOWED",
                "message": "Only the platform's service token may do this (it needs the admin role).",
                "field": None,
            }
        ],
    }
    # the query: a GraphQL error with the same code, and no data
    body = await api.gql(EXPORT, {"userId": "bob"}, user="alice")
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_ALLOWED"]
    assert (await api.data(MEETING, {"id": (await schedule(api))["id"]}, user="bob"))["meeting"] is not None


async def test_an_unknown_user_erases_nothing_and_a_malformed_id_is_a_clean_user_error(api, database):
    nothing = (await erase(api, "nobody-we-know"))["receipt"]
    assert (nothing["status"], nothing["startedAt"], set(nothing["counts"].values())) == ("NOTHING_TO_ERASE", None, {0})
    assert await database["erasures"].count_documents({}) == 0

    malformed = await erase(api, " ")
    assert malformed["receipt"] is None
    assert [(e["code"], e["field"]) for e in malformed["userErrors"]] == [("INVALID_INPUT", ["input", "userId"])]

    body = await api.gql(EXPORT, {"userId": ""}, user=None, headers=api.admin_headers())
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


# --- export ------------------------------------------------------------------------------------------------------


async def test_the_export_holds_everything_about_the_user_as_the_api_shows_it_and_no_credential(api, sandbox, database):
    # given Erin's world
    meetings = await erins_world(api)

    # when the platform exports her data, and she reads her own
    body = await api.gql(EXPORT, {"userId": "erin"}, user=None, headers=api.admin_headers())
    assert "errors" not in body, body
    exported = body["data"]["exportUserData"]
    mine = (await as_erin(api, MY_DATA, {}))["myData"]

    # then it is one document in the README's schema
    assert set(exported) == {
        "format",
        "userId",
        "exportedAt",
        "calendarConnections",
        "meetings",
        "pendingRevocations",
        "linkRequests",
    }
    assert (exported["format"], exported["userId"]) == ("gql-api/user-data/1", "erin")
    [connection] = exported["calendarConnections"]
    assert connection["profileName"] == ERIN_CALENDAR and connection["status"] == "ACTIVE"
    assert connection["scopes"] == ["list_calendars", "create_event", "delete_event"]
    assert connection["credentials"]["held"] is True and connection["credentials"]["encryptedAtRest"] is True
    assert connection["credentials"]["since"] == connection["linkedAt"]
    assert {m["id"] for m in exported["meetings"]} == {m["id"] for m in meetings.values()}
    assert [request["redirectUri"] for request in exported["linkRequests"]] == [api.settings.allowed_redirect_uris[0]]
    assert exported["pendingRevocations"] == []
    # each meeting exactly as the API shows it to her
    attended = next(m for m in exported["meetings"] if m["id"] == meetings["attended"]["id"])
    shown = (
        await as_erin(api, f"query One($id: ID!) {{ meeting(id: $id) {{ {MEETING_FIELDS} }} }}", {"id": attended["id"]})
    )["meeting"]
    assert projected(attended, shown) == shown  # (the export holds every field: the query asked for some)
    # her own export is the same document
    assert {k: v for k, v in mine.items() if k != "exportedAt"} == {
        k: v for k, v in exported.items() if k != "exportedAt"
    }
    # and no token is in it
    tokens = [t["token"] for t in (await sandbox.state())["tokens"]]
    assert not [t for t in tokens if t in str(exported)]


async def test_owed_revocations_are_in_the_export(api, sandbox):
    connection = await link_account(api, user="erin", profile_name=ERIN_CALENDAR)
    await sandbox.fault(path="/oauth/token/revoke", status=503, times=5)
    await api.data(
        "mutation U($input: UnlinkCalendarInput!) { unlinkCalendar(input: $input) { unlinkedConnectionId } }",
        {"input": {"connectionId": connection["id"]}},
        user="erin",
    )

    exported = (await as_erin(api, MY_DATA, {}))["myData"]

    assert exported["calendarConnections"] == []
    [owed] = exported["pendingRevocations"]
    assert owed["attempts"] == 1 and owed["lastError"] == "CronofyServerError"


# --- retention ---------------------------------------------------------------------------------------------------


async def test_meetings_go_after_the_retention_days_and_used_link_states_at_once(api, database, clock, settings):
    # given a meeting, a link finished (its state used) and one begun
    meeting = await schedule(api, start="2026-12-01T10:00:00Z", end="2026-12-01T11:00:00Z")
    await link_account(api, user="bob", profile_name="bob@example.test")
    await begin_link(api, user="carol")
    assert await database["link_states"].count_documents({}) == 1  # the used one is gone already

    # then the TTL index MongoDB applies is the one the sweep follows
    indexes = await database["meetings"].index_information()
    assert indexes["over_at_retention_ttl"]["expireAfterSeconds"] == settings.meeting_retention_days * 86_400

    # when the link state expires, the sweep removes it (with the rate windows that expired meanwhile)
    clock.advance(seconds=settings.link_state_ttl_seconds)
    assert (await api.work("retention"))["retention"] >= 1
    assert await database["link_states"].count_documents({}) == 0
    assert await database["meetings"].count_documents({}) == 1

    # when the meeting has been over for the retention days, the sweep removes it
    meeting_doc = await database["meetings"].find_one({})
    assert meeting_doc["over_at"] == meeting_doc["end"]
    clock.now = meeting_doc["end"] + timedelta(days=settings.meeting_retention_days)
    assert (await api.work("retention"))["retention"] >= 1
    assert (await api.data(MEETING, {"id": meeting["id"]}))["meeting"] is None


def projected(full: Any, shape: Any) -> Any:
    """`full` cut down to the keys `shape` has, all the way down (lists item by item)."""
    if isinstance(shape, dict):
        return {key: projected(full[key], value) for key, value in shape.items()}
    if isinstance(shape, list):
        return [projected(item, part) for item, part in zip(full, shape, strict=True)]
    return full
