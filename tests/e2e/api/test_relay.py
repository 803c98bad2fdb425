"""Relay conformance as a client sees it: `node`/`nodes` answer only what the viewer may see, ids are
opaque and globally unique (Calendar's too), participants and their calendar copies have stable keys,
pages carry Relay's PageInfo, and a bad page argument answers a page and an error without nulling the
rest of the response."""

from __future__ import annotations

import base64

import pytest

from gql_api.graphql.limits import MAX_NODES
from gql_api.keys import RUNTIME
from tests.support.documents import RESPOND
from tests.support.factories import link_account, schedule

NODE = """
query Node($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Meeting { title participants { id email calendarEvent { id status } } }
    ... on CalendarConnection { profileName calendar { id name } }
    ... on Calendar { name primary }
  }
}"""
NODES = "query Nodes($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"
NODES_AND_MORE = "query Nodes($ids: [ID!]!) { nodes(ids: $ids) { id } calendarConnections { id } }"
PAGE_AND_MORE = """
query Page($first: Int, $after: String) {
  meetings(first: $first, after: $after) {
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
  calendarConnections { id profileName }
}"""
PARTICIPANT_KEYS = "query One($id: ID!) { meeting(id: $id) { participants { id calendarEvent { id } } } }"


def decoded(public_id: str) -> str:
    return base64.urlsafe_b64decode(public_id + "=" * (-len(public_id) % 4)).decode()


async def test_node_fetches_again_each_kind_of_object_the_viewer_may_see(api, sandbox):
    # given alice's linked calendar and a meeting she organizes
    connection = await link_account(api)
    meeting = await schedule(api)

    # when she fetches each by its id through node()
    as_meeting = (await api.data(NODE, {"id": meeting["id"]}))["node"]
    as_connection = (await api.data(NODE, {"id": connection["id"]}))["node"]
    as_calendar = (await api.data(NODE, {"id": connection["calendar"]["id"]}))["node"]

    # then each is the object she had, under its own type
    assert (as_meeting["__typename"], as_meeting["id"], as_meeting["title"]) == (
        "Meeting",
        meeting["id"],
        "Mentoring session",
    )
    assert (as_connection["__typename"], as_connection["id"]) == ("CalendarConnection", connection["id"])
    assert as_connection["calendar"] == {"id": connection["calendar"]["id"], "name": connection["calendar"]["name"]}
    assert as_calendar == {
        "__typename": "Calendar",
        "id": connection["calendar"]["id"],
        "name": connection["calendar"]["name"],
        "primary": True,
    }


async def test_calendar_ids_are_opaque_like_every_other_id(api, sandbox):
    connection = await link_account(api)

    calendar_id = connection["calendar"]["id"]

    # no longer Cronofy's own id, but one of ours: its kind, then the connection it belongs to
    assert not calendar_id.startswith("cal_")
    assert decoded(calendar_id).startswith("Calendar:")
    assert decoded(connection["id"]).startswith("CalendarConnection:")


async def test_node_answers_null_alike_for_missing_not_yours_and_malformed_ids(api, sandbox):
    # given bob's meeting and connection, which alice takes no part in
    bobs_connection = await link_account(api, user="bob", profile_name="bob@example.test")
    bobs_meeting = await schedule(api, user="bob", participants=[{"email": "carol@example.test"}])
    participant_id = (await api.data(PARTICIPANT_KEYS, {"id": bobs_meeting["id"]}, user="bob"))["meeting"][
        "participants"
    ][0]["id"]
    missing_meeting = base64.urlsafe_b64encode(b"Meeting:" + b"0" * 24).decode().rstrip("=")

    # when alice asks for each, and for ids that name nothing
    ids = [
        bobs_meeting["id"],
        bobs_connection["id"],
        bobs_connection["calendar"]["id"],
        missing_meeting,
        participant_id,  # a cache key, not a Node
        "not an id",
        "",
    ]
    answers = [await api.gql(NODE, {"id": public_id}) for public_id in ids]

    # then every answer is the same null, without an error: nothing tells what exists
    assert answers == [{"data": {"node": None}}] * len(ids)
    # while bob sees his own
    assert (await api.data(NODE, {"id": bobs_meeting["id"]}, user="bob"))["node"]["id"] == bobs_meeting["id"]


async def test_nodes_answers_in_order_with_nulls_for_what_the_viewer_may_not_see(api, sandbox):
    connection = await link_account(api)
    first, second = await schedule(api, title="First"), await schedule(api, title="Second")
    bobs = await schedule(api, user="bob", participants=[{"email": "carol@example.test"}])

    ids = [second["id"], bobs["id"], connection["id"], "garbage", first["id"], connection["calendar"]["id"]]
    answer = (await api.data(NODES, {"ids": ids}))["nodes"]

    assert answer == [
        {"__typename": "Meeting", "id": second["id"]},
        None,
        {"__typename": "CalendarConnection", "id": connection["id"]},
        None,
        {"__typename": "Meeting", "id": first["id"]},
        {"__typename": "Calendar", "id": connection["calendar"]["id"]},
    ]


async def test_nodes_reads_the_meetings_asked_for_at_once(api, sandbox, monkeypatch):
    meetings = [await schedule(api, title=f"M{i}") for i in range(3)]
    calls: list[list[str]] = []
    store = api.client.app[RUNTIME].services.meetings
    original = store.get_many

    async def counted(user, meeting_ids):
        calls.append(list(meeting_ids))
        return await original(user, meeting_ids)

    monkeypatch.setattr(store, "get_many", counted)

    answer = (await api.data(NODES, {"ids": [m["id"] for m in meetings]}))["nodes"]

    assert [node["id"] for node in answer] == [m["id"] for m in meetings]
    assert len(calls) == 1 and len(calls[0]) == 3


async def test_nodes_looks_up_at_most_the_bound_and_says_so_without_nulling_the_rest(api, sandbox):
    meeting = await schedule(api)
    ids = [meeting["id"]] * (MAX_NODES + 5)

    body = await api.gql(NODES_AND_MORE, {"ids": ids})

    # the first MAX_NODES are answered, the rest are null, and the error names the argument and the bound
    nodes = body["data"]["nodes"]
    assert len(nodes) == len(ids) and nodes[:MAX_NODES] == [{"id": meeting["id"]}] * MAX_NODES
    assert nodes[MAX_NODES:] == [None] * 5
    [error] = body["errors"]
    assert error["path"] == ["nodes"] and error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "argument": "ids",
        "max": MAX_NODES,
    }
    assert body["data"]["calendarConnections"] == []  # a sibling is untouched


async def test_node_needs_a_signed_in_user(api, sandbox):
    meeting = await schedule(api)

    body = await api.gql(NODE, {"id": meeting["id"]}, user=None)

    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_participants_and_their_calendar_copies_have_stable_globally_unique_keys(api, sandbox):
    await link_account(api)
    one = await schedule(
        api, participants=[{"userId": "bob", "email": "bob@example.test"}, {"email": "y@example.test"}]
    )
    other = await schedule(api, participants=[{"email": "x@example.test"}, {"email": "y@example.test"}])

    once = (await api.data(PARTICIPANT_KEYS, {"id": one["id"]}))["meeting"]["participants"]
    await api.data(RESPOND, {"input": {"meetingId": one["id"], "response": "DECLINED"}}, user="bob")
    again = (await api.data(PARTICIPANT_KEYS, {"id": one["id"]}))["meeting"]["participants"]
    other_keys = (await api.data(PARTICIPANT_KEYS, {"id": other["id"]}))["meeting"]["participants"]

    keys = [p["id"] for p in again] + [p["calendarEvent"]["id"] for p in again]
    assert again == once  # stable across reads and changes
    assert len(set(keys)) == 6  # three participants, each with one copy, none sharing a key
    assert not set(keys) & {key for p in other_keys for key in (p["id"], p["calendarEvent"]["id"])}
    assert {decoded(key).split(":")[0] for key in keys} == {"Participant", "CalendarEventSync"}


async def test_page_info_has_relays_four_fields(api, sandbox):
    for day in (12, 13, 14):
        await schedule(api, start=f"2027-01-{day}T10:00:00Z", end=f"2027-01-{day}T11:00:00Z")

    first = (await api.data(PAGE_AND_MORE, {"first": 2}))["meetings"]
    second = (await api.data(PAGE_AND_MORE, {"first": 2, "after": first["pageInfo"]["endCursor"]}))["meetings"]

    assert first["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": first["edges"][0]["cursor"],
        "endCursor": first["edges"][1]["cursor"],
    }
    assert second["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": False,  # forward paging only: the Relay spec allows false
        "startCursor": second["edges"][0]["cursor"],
        "endCursor": second["edges"][0]["cursor"],
    }


@pytest.mark.parametrize(("first", "served"), [(0, 1), (-5, 1), (101, 3), (10_000, 3)])
async def test_a_first_out_of_bounds_serves_the_nearest_bound_with_an_error_and_keeps_the_rest(
    api, sandbox, first, served
):
    # given three meetings and a linked calendar
    await link_account(api)
    for day in (12, 13, 14):
        await schedule(api, start=f"2027-01-{day}T10:00:00Z", end=f"2027-01-{day}T11:00:00Z")

    # when a page is asked with `first` out of 1..100, next to another field
    body = await api.gql(PAGE_AND_MORE, {"first": first})

    # then the page at the nearest bound is served (1, or 100: all three here), the sibling keeps its data,
    # and one BAD_USER_INPUT error at `meetings` names the argument and its bounds
    assert len(body["data"]["meetings"]["edges"]) == served
    assert body["data"]["calendarConnections"][0]["profileName"] == "alice@example.test"
    [error] = body["errors"]
    assert error["path"] == ["meetings"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "first", "min": 1, "max": 100}
    assert "between 1 and 100" in error["message"]


async def test_a_bad_cursor_answers_an_empty_page_with_an_error_and_keeps_the_rest(api, sandbox):
    await link_account(api)
    await schedule(api)

    body = await api.gql(PAGE_AND_MORE, {"first": 5, "after": "not-a-cursor"})

    assert body["data"]["meetings"] == {
        "edges": [],
        "pageInfo": {"hasNextPage": False, "hasPreviousPage": False, "startCursor": None, "endCursor": None},
    }
    assert len(body["data"]["calendarConnections"]) == 1
    [error] = body["errors"]
    assert (error["path"], error["extensions"]["code"]) == (["meetings"], "BAD_USER_INPUT")
