"""One user cannot use up the service: changes a minute per user, and changes per request (issue 12 item 7)."""

from __future__ import annotations

import dataclasses

from aiohttp.test_utils import TestClient, TestServer

from gql_api import create_app
from tests.support.api import Api
from tests.support.documents import SCHEDULE
from tests.support.factories import meeting_input

ONE_CHANGE = {"input": meeting_input(participants=[{"email": "dave@example.test"}])}


async def test_a_user_over_their_changes_a_minute_waits_while_others_go_on(settings, database, clock):
    # given a server allowing 3 changes a minute per user
    limited = dataclasses.replace(settings, mutations_per_user_per_minute=3)
    async with TestClient(TestServer(create_app(limited, database=database, clock=clock), host="127.0.0.1")) as client:
        api = Api(client, limited)

        # when Alice makes 3 changes, then a 4th within the minute
        for _ in range(3):
            assert (await api.data(SCHEDULE, ONE_CHANGE))["scheduleMeeting"]["userErrors"] == []
        response = await client.post(
            "/graphql", json={"query": SCHEDULE, "variables": ONE_CHANGE}, headers=api.headers("alice")
        )
        body = await response.json()

        # then the 4th is refused with a hint when to come back, and nothing of it is stored
        assert body["data"] is None
        error = body["errors"][0]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert 1 <= error["extensions"]["retryAfterSeconds"] <= 60
        assert response.headers["Retry-After"] == str(error["extensions"]["retryAfterSeconds"])
        assert await database["meetings"].count_documents({}) == 3

        # and Bob is not held up by Alice
        assert (await api.data(SCHEDULE, ONE_CHANGE, user="bob"))["scheduleMeeting"]["userErrors"] == []

        # and the next minute Alice may go on
        clock.advance(seconds=61)
        assert (await api.data(SCHEDULE, ONE_CHANGE))["scheduleMeeting"]["userErrors"] == []


async def test_a_request_may_hold_only_a_few_changes(api: Api):
    # when one request asks for six meetings at once through aliases
    many = " ".join(f"m{i}: scheduleMeeting(input: $input) {{ meeting {{ id }} }}" for i in range(6))
    status, body = await api.post(
        {"query": f"mutation Many($input: ScheduleMeetingInput!) {{ {many} }}", "variables": ONE_CHANGE},
        headers=api.headers("alice"),
    )

    # then it is refused before anything runs
    assert status == 200 and body.get("data") is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["MAX_MUTATIONS_EXCEEDED"]
