"""Only the organizer changes or cancels a meeting; the others answer it (DESIGN.md §9, issue 12 item 2).

Checked in the sandbox's calendars: declining takes the meeting out of one's own calendar, or withdraws
one's invitation on the organizer's event; accepting again brings it back.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import Api
from tests.support.documents import CANCEL, RESPOND, UPDATE
from tests.support.factories import deliveries, link_account, schedule
from tests.support.sandbox import calendar_events


@pytest.fixture
async def linked(api: Api) -> None:
    """Alice and Bob have linked calendars; Carol is a platform user without one."""
    await link_account(api, user="alice", profile_name="alice@example.test")
    await link_account(api, user="bob", profile_name="bob@example.test")


async def answer(api: Api, meeting_id: str, response: str, *, user: str) -> dict[str, Any]:
    payload: dict[str, Any] = (
        await api.data(RESPOND, {"input": {"meetingId": meeting_id, "response": response}}, user=user)
    )["respondToMeeting"]
    return payload


def response_of(meeting: dict[str, Any], email: str) -> str:
    return next(p["response"] for p in meeting["participants"] if p["email"] == email)


async def test_a_participant_may_neither_change_nor_cancel_the_meeting(api, sandbox, linked):
    # given Alice's meeting with Bob
    meeting = await schedule(api)
    before = await calendar_events(sandbox)

    # when Bob tries to rewrite it, then to cancel it
    for document, extra in ((UPDATE, {"title": "Rewritten by Bob"}), (CANCEL, {})):
        payload = await api.data(document, {"input": {"meetingId": meeting["id"], **extra}}, user="bob")
        errors = next(iter(payload.values()))["userErrors"]

        # then he is told he may not, and nothing changed in any calendar
        assert [(e["code"], e["field"]) for e in errors] == [("NOT_ALLOWED", ["input", "meetingId"])]
    assert await calendar_events(sandbox) == before


async def test_declining_takes_the_meeting_out_of_ones_own_calendar_and_accepting_brings_it_back(api, sandbox, linked):
    meeting = await schedule(api)

    # when Bob (own calendar) declines
    declined = await answer(api, meeting["id"], "DECLINED", user="bob")

    # then his copy leaves his calendar, Alice's stays, and the organizer sees the answer
    assert declined["userErrors"] == []
    assert response_of(declined["meeting"], "bob@example.test") == "DECLINED"
    assert set(await calendar_events(sandbox)) == {"alice@example.test"}
    assert set(await calendar_events(sandbox, deleted=True)) == {"bob@example.test"}
    assert deliveries(declined["meeting"])["bob@example.test"] == ("OWN_CALENDAR", "SYNCED")

    # when he accepts after all
    accepted = await answer(api, meeting["id"], "ACCEPTED", user="bob")

    # then the meeting is back in his calendar
    assert response_of(accepted["meeting"], "bob@example.test") == "ACCEPTED"
    assert set(await calendar_events(sandbox)) == {"alice@example.test", "bob@example.test"}


async def test_an_invited_participant_declining_withdraws_the_invitation_on_the_organizers_event(api, sandbox, linked):
    # given Carol, without a calendar, invited on Alice's event
    meeting = await schedule(api, participants=[{"userId": "carol", "email": "carol@example.test"}])
    host = (await calendar_events(sandbox))["alice@example.test"]
    assert [a["email"] for a in host["attendees"]] == ["carol@example.test"]

    # when Carol declines
    declined = await answer(api, meeting["id"], "DECLINED", user="carol")

    # then her answer reaches Alice's event: the invitation is withdrawn there
    assert response_of(declined["meeting"], "carol@example.test") == "DECLINED"
    host = (await calendar_events(sandbox))["alice@example.test"]
    assert host["attendees"] == []

    # and accepting again invites her once more
    await answer(api, meeting["id"], "TENTATIVE", user="carol")
    host = (await calendar_events(sandbox))["alice@example.test"]
    assert [a["email"] for a in host["attendees"]] == ["carol@example.test"]


async def test_an_answer_that_changes_no_calendar_writes_nothing(api, sandbox, linked):
    meeting = await schedule(api)
    writes = len(await sandbox.requests())

    answered = await answer(api, meeting["id"], "TENTATIVE", user="bob")

    assert response_of(answered["meeting"], "bob@example.test") == "TENTATIVE"
    assert len(await sandbox.requests()) == writes  # Bob's copy stays as it is: no call to Cronofy


@pytest.mark.parametrize(
    ("user", "response", "expected"),
    [
        ("alice", "ACCEPTED", ("NOT_ALLOWED", ["input", "meetingId"])),  # the organizer does not answer
        ("bob", "NEEDS_ACTION", ("INVALID_INPUT", ["input", "response"])),  # not an answer
        ("mallory", "ACCEPTED", ("NOT_FOUND", ["input", "meetingId"])),  # not in the meeting
    ],
)
async def test_answers_that_cannot_be_given(api, linked, user, response, expected):
    meeting = await schedule(api)

    payload = await answer(api, meeting["id"], response, user=user)

    assert payload["meeting"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [expected]


async def test_a_cancelled_meeting_takes_no_answer(api, linked):
    meeting = await schedule(api)
    await api.data(CANCEL, {"input": {"meetingId": meeting["id"]}})

    payload = await answer(api, meeting["id"], "ACCEPTED", user="bob")

    assert [e["code"] for e in payload["userErrors"]] == ["ALREADY_CANCELLED"]
