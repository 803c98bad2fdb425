"""Unexpected errors are masked with a request id and logged once at ERROR with their traceback;
the client's own mistakes stay readable and never reach the ERROR log."""

from __future__ import annotations

import logging

import pytest

from gql_api.graphql.extensions.masking import should_mask
from gql_api.graphql.schema import build_schema
from gql_api.keys import RUNTIME

MEETINGS = "query Meetings { meetings(first: 5) { edges { node { id } } } }"
SECRET = "refresh-token-7f3a9c-do-not-leak"

CLIENT_MISTAKES = {
    "syntax": "query { meetings { ",
    "validation": "query { meetings { edges { node { secretToken } } } }",
    "limit": "query Aliased { " + " ".join(f"a{i}: __typename" for i in range(16)) + " }",
    "bad-argument": "query { meetings(first: 0) { edges { cursor } } }",
    "bad-literal": 'query { meetings(filter: {from: "yesterday"}) { edges { cursor } } }',
}


class CalendarStoreDown(RuntimeError):
    pass


@pytest.fixture
def broken_meetings(api, monkeypatch):
    """The meetings service fails in a way nobody planned for, with a secret in its message."""

    async def page(*args, **kwargs):
        raise CalendarStoreDown(f"store answered 500 with body {{'token': '{SECRET}'}}")

    monkeypatch.setattr(api.client.app[RUNTIME].services.meetings, "page", page)


def error_records(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_an_unexpected_error_is_masked_with_the_request_id_and_logged_once(api, broken_meetings, caplog):
    caplog.set_level(logging.DEBUG)

    # when a resolver fails unexpectedly
    response = await api.client.post(
        "/graphql", json={"query": MEETINGS}, headers={"Authorization": f"Bearer {api.token('alice')}"}
    )
    text = await response.text()
    body = await response.json()

    # then the client sees a masked error with a code and the request id, and nothing of the failure
    [error] = body["errors"]
    assert error["message"] == "Unexpected error."
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    request_id = error["extensions"]["requestId"]
    assert request_id == response.headers["X-Request-ID"]
    for leak in (SECRET, "CalendarStoreDown", "Traceback", "store answered"):
        assert leak not in text

    # and the server logged it exactly once, at ERROR, with the traceback and the same request id
    [record] = error_records(caplog)
    assert record.request_id == request_id and request_id in record.getMessage()
    assert record.exc_info and record.exc_info[0] is CalendarStoreDown
    assert "meetings" in record.getMessage()


async def test_an_incoming_request_id_is_the_one_in_the_masked_error(api, broken_meetings):
    response = await api.client.post(
        "/graphql",
        json={"query": MEETINGS},
        headers={"Authorization": f"Bearer {api.token('alice')}", "X-Request-ID": "support-ticket-4711"},
    )

    assert (await response.json())["errors"][0]["extensions"]["requestId"] == "support-ticket-4711"


@pytest.mark.parametrize("document", CLIENT_MISTAKES.values(), ids=CLIENT_MISTAKES.keys())
async def test_client_mistakes_are_readable_and_not_logged_as_errors(api, caplog, document):
    caplog.set_level(logging.DEBUG)

    body = await api.gql(document)

    assert body["errors"] and all(e["message"] != "Unexpected error." for e in body["errors"])
    assert error_records(caplog) == []
    assert all(record.levelno <= logging.DEBUG for record in caplog.records if record.name == "gql_api.graphql")


async def test_a_missing_token_is_logged_at_info_not_error(api, caplog):
    caplog.set_level(logging.DEBUG)

    body = await api.gql(MEETINGS, user=None)

    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert error_records(caplog) == []
    [record] = [r for r in caplog.records if r.name == "gql_api.graphql"]
    assert record.levelno == logging.INFO


async def test_a_failure_outside_any_resolver_is_masked_too(caplog):
    # an exception that escapes an extension reaches Strawberry without a path or a location
    caplog.set_level(logging.DEBUG)

    result = await build_schema().execute("query { __typename }", context_value=None)  # no context: a bug

    [error] = result.errors
    assert error.message == "Unexpected error." and error.extensions == {"code": "INTERNAL_SERVER_ERROR"}
    [record] = error_records(caplog)
    assert record.exc_info[0] is AttributeError


def test_what_is_masked():
    from graphql import GraphQLError
    from graphql.language import parse

    node = parse("{ a }").definitions[0]
    assert should_mask(GraphQLError("boom", path=["a"], original_error=RuntimeError("boom")))
    assert should_mask(GraphQLError("boom", original_error=RuntimeError("boom")))  # no path, no location
    assert not should_mask(GraphQLError("Variable '$x' got invalid value", node, original_error=ValueError("x")))
    assert not should_mask(GraphQLError("Cannot query field 'a'", node))
    assert not should_mask(
        GraphQLError(
            "first must be between 1 and 100",
            path=["meetings"],
            original_error=GraphQLError("first must be between 1 and 100"),
        )
    )
