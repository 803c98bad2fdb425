"""Meetings in every participant's calendar, checked in the sandbox's calendars over real HTTP."""

from __future__ import annotations

import pytest

from tests.support.api import Api
from tests.support.documents import CANCEL, MEETING, MEETINGS, SCHEDULE, UPDATE
from tests.support.factories import deliveries, link_account, meeting_input, schedule
from tests.support.sandbox import calendar_events


@pytest.fixture
async def linked(api: Api):
    """Alice and Bob have linked calendars; Carol is a platform user without one."""
    await link_account(api, user="alice", profile_name="alice@example.test")
    await link_account(api, user="bob", profile_name="bob@example.test")


async def test_organizer_and_partner_linked_each_get_their_own_copy(api, sandbox, linked):
    meeting = await schedule(api)

    assert meeting["organizer"] == {"userId": "alice", "email": "alice@example.test"}
    assert deliveries(meeting) == {
        "alice@example.test": ("OWN_CALENDAR", "SYNCED"),
        "bob@example.test": ("OWN_CALENDAR", "SYNCED"),
    }
    assert [p["response"] for p in meeting["participants"]] == ["ACCEPTED", "NEEDS_ACTION"]
    events = await calendar_events(sandbox)
    assert set(events) == {"alice@example.test", "bob@example.test"}
    host = events["alice@example.test"]
    assert host["summary"] == "Mentoring session" and host["description"] == "Career plans"
    assert host["start"] == "2027-01-12T10:00:00Z" and host["end"] == "2027-01-12T11:00:00Z"
    assert host["tzid"] == "Europe/London" and host["location"] == {"description": "Video call"}
    assert host["attendees"] == [] and events["bob@example.test"]["attendees"] == []  # nobody invited twice
    assert host["event_id"] == events["bob@example.test"]["event_id"]


async def test_partner_without_a_calendar_is_invited_on_the_host_event(api, sandbox, linked):
    meeting = await schedule(
        api, participants=[{"userId": "carol", "email": "carol@example.test", "displayName": "Carol"}]
    )

    assert deliveries(meeting) == {
        "alice@example.test": ("OWN_CALENDAR", "SYNCED"),
        "carol@example.test": ("INVITATION", "SYNCED"),
    }
    events = await calendar_events(sandbox)
    assert set(events) == {"alice@example.test"}
    assert [(a["email"], a["display_name"]) for a in events["alice@example.test"]["attendees"]] == [
        ("carol@example.test", "Carol")
    ]


async def test_an_unlinked_organizer_never_borrows_a_participants_calendar_to_invite(api, sandbox, linked):
    """DESIGN §5 (issue 12): only the organizer's calendar sends invitations. Bob, linked, gets his own copy;
    nobody is invited from it on Carol's behalf."""
    meeting = await schedule(
        api,
        user="carol",
        participants=[
            {"email": "dave@example.test"},
            {"userId": "bob", "email": "bob@example.test"},
        ],
    )

    assert meeting["organizer"]["userId"] == "carol"
    assert deliveries(meeting) == {
        "carol@example.test": ("NONE", "SYNCED"),
        "dave@example.test": ("NONE", "SYNCED"),
        "bob@example.test": ("OWN_CALENDAR", "SYNCED"),
    }
    events = await calendar_events(sandbox)
    assert set(events) == {"bob@example.test"}
    assert events["bob@example.test"]["attendees"] == []


async def test_nobody_linked_means_no_calendar_at_all(api, sandbox):
    meeting = await schedule(api, user="carol", participants=[{"email": "dave@example.test"}])

    assert deliveries(meeting) == {"carol@example.test": ("NONE", "SYNCED"), "dave@example.test": ("NONE", "SYNCED")}
    assert all(p["calendarEvent"]["syncedAt"] is None for p in meeting["participants"])
    assert await calendar_events(sandbox) == {}


async def test_update_rewrites_and_cancel_removes_every_copy(api, sandbox, linked):
    meeting = await schedule(
        api, participants=[{"userId": "bob", "email": "bob@example.test"}, {"email": "dave@example.test"}]
    )

    # when Alice (the organizer) moves it and changes its title
    update = {
        "meetingId": meeting["id"],
        "title": "Moved session",
        "start": "2027-01-12T14:00:00+01:00",
        "end": "2027-01-12T15:30:00+01:00",
        "description": None,
    }
    updated = (await api.data(UPDATE, {"input": update}))["updateMeeting"]

    # then every copy carries the change
    assert updated["userErrors"] == []
    assert updated["meeting"]["start"] == "2027-01-12T13:00:00Z" and updated["meeting"]["description"] is None
    assert {s for _, s in deliveries(updated["meeting"]).values()} == {"SYNCED"}
    events = await calendar_events(sandbox)
    assert {e["summary"] for e in events.values()} == {"Moved session"}
    assert {(e["start"], e["end"]) for e in events.values()} == {("2027-01-12T13:00:00Z", "2027-01-12T14:30:00Z")}
    assert [a["email"] for a in events["alice@example.test"]["attendees"]] == ["dave@example.test"]

    # when Alice cancels
    cancelled = (await api.data(CANCEL, {"input": {"meetingId": meeting["id"]}}))["cancelMeeting"]

    # then every copy is gone, and cancelling again says so
    assert cancelled["meeting"]["status"] == "CANCELLED" and cancelled["meeting"]["cancelledAt"]
    assert await calendar_events(sandbox) == {}
    assert set(await calendar_events(sandbox, deleted=True)) == {"alice@example.test", "bob@example.test"}
    again = (await api.data(CANCEL, {"input": {"meetingId": meeting["id"]}}))["cancelMeeting"]
    assert [(e["code"], e["field"]) for e in again["userErrors"]] == [("ALREADY_CANCELLED", ["input", "meetingId"])]
    late = (await api.data(UPDATE, {"input": {"meetingId": meeting["id"], "title": "x"}}))["updateMeeting"]
    assert [e["code"] for e in late["userErrors"]] == ["ALREADY_CANCELLED"]


async def test_only_participants_see_or_change_a_meeting(api, linked):
    meeting = await schedule(api)

    assert (await api.data(MEETING, {"id": meeting["id"]}, user="bob"))["meeting"]["id"] == meeting["id"]
    assert (await api.data(MEETING, {"id": meeting["id"]}, user="mallory"))["meeting"] is None
    for document, extra in ((UPDATE, {"title": "Hijacked"}), (CANCEL, {})):
        payload = await api.data(document, {"input": {"meetingId": meeting["id"], **extra}}, user="mallory")
        errors = next(iter(payload.values()))["userErrors"]
        assert [(e["code"], e["field"]) for e in errors] == [("NOT_FOUND", ["input", "meetingId"])]
    assert (await api.data(MEETINGS, user="mallory"))["meetings"]["edges"] == []
    assert [e["node"]["id"] for e in (await api.data(MEETINGS, user="bob"))["meetings"]["edges"]] == [meeting["id"]]
    assert (await api.data(MEETING, {"id": "not-an-id"}))["meeting"] is None
    assert (await api.data(MEETING, {"id": meeting["id"]}, user="alice"))["meeting"]["title"] == "Mentoring session"


async def test_idempotency_key_returns_the_first_meeting(api, sandbox, linked):
    first = await schedule(api, idempotencyKey="retry-1")
    second = await schedule(api, idempotencyKey="retry-1", title="A different title")
    other_user = await schedule(
        api, user="bob", idempotencyKey="retry-1", participants=[{"email": "dave@example.test"}]
    )

    assert second["id"] == first["id"] and second["title"] == "Mentoring session"
    assert other_user["id"] != first["id"]  # keys are per organizer
    assert len((await api.data(MEETINGS))["meetings"]["edges"]) == 1


async def test_two_organizers_idempotency_keys_never_meet(api, linked):
    """Issue 12 item 15: joined with a separator, user "m\x1fx" with key "y" and user "m" with key "x\x1fy"
    were one stored key, and the second organizer was handed the first one's meeting."""
    first = await schedule(api, user="m\x1fx", idempotencyKey="y", participants=[{"email": "dave@example.test"}])

    second = await schedule(api, user="m", idempotencyKey="x\x1fy", participants=[{"email": "erin@example.test"}])

    assert second["id"] != first["id"] and second["organizer"]["userId"] == "m"
    assert [p["email"] for p in second["participants"]][1:] == ["erin@example.test"]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"end": "2027-01-12T10:00:00Z"}, [("INVALID_TIME_RANGE", ["input", "end"])]),
        ({"end": "2027-01-12T09:00:00Z"}, [("INVALID_TIME_RANGE", ["input", "end"])]),
        ({"timeZone": "Mars/Olympus"}, [("INVALID_TIME_ZONE", ["input", "timeZone"])]),
        ({"timeZone": "../../etc/passwd"}, [("INVALID_TIME_ZONE", ["input", "timeZone"])]),
        ({"start": "2027-01-12T10:00:00"}, [("INVALID_INPUT", ["input", "start"])]),
        ({"title": "   "}, [("INVALID_INPUT", ["input", "title"])]),
        ({"title": "t" * 1025}, [("INVALID_INPUT", ["input", "title"])]),
        ({"description": "d" * 4097}, [("INVALID_INPUT", ["input", "description"])]),
        ({"participants": []}, [("INVALID_INPUT", ["input", "participants"])]),
        (
            {"participants": [{"email": f"p{i}@example.test"} for i in range(51)]},
            [("INVALID_INPUT", ["input", "participants"])],
        ),
        ({"participants": [{"email": "not-an-address"}]}, [("INVALID_INPUT", ["input", "participants", "0", "email"])]),
        (
            {"participants": [{"email": "x@example.test"}, {"email": "X@Example.test"}]},
            [("INVALID_INPUT", ["input", "participants", "1", "email"])],
        ),
        (
            {"participants": [{"email": "alice@example.test"}]},
            [("INVALID_INPUT", ["input", "participants", "0", "email"])],
        ),
        (
            {"participants": [{"userId": "alice", "email": "me@example.test"}]},
            [("INVALID_INPUT", ["input", "participants", "0", "userId"])],
        ),
        ({"idempotencyKey": ""}, [("INVALID_INPUT", ["input", "idempotencyKey"])]),
        (
            {"title": "", "end": "2027-01-12T09:00:00Z", "timeZone": "Nowhere"},
            [
                ("INVALID_INPUT", ["input", "title"]),
                ("INVALID_TIME_RANGE", ["input", "end"]),
                ("INVALID_TIME_ZONE", ["input", "timeZone"]),
            ],
        ),
    ],
)
async def test_every_validation_error_names_its_field_and_stores_nothing(api, database, overrides, expected):
    payload = (await api.data(SCHEDULE, {"input": meeting_input(**overrides)}))["scheduleMeeting"]
    assert payload["meeting"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == expected
    assert await database["meetings"].count_documents({}) == 0


async def test_malformed_datetimes_are_graphql_validation_errors(api):
    body = await api.gql(SCHEDULE, {"input": meeting_input(start="next tuesday")})
    assert body.get("data") is None and "ISO 8601" in body["errors"][0]["message"]


async def test_update_validates_the_merged_meeting(api, linked):
    meeting = await schedule(api)
    cases = [
        ({"end": "2027-01-12T09:00:00Z"}, ("INVALID_TIME_RANGE", ["input", "end"])),
        # the error names the field sent (issue 12: never blame a field the mutation did not send)
        ({"start": "2027-01-12T12:00:00Z"}, ("INVALID_TIME_RANGE", ["input", "start"])),
        ({"title": None}, ("INVALID_INPUT", ["input", "title"])),
        ({"timeZone": "Nope/Nope"}, ("INVALID_TIME_ZONE", ["input", "timeZone"])),
    ]
    for change, expected in cases:
        payload = (await api.data(UPDATE, {"input": {"meetingId": meeting["id"], **change}}))["updateMeeting"]
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [expected], change
    unchanged = (await api.data(MEETING, {"id": meeting["id"]}))["meeting"]
    assert unchanged["end"] == "2027-01-12T11:00:00Z" and unchanged["title"] == "Mentoring session"


async def test_meetings_are_keyset_paginated_by_start_with_filters(api, linked):
    ids = []
    for day in (15, 11, 13, 12, 14):
        ids.append(
            (
                day,
                (
                    await schedule(
                        api, start=f"2027-01-{day}T10:00:00Z", end=f"2027-01-{day}T11:00:00Z", title=f"Day {day}"
                    )
                )["id"],
            )
        )
    in_order = [meeting_id for _, meeting_id in sorted(ids)]

    seen, after = [], None
    for _ in range(5):
        page = (await api.data(MEETINGS, {"first": 2, "after": after}))["meetings"]
        seen += [e["node"]["id"] for e in page["edges"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    assert seen == in_order
    assert after is not None

    await api.data(CANCEL, {"input": {"meetingId": in_order[0]}})
    scheduled = (await api.data(MEETINGS, {"filter": {"status": "SCHEDULED"}}))["meetings"]["edges"]
    assert [e["node"]["id"] for e in scheduled] == in_order[1:]
    window = await api.data(MEETINGS, {"filter": {"from": "2027-01-12T10:30:00Z", "to": "2027-01-14T10:00:00Z"}})
    assert [e["node"]["title"] for e in window["meetings"]["edges"]] == ["Day 12", "Day 13"]
    empty = (await api.data(MEETINGS, {"filter": {"from": "2028-01-01T00:00:00Z"}}))["meetings"]
    assert empty == {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}


@pytest.mark.parametrize(
    "variables",
    [
        {"first": 0},
        {"first": 101},
        {"first": -1},
        {"after": "garbage!"},
        {"after": "MTIzOm5vdC1hbi1pZA"},
        {"filter": {"from": "2027-01-01T00:00:00"}},
    ],
)
async def test_bad_page_arguments_are_readable_errors_not_masked(api, variables):
    body = await api.gql(MEETINGS, variables)
    assert body["data"]["meetings"]["edges"] == []  # a page all the same (tests/e2e/api/test_relay.py)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["path"] == ["meetings"]
    assert "Unexpected error" not in error["message"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timeZone", "Europe"),
        ("timeZone", "Etc"),
        ("timeZone", "localtime"),
        ("timeZone", "posixrules"),
        ("timeZone", "UTC/../Europe/London"),
    ],
)
async def test_time_zones_that_are_not_iana_names_are_refused_cleanly(api, field, value):
    payload = (await api.data(SCHEDULE, {"input": meeting_input(**{field: value})}))["scheduleMeeting"]
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("INVALID_TIME_ZONE", ["input", "timeZone"])]


@pytest.mark.parametrize("start", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00", "1066-10-14T09:00:00Z"])
async def test_instants_at_the_edges_of_time_are_validation_errors(api, start):
    body = await api.gql(SCHEDULE, {"input": meeting_input(start=start)})
    assert body.get("data") is None and "Unexpected error" not in body["errors"][0]["message"]
    listed = await api.gql(MEETINGS, {"filter": {"from": start}})
    assert listed.get("data") is None and "Unexpected error" not in listed["errors"][0]["message"]


async def test_a_bad_literal_in_the_document_is_readable_too(api):
    body = await api.gql('query { meetings(filter: {from: "nope"}) { edges { cursor } } }')
    assert body.get("data") is None
    assert "ISO 8601" in body["errors"][0]["message"]
