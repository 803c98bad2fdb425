"""Nobody writes into a calendar that is not theirs to write (DESIGN.md §9, issue 12 item 1).

The platform's token says who the user's mentoring partners are (`partners`) and whether their program
has calendars on (`calendar_integration`); a user id that is not a partner is refused, with the same
answer whether or not that user has a calendar linked.
"""

from __future__ import annotations

from typing import Any

from gql_api.auth import mint_dev_token
from tests.support.api import REDIRECT_URI, Api
from tests.support.browser import consent
from tests.support.documents import BEGIN_LINK, LINK, SCHEDULE
from tests.support.factories import link_account, meeting_input
from tests.support.sandbox import calendar_events

ATTACK = meeting_input(
    title="Click this",
    description="https://evil.example/login",
    participants=[{"userId": "victim", "email": "victim@example.test"}],
)


async def schedule_as(api: Api, user: str, variables: dict[str, Any], **claims: Any) -> dict[str, Any]:
    token = mint_dev_token(api.settings, user, email=f"{user}@example.test", **claims)
    status, body = await api.post(
        {"query": SCHEDULE, "variables": {"input": variables}}, headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 200, body
    payload: dict[str, Any] = body["data"]["scheduleMeeting"]
    return payload


async def test_a_user_id_that_is_not_a_partner_is_refused_the_same_whether_linked_or_not(api, sandbox, database):
    # given Mallory has no partners, and the victim has no calendar linked yet
    unlinked = await schedule_as(api, "mallory", ATTACK)

    # when the victim links a calendar and Mallory tries again
    await link_account(api, user="victim", profile_name="victim@example.test")
    linked = await schedule_as(api, "mallory", ATTACK)

    # then both answers are the same refusal on that participant, so nobody learns who has a calendar
    for payload in (unlinked, linked):
        assert payload["meeting"] is None
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
            ("NOT_ALLOWED", ["input", "participants", "0", "userId"])
        ]
    assert unlinked["userErrors"][0]["message"] == linked["userErrors"][0]["message"]
    # and nothing was stored or written
    assert await database["meetings"].count_documents({}) == 0
    assert await calendar_events(sandbox) == {}


async def test_a_partner_is_accepted(api, sandbox):
    await link_account(api, user="victim", profile_name="victim@example.test")

    payload = await schedule_as(api, "mallory", ATTACK, partners=["victim"])

    assert payload["userErrors"] == [] and payload["meeting"]["participants"][1]["userId"] == "victim"


async def test_an_organizer_without_a_calendar_cannot_send_invitations_from_someone_elses(api, sandbox):
    # given the victim (a partner of Mallory, say) has a calendar, Mallory has none
    await link_account(api, user="victim", profile_name="victim@example.test")
    many = [{"email": f"target{i}@example.test"} for i in range(48)]
    variables = {**ATTACK, "participants": [{"userId": "victim", "email": "victim@example.test"}, *many]}

    # when Mallory schedules with the victim and 48 addresses of her choosing
    payload = await schedule_as(api, "mallory", variables, partners=["victim"])

    # then the victim gets their own copy, and no invitation leaves the victim's calendar
    events = await calendar_events(sandbox)
    assert set(events) == {"victim@example.test"} and events["victim@example.test"]["attendees"] == []
    deliveries = {p["email"]: p["calendarEvent"]["delivery"] for p in payload["meeting"]["participants"]}
    assert deliveries["victim@example.test"] == "OWN_CALENDAR"
    assert {deliveries[f"target{i}@example.test"] for i in range(48)} == {"NONE"}


async def test_a_program_without_calendars_may_not_link(api, sandbox):
    token = mint_dev_token(api.settings, "alice", email="alice@example.test", calendar_integration=False)
    headers = {"Authorization": f"Bearer {token}"}

    _, begun = await api.post(
        {"query": BEGIN_LINK, "variables": {"input": {"redirectUri": REDIRECT_URI}}}, headers=headers
    )
    # a code and state obtained otherwise (before the program turned calendars off) do not help either
    callback = await consent(
        (await api.data(BEGIN_LINK, {"input": {"redirectUri": REDIRECT_URI}}))["beginCalendarLink"]["authorizationUrl"]
    )
    _, linked = await api.post({"query": LINK, "variables": {"input": callback}}, headers=headers)

    for payload in (begun["data"]["beginCalendarLink"], linked["data"]["linkCalendar"]):
        assert [e["code"] for e in payload["userErrors"]] == ["NOT_ALLOWED"]
        assert "not enabled for your program" in payload["userErrors"][0]["message"]
    assert await sandbox.tokens("refresh") == []  # the code was never exchanged
