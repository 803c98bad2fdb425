"""The Cronofy sandbox's events over real HTTP: upsert, delete, read, paging, faults, control API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from aiohttp import web

from tests.support.clock import FakeClock
from tests.support.sandbox import PROFILE, START, LinkedUser, Sandbox, calendar_ids, link_tokens, sandbox_app, serving

SCOPE = "list_calendars read_events create_event delete_event"


# -- a linked user -----------------------------------------------------------------------


@dataclass
class User(LinkedUser):
    async def upsert(self, body: dict[str, Any], calendar_id: str | None = None) -> httpx.Response:
        return await self.http.post(self.events_path(calendar_id), json=body, headers=self.headers)

    async def delete(self, body: dict[str, Any], calendar_id: str | None = None) -> httpx.Response:
        return await self.http.request("DELETE", self.events_path(calendar_id), json=body, headers=self.headers)

    async def read(self, **params: Any) -> httpx.Response:
        return await self.http.get("v1/events", params={"tzid": "Etc/UTC", **params}, headers=self.headers)

    async def read_all(self, **params: Any) -> list[dict[str, Any]]:
        """Every event of a read, following `next_page` like the Ruby SDK (bounded)."""
        response = await self.read(**params)
        found = []
        for _ in range(100):
            assert response.status_code == 200, response.text
            found += response.json()["events"]
            next_page = response.json()["pages"].get("next_page")
            if next_page is None:
                return found
            response = await self.http.get(next_page, headers=self.headers)
        raise AssertionError("too many pages")


async def link(http: httpx.AsyncClient, *, scope: str = SCOPE, profile: str = PROFILE) -> User:
    """Press Allow on the consent form, exchange the code, list the calendars."""
    token = await link_tokens(http, scope=scope, profile=profile)
    return User(http, token["sub"], token["access_token"], await calendar_ids(http, token["sub"]))


def event_body(event_id: str = "meeting-1", **fields: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "summary": "Mentoring session",
        "description": "Career chat",
        "start": "2023-11-20T10:00:00Z",
        "end": "2023-11-20T11:00:00Z",
        "tzid": "Europe/London",
        **fields,
    }


async def control_events(http: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await http.get("_control/events", params=params)
    assert response.status_code == 200
    return response.json()


def managed(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The app's own events (the seeded dentist is not one)."""
    return [event for event in events if event["managed"]]


def summaries(events: list[dict[str, Any]]) -> list[str]:
    return [event["summary"] for event in events]


# -- upsert ------------------------------------------------------------------------------


async def test_upsert_creates_then_updates_one_event(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)

    created = await user.upsert(event_body())
    sandbox.clock.advance(60)
    again = await user.upsert(event_body())
    sandbox.clock.advance(60)
    updated = await user.upsert(
        event_body(summary="Moved session", start="2023-11-21T10:00:00+00:00", end="2023-11-21T10:30:00.000Z")
    )

    for response in (created, again, updated):
        assert (response.status_code, response.content) == (202, b"")
    [event] = managed(await control_events(sandbox.http, calendar_id=user.primary, sub=user.sub))
    assert event["event_id"] == "meeting-1"
    assert event["event_uid"].startswith("evt_external_")
    assert (event["summary"], event["start"], event["end"]) == (
        "Moved session",
        "2023-11-21T10:00:00Z",
        "2023-11-21T10:30:00Z",
    )
    assert event["description"] == "Career chat"  # not resent, so kept
    assert (event["tzid"], event["managed"], event["deleted"]) == ("Europe/London", True, False)
    assert (event["created"], event["updated"]) == ("2023-11-14T22:13:20Z", "2023-11-14T22:15:20Z")
    assert event["last_written_by"] == "app"


async def test_upsert_accepts_dates_and_times_with_their_own_zone(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)

    all_day = await user.upsert(event_body("retreat", start="2023-12-06", end="2023-12-08"))
    zoned = await user.upsert(
        event_body(
            "zoned",
            start={"time": "2023-11-20T10:00:00Z", "tzid": "Europe/Paris"},
            end={"time": "2023-11-20T11:00:00Z", "tzid": "Europe/Paris"},
            location={"description": "Room 4"},
            attendees={"invite": [{"email": "pat@example.com", "display_name": "Pat"}]},
        )
    )

    assert (all_day.status_code, zoned.status_code) == (202, 202)
    read = {e["event_id"]: e for e in (await user.read(only_managed="true")).json()["events"]}
    assert (read["retreat"]["start"], read["retreat"]["end"]) == ("2023-12-06", "2023-12-08")
    assert read["retreat"]["transparency"] == "transparent"
    zoned_event = read["zoned"]
    assert (zoned_event["start"], zoned_event["end"]) == ("2023-11-20T10:00:00Z", "2023-11-20T11:00:00Z")
    assert zoned_event["location"] == {"description": "Room 4"}
    assert zoned_event["transparency"] == "opaque"
    assert zoned_event["status"] == "confirmed"
    assert zoned_event["organizer"] == {"email": PROFILE}
    assert zoned_event["attendees"] == [{"email": "pat@example.com", "display_name": "Pat", "status": "needs_action"}]
    assert zoned_event["options"] == {"delete": True, "update": True, "change_participation_status": False}
    controlled = {e["event_id"]: e for e in await control_events(sandbox.http)}
    assert controlled["zoned"]["tzid"] == "Europe/Paris"


async def test_attendees_are_invited_rejected_and_removed(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    pat = {"email": "pat@example.com", "display_name": "Pat"}
    sam = {"email": "sam@example.com", "display_name": "Sam"}
    kim = {"email": "kim@example.com"}

    await user.upsert(event_body(attendees={"invite": [pat, sam]}))
    [first] = managed(await control_events(sandbox.http))
    await user.upsert(event_body(attendees={"invite": [{"email": "PAT@example.com"}, kim], "reject": [sam]}))
    [second] = managed(await control_events(sandbox.http))
    response = await user.upsert(event_body(attendees={"remove": [{"email": "kim@example.com"}]}))
    [third] = managed(await control_events(sandbox.http))

    assert response.status_code == 202
    assert [a["email"] for a in first["attendees"]] == ["pat@example.com", "sam@example.com"]
    assert {a["status"] for a in first["attendees"]} == {"needs_action"}
    assert second["attendees"] == [
        {"email": "pat@example.com", "display_name": "Pat", "status": "needs_action"},
        {"email": "kim@example.com", "display_name": None, "status": "needs_action"},
    ]
    assert [a["email"] for a in third["attendees"]] == ["pat@example.com"]


@pytest.mark.parametrize(
    ("changes", "field", "key"),
    [
        ({"event_id": None}, "event_id", "errors.required"),
        ({"event_id": "x" * 65}, "event_id", "errors.too_long"),
        ({"event_id": "has space"}, "event_id", "errors.invalid"),
        ({"summary": None}, "summary", "errors.required"),
        ({"summary": "x" * 1025}, "summary", "errors.too_long"),
        ({"description": "x" * 4097}, "description", "errors.too_long"),
        ({"start": None}, "start", "errors.required"),
        ({"end": None}, "end", "errors.required"),
        ({"start": "2023-11-20T10:00:00.500Z"}, "start", "errors.invalid_time"),
        ({"end": "2023-11-20T11:00:00.001Z"}, "end", "errors.invalid_time"),
        ({"start": "2023-11-20 10:00"}, "start", "errors.invalid_time"),
        ({"start": "2023-11-20T10:00:00+02:00"}, "start", "errors.invalid_time"),
        ({"end": "2023-11-20T09:00:00Z"}, "end", "errors.end_before_start"),
        ({"start": "2023-11-20", "end": "2023-11-19"}, "end", "errors.end_before_start"),
        ({"tzid": "Mars/Olympus_Mons"}, "tzid", "errors.invalid_tzid"),
        ({"start": {"time": "2023-11-20T10:00:00Z", "tzid": "Nowhere"}}, "start", "errors.invalid_tzid"),
        ({"attendees": {"invite": [{"email": "not-an-address"}]}}, "attendees.invite", "errors.invalid_email"),
    ],
)
async def test_invalid_upserts_get_422_with_the_errors_map(
    sandbox: Sandbox, changes: dict[str, Any], field: str, key: str
) -> None:
    user = await link(sandbox.http)
    body = {name: value for name, value in {**event_body(), **changes}.items() if value is not None}

    response = await user.upsert(body)

    assert response.status_code == 422
    errors = response.json()["errors"]
    assert list(errors) == [field]
    [problem] = errors[field]
    assert problem["key"] == key
    assert isinstance(problem["description"], str) and problem["description"]
    assert managed(await control_events(sandbox.http)) == []


async def test_an_empty_or_non_json_body_is_422(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    path = f"v1/calendars/{quote(user.primary, safe='')}/events"

    response = await sandbox.http.post(path, content=b"not json", headers=user.headers)
    empty = await user.upsert({})

    assert response.status_code == 422
    assert "errors" in response.json()
    assert empty.status_code == 422
    assert set(empty.json()["errors"]) == {"event_id", "summary", "start", "end"}


async def test_a_read_only_calendar_refuses_events(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)

    response = await user.upsert(event_body(), calendar_id=user.calendars["Holidays"])

    assert response.status_code == 422
    [problem] = response.json()["errors"]["calendar_id"]
    assert problem["key"] == "errors.calendar_readonly"
    assert managed(await control_events(sandbox.http)) == []


async def test_unknown_and_foreign_calendars_are_404(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    other = await link(sandbox.http, profile="someone.else@example.com")

    foreign = await user.upsert(event_body(), calendar_id=other.primary)
    unknown = await user.upsert(event_body(), calendar_id="cal_nope_nothing")
    foreign_delete = await user.delete({"event_id": "meeting-1"}, calendar_id=other.primary)

    assert (foreign.status_code, unknown.status_code, foreign_delete.status_code) == (404, 404, 404)
    assert managed(await control_events(sandbox.http)) == []


async def test_calendar_ids_with_at_and_dash_are_url_decoded(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    assert "@" in user.primary and "-" in user.calendars["Work"]

    encoded = await user.upsert(event_body("at"), calendar_id=user.primary)  # "@" sent as %40
    raw = await sandbox.http.post(
        f"v1/calendars/{user.calendars['Work']}/events", json=event_body("dash"), headers=user.headers
    )

    assert (encoded.status_code, raw.status_code) == (202, 202)
    listed = {e["event_id"]: e["calendar_id"] for e in managed(await control_events(sandbox.http))}
    assert listed == {"at": user.primary, "dash": user.calendars["Work"]}
    log = (await sandbox.http.get("_control/requests")).json()
    assert log[-2]["path"] == f"/v1/calendars/{user.primary}/events"


async def test_writing_needs_create_event_and_deleting_needs_delete_event(sandbox: Sandbox) -> None:
    reader = await link(sandbox.http, scope="read_events delete_event")
    writer = await link(sandbox.http, scope="create_event", profile="writer@example.com")

    refused_upsert = await reader.upsert(event_body())
    allowed_upsert = await writer.upsert(event_body())
    refused_delete = await writer.delete({"event_id": "meeting-1"})
    unauthenticated = await sandbox.http.post(
        f"v1/calendars/{quote(writer.primary, safe='')}/events", json=event_body()
    )

    assert (refused_upsert.status_code, refused_upsert.content) == (403, b"")
    assert allowed_upsert.status_code == 202
    assert refused_delete.status_code == 403
    assert unauthenticated.status_code == 401
    [event] = managed(await control_events(sandbox.http))
    assert event["deleted"] is False


# -- delete ------------------------------------------------------------------------------


async def test_delete_keeps_the_event_for_include_deleted_reads(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    await user.upsert(event_body(attendees={"invite": [{"email": "pat@example.com"}]}))
    sandbox.clock.advance(30)

    response = await user.delete({"event_id": "meeting-1"})

    assert (response.status_code, response.content) == (202, b"")
    assert (await user.read(only_managed="true")).json()["events"] == []
    [event] = (await user.read(only_managed="true", include_deleted="true")).json()["events"]
    assert (event["event_id"], event["deleted"], event["status"]) == ("meeting-1", True, "cancelled")
    assert event["updated"] == "2023-11-14T22:13:50Z"
    [controlled] = managed(await control_events(sandbox.http))
    assert controlled["deleted"] is True


async def test_deleting_an_unknown_event_is_accepted_and_a_missing_id_is_422(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)

    unknown = await user.delete({"event_id": "never-created"})
    missing = await user.delete({})

    assert (unknown.status_code, unknown.content) == (202, b"")
    assert missing.status_code == 422
    assert missing.json()["errors"]["event_id"][0]["key"] == "errors.required"


async def test_upserting_a_deleted_event_brings_it_back(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    await user.upsert(event_body())
    await user.delete({"event_id": "meeting-1"})

    restored = await user.upsert(event_body(summary="Back on"))

    assert restored.status_code == 202
    [event] = (await user.read(only_managed="true")).json()["events"]
    assert (event["summary"], event["deleted"], event["status"]) == ("Back on", False, "confirmed")
    assert len(managed(await control_events(sandbox.http))) == 1


# -- reading -----------------------------------------------------------------------------


async def test_reads_keep_managed_and_external_events_apart(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    await user.upsert(event_body())

    default = (await user.read()).json()
    managed_only = (await user.read(only_managed="True")).json()
    both = (await user.read(include_managed="TRUE")).json()

    assert summaries(default["events"]) == ["Dentist"]
    [dentist] = default["events"]
    assert "event_id" not in dentist
    assert dentist["calendar_id"] == user.primary
    assert dentist["event_uid"].startswith("evt_external_")
    assert (dentist["start"], dentist["end"]) == ("2023-11-15T09:00:00Z", "2023-11-15T09:30:00Z")
    assert dentist["options"] == {"delete": False, "update": False, "change_participation_status": False}
    assert default["pages"] == {"current": 1, "total": 1}
    assert summaries(managed_only["events"]) == ["Mentoring session"]
    assert managed_only["events"][0]["event_id"] == "meeting-1"
    assert summaries(both["events"]) == ["Dentist", "Mentoring session"]


async def test_only_managed_reads_need_just_create_event(sandbox: Sandbox) -> None:
    user = await link(sandbox.http, scope="create_event")
    await user.upsert(event_body())

    managed = await user.read(only_managed="true")
    everything = await user.read(include_managed="true")

    assert managed.status_code == 200
    assert summaries(managed.json()["events"]) == ["Mentoring session"]
    assert (everything.status_code, everything.content) == (403, b"")


async def test_managed_events_escape_the_default_window_but_not_given_dates(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    await user.upsert(event_body("ancient", start="2001-01-01T10:00:00Z", end="2001-01-01T11:00:00Z"))
    await user.upsert(event_body("soon"))

    default = await user.read_all(only_managed="true")
    bounded = await user.read_all(only_managed="true", **{"from": "2023-11-01", "to": "2023-12-01"})
    outside = await user.read_all(include_managed="true", **{"from": "2023-11-16", "to": "2023-11-20"})

    assert [e["event_id"] for e in default] == ["ancient", "soon"]
    assert [e["event_id"] for e in bounded] == ["soon"]
    assert outside == []  # the dentist (15th) and the session (20th, `to` is exclusive) are outside


async def test_from_and_to_are_days_in_the_query_tzid(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)  # the dentist: 2023-11-15, 09:00 to 09:30 UTC
    await user.upsert(event_body("retreat", start="2023-11-15", end="2023-11-16"))
    window = {"include_managed": "true", "from": "2023-11-01", "to": "2023-11-15"}

    west = await user.read_all(**window, tzid="Pacific/Pago_Pago")  # UTC-11: the 15th begins at 11:00Z
    east = await user.read_all(**window, tzid="Pacific/Kiritimati")  # UTC+14: it began at 10:00Z on the 14th

    assert summaries(west) == ["Dentist"]
    assert summaries(east) == []  # and the all-day retreat is on the 15th wherever you are


async def test_last_modified_gives_only_what_changed_since(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    await user.upsert(event_body("older"))
    sandbox.clock.advance(600)
    await user.upsert(event_body("newer"))

    changed = await user.read_all(include_managed="true", last_modified="2023-11-14T22:23:20Z")
    everything = await user.read_all(include_managed="true", last_modified="2023-11-01T00:00:00Z")
    bad = await user.read(last_modified="yesterday")

    assert [e["event_id"] for e in changed] == ["newer"]  # "at or after", per cronofy.md §6.5
    assert summaries(everything) == ["Dentist", "Mentoring session", "Mentoring session"]
    assert (bad.status_code, list(bad.json()["errors"])) == (422, ["last_modified"])


async def test_calendar_ids_restrict_the_read(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    await user.upsert(event_body("work"), calendar_id=user.calendars["Work"])
    await user.upsert(event_body("home"))

    work = await user.http.get(
        "v1/events",
        params=[("tzid", "Etc/UTC"), ("include_managed", "true"), ("calendar_ids[]", user.calendars["Work"])],
        headers=user.headers,
    )
    both = await user.http.get(
        "v1/events",
        params=[
            ("tzid", "Etc/UTC"),
            ("only_managed", "true"),
            ("calendar_ids[]", user.calendars["Work"]),
            ("calendar_ids[]", user.primary),
        ],
        headers=user.headers,
    )

    assert [e.get("event_id") for e in work.json()["events"]] == ["work"]
    assert sorted(e["event_id"] for e in both.json()["events"]) == ["home", "work"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "tzid"),
        ({"tzid": "Nowhere/Special"}, "tzid"),
        ({"tzid": "Etc/UTC", "from": "2023-13-01"}, "from"),
        ({"tzid": "Etc/UTC", "include_deleted": "maybe"}, "include_deleted"),
    ],
)
async def test_bad_read_queries_are_422(sandbox: Sandbox, params: dict[str, str], field: str) -> None:
    user = await link(sandbox.http)

    response = await user.http.get("v1/events", params={**params, "unknown_param": "ignored"}, headers=user.headers)

    assert response.status_code == 422
    assert list(response.json()["errors"]) == [field]


async def test_reading_needs_read_events_without_only_managed(sandbox: Sandbox) -> None:
    user = await link(sandbox.http, scope="list_calendars delete_event")

    plain = await user.read()
    managed = await user.read(only_managed="true")
    anonymous = await sandbox.http.get("v1/events", params={"tzid": "Etc/UTC"})

    assert (plain.status_code, managed.status_code, anonymous.status_code) == (403, 403, 401)


# -- paging ------------------------------------------------------------------------------


async def _five_events(sandbox: Sandbox, user: User) -> None:
    assert (await sandbox.http.post("_control/config", json={"events_page_size": 2})).status_code == 200
    for day in range(20, 25):
        start, end = f"2023-11-{day}T10:00:00Z", f"2023-11-{day}T11:00:00Z"
        assert (await user.upsert(event_body(f"day-{day}", start=start, end=end))).status_code == 202


async def test_pages_follow_next_page_to_the_end(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    await _five_events(sandbox, user)

    pages = [(await user.read(only_managed="true")).json()]
    for _ in range(10):
        next_page = pages[-1]["pages"].get("next_page")
        if next_page is None:
            break
        response = await sandbox.http.get(next_page, headers=user.headers)
        assert response.status_code == 200
        pages.append(response.json())

    assert [page["pages"]["current"] for page in pages] == [1, 2, 3]
    assert {page["pages"]["total"] for page in pages} == {3}
    assert [len(page["events"]) for page in pages] == [2, 2, 1]
    assert [e["event_id"] for page in pages for e in page["events"]] == [f"day-{d}" for d in range(20, 25)]
    assert "next_page" not in pages[-1]["pages"]
    first_next = urlsplit(pages[0]["pages"]["next_page"])
    base = urlsplit(str(sandbox.http.base_url))
    assert (first_next.scheme, first_next.netloc) == (base.scheme, base.netloc)
    assert first_next.path.startswith("/v1/events/pages/")
    assert first_next.query == ""


async def test_next_page_needs_the_same_account(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    other = await link(sandbox.http, profile="someone.else@example.com")
    await _five_events(sandbox, user)
    next_page = (await user.read(only_managed="true")).json()["pages"]["next_page"]

    anonymous = await sandbox.http.get(next_page)
    stranger = await sandbox.http.get(next_page, headers=other.headers)
    unknown = await sandbox.http.get("v1/events/pages/0000000000000000", headers=user.headers)

    assert anonymous.status_code == 401
    assert (stranger.status_code, unknown.status_code) == (404, 404)


async def test_events_work_when_mounted_as_a_sub_app() -> None:
    parent = web.Application()
    parent.add_subapp("/sandbox/cronofy", sandbox_app(FakeClock(START), events_page_size=2))

    async with serving(parent, "/sandbox/cronofy/") as http:
        user = await link(http)
        for number in range(3):
            assert (await user.upsert(event_body(f"m-{number}"))).status_code == 202
        first = (await user.read(only_managed="true")).json()
        next_page = first["pages"]["next_page"]
        second = await http.get(next_page, headers=user.headers)
        deleted = await user.delete({"event_id": "m-0"})
        log = (await http.get("_control/requests")).json()

    assert urlsplit(next_page).path.startswith("/sandbox/cronofy/v1/events/pages/")
    assert urlsplit(next_page).netloc == urlsplit(str(http.base_url)).netloc
    assert second.status_code == 200
    assert [e["event_id"] for e in first["events"] + second.json()["events"]] == ["m-0", "m-1", "m-2"]
    assert deleted.status_code == 202
    assert log[-1] == {"method": "DELETE", "path": f"/v1/calendars/{user.primary}/events", "at": START, "status": 202}


# -- faults and the control API ----------------------------------------------------------


async def test_faults_hit_the_events_paths_by_method(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    await sandbox.http.post("_control/faults", json={"path": "/v1/calendars/", "method": "DELETE", "status": 503})
    await sandbox.http.post("_control/faults", json={"path": "/v1/events", "status": 429, "retry_after": 2})

    upserted = await user.upsert(event_body())
    deleted = await user.delete({"event_id": "meeting-1"})
    read = await user.read(only_managed="true")
    read_again = await user.read(only_managed="true")

    assert upserted.status_code == 202
    assert (deleted.status_code, deleted.content) == (503, b"")
    assert (read.status_code, read.headers["retry-after"]) == (429, "2")
    assert read_again.status_code == 200
    [event] = read_again.json()["events"]
    assert event["deleted"] is False  # the faulted delete never reached the event


async def test_control_lists_events_with_filters_and_reset_clears_them(sandbox: Sandbox) -> None:
    user = await link(sandbox.http)
    other = await link(sandbox.http, profile="someone.else@example.com")
    await user.upsert(event_body(location={"description": "Room 1"}))
    await other.upsert(event_body("theirs"), calendar_id=other.calendars["Work"])

    everything = await control_events(sandbox.http)
    mine = await control_events(sandbox.http, sub=user.sub)
    their_work = await control_events(sandbox.http, calendar_id=other.calendars["Work"])
    state = (await sandbox.http.get("_control/state")).json()
    await sandbox.http.post("_control/reset")

    assert len(everything) == 4  # two dentists, two managed events
    assert {e["sub"] for e in mine} == {user.sub}
    assert summaries(mine) == ["Dentist", "Mentoring session"]
    dentist, session = mine
    assert (dentist["managed"], dentist["event_id"], dentist["last_written_by"]) == (False, None, "external")
    assert set(session) == {
        "sub",
        "calendar_id",
        "event_id",
        "event_uid",
        "summary",
        "description",
        "start",
        "end",
        "tzid",
        "location",
        "attendees",
        "deleted",
        "managed",
        "last_written_by",
        "created",
        "updated",
    }
    assert session["location"] == {"description": "Room 1"}
    assert [e["event_id"] for e in their_work] == ["theirs"]
    assert sum(len(a["events"]) for a in state["accounts"]) == 4
    assert await control_events(sandbox.http) == []


async def test_control_config_validates_the_page_size(sandbox: Sandbox) -> None:
    refused = await sandbox.http.post("_control/config", json={"events_page_size": 0})
    accepted = await sandbox.http.post("_control/config", json={"events_page_size": 3})

    assert refused.status_code == 400
    assert accepted.json()["events_page_size"] == 3
