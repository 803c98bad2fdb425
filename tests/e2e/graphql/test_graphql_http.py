"""/graphql over HTTP: JSON bodies only, bounded, no batching, no mutations over GET, and the media types
of GraphQL over HTTP (application/graphql-response+json with its status codes, application/json at 200)."""

from __future__ import annotations

import json

import aiohttp
import pytest

from gql_api.graphql.view import GRAPHQL_RESPONSE_JSON, preferred_media_type

TYPENAME = "query { __typename }"
CONNECTIONS = "query Connections { calendarConnections { id } }"
MEETINGS_PAGE = "query Page($first: Int) { meetings(first: $first) { edges { cursor } } }"
BEGIN_LINK = 'mutation { beginCalendarLink(input: {redirectUri: "https://x.test/cb"}) { authorizationUrl } }'
SYNTAX_ERROR = "query { calendarConnections { id "
UNKNOWN_FIELD = "query { calendarConnections { secretToken } }"
NEEDS_ID = "query One($id: ID!) { meeting(id: $id) { id } }"

PREFERS_NEW = {"Accept": "application/graphql-response+json, application/json;q=0.9"}
PREFERS_JSON = {"Accept": "application/json"}


def bearer(api) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.token('alice')}"}


async def raw_post(api, body: bytes | str, content_type: str | None, **headers: str) -> tuple[int, str]:
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = await api.client.post(
        "/graphql", data=body, headers={**bearer(api), **headers}, skip_auto_headers=["Content-Type"]
    )
    return response.status, await response.text()


# --- what a request may be -----------------------------------------------------------------


async def test_a_mutation_over_get_is_refused(api):
    response = await api.client.get("/graphql", params={"query": BEGIN_LINK}, headers=bearer(api))

    assert response.status == 400
    assert "mutations are not allowed when using GET" in await response.text()


async def test_a_query_over_get_is_served(api):
    response = await api.client.get("/graphql", params={"query": CONNECTIONS}, headers=bearer(api))

    assert response.status == 200 and await response.json() == {"data": {"calendarConnections": []}}


async def test_a_form_encoded_post_is_refused(api):
    status, text = await raw_post(api, "query=%7B__typename%7D", "application/x-www-form-urlencoded")

    assert status == 415 and "application/json" in text


async def test_a_multipart_post_is_refused(api):
    form = aiohttp.FormData()
    form.add_field("operations", json.dumps({"query": TYPENAME}))
    form.add_field("map", "{}")
    form.add_field("0", b"file contents", filename="upload.txt")

    response = await api.client.post("/graphql", data=form, headers=bearer(api))

    assert response.status == 415


@pytest.mark.parametrize(
    "content_type", ["text/plain", "text/plain; application/json", "application/jsonx", "application/graphql"]
)
async def test_other_content_types_are_refused(api, content_type):
    status, _ = await raw_post(api, json.dumps({"query": TYPENAME}), content_type)

    assert status == 415


async def test_a_post_without_content_type_is_a_bad_request(api):
    status, text = await raw_post(api, json.dumps({"query": TYPENAME}), None)

    assert status == 400 and "Content-Type" in text


async def test_a_json_content_type_with_a_charset_is_fine(api):
    status, text = await raw_post(api, json.dumps({"query": TYPENAME}), "application/json; charset=utf-8")

    assert status == 200 and json.loads(text) == {"data": {"__typename": "Query"}}


async def test_a_body_over_the_size_limit_gets_413(api):
    oversize = json.dumps({"query": TYPENAME, "variables": {"padding": "x" * 300_000}})

    status, _ = await raw_post(api, oversize, "application/json")

    assert status == 413


async def test_deeply_nested_json_gets_400_not_500(api):
    nested = '{"query": "query { __typename }", "variables": {"a": ' + "[" * 100_000 + "]" * 100_000 + "}}"

    status, text = await raw_post(api, nested, "application/json")

    assert status == 400 and "Unable to parse request body as JSON" in text


@pytest.mark.parametrize(
    "body",
    [
        "42",
        '"query"',
        "null",
        "true",  # JSON, but not an object
        '{"query": 1' + "0" * 5000 + "}",  # an integer past Python's 4,300-digit conversion limit
        b'{"query": "\xff\xfe"}',  # not UTF-8
        '{"query": "query { __typename }"',  # not JSON
    ],
    ids=["number", "string", "null", "boolean", "huge-integer", "not-utf8", "truncated"],
)
async def test_bodies_that_are_not_a_json_object_get_400(api, body):
    status, _ = await raw_post(api, body, "application/json")

    assert status == 400


async def test_batching_is_refused_with_a_graphql_error_body(api):
    # Apollo's BatchHttpLink sends an array; it gets one GraphQL error saying what to do instead
    response = await api.client.post("/graphql", json=[{"query": TYPENAME}, {"query": TYPENAME}], headers=bearer(api))

    assert response.status == 400 and response.headers["Content-Type"].startswith("application/json")
    [error] = (await response.json())["errors"]
    assert error["extensions"] == {"code": "BATCHING_NOT_SUPPORTED"}
    assert "one operation per request" in error["message"]


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "code"),
    [
        ("POST", "/graphql", {"Content-Type": "text/plain"}, "{}", 415, "UNSUPPORTED_MEDIA_TYPE"),
        ("POST", "/graphql", {}, "{}", 400, "BAD_REQUEST"),  # no Content-Type
        ("POST", "/graphql", {"Content-Type": "application/json"}, "{not json", 400, "BAD_REQUEST"),
        ("POST", "/graphql", {"Content-Type": "application/json"}, '{"variables": {}}', 400, "BAD_REQUEST"),  # no query
        ("POST", "/graphql", {"Content-Type": "application/json"}, "x" * 300_000, 413, "PAYLOAD_TOO_LARGE"),
        ("GET", "/graphql?query=" + BEGIN_LINK, {}, None, 400, "BAD_REQUEST"),  # a mutation over GET
        ("GET", "/graphql", {"Accept": "text/html"}, None, 404, "NOT_FOUND"),  # no GraphiQL here
        ("PUT", "/graphql", {"Content-Type": "application/json"}, "{}", 405, "METHOD_NOT_ALLOWED"),
    ],
    ids=["content-type", "no-content-type", "bad-json", "no-query", "too-large", "get-mutation", "no-ide", "put"],
)
async def test_every_error_answer_has_a_graphql_body(api, method, path, headers, body, status, code):
    response = await api.client.request(
        method, path, data=body, headers={**bearer(api), **headers}, skip_auto_headers=["Content-Type"]
    )

    assert response.status == status
    assert response.headers["Content-Type"].startswith("application/json")
    [error] = (await response.json())["errors"]
    assert error["extensions"]["code"] == code and error["message"]


# --- application/graphql-response+json and application/json -----------------------------------


async def post(
    api, document: str, variables: dict | None = None, *, headers: dict[str, str], authenticated: bool = True
) -> tuple[int, str, dict]:
    response = await api.client.post(
        "/graphql",
        json={"query": document, "variables": variables},
        headers={**(bearer(api) if authenticated else {}), **headers},
    )
    return response.status, response.headers["Content-Type"], await response.json(content_type=None)


async def test_a_client_preferring_graphql_response_json_gets_it_with_200_when_execution_ran(api):
    status, content_type, body = await post(api, CONNECTIONS, headers=PREFERS_NEW)

    assert status == 200 and content_type.startswith(GRAPHQL_RESPONSE_JSON)
    assert body == {"data": {"calendarConnections": []}}
    assert "Accept" in (await api.client.post("/graphql", json={"query": TYPENAME})).headers["Vary"]


@pytest.mark.parametrize(
    ("document", "variables", "authenticated", "expected_status"),
    [
        (SYNTAX_ERROR, None, True, 400),
        (UNKNOWN_FIELD, None, True, 400),
        ("query Deep { " + "__typename " * 2001 + "}", None, True, 400),  # over the token limit
        (NEEDS_ID, {"id": None}, True, 400),  # variable coercion
        (CONNECTIONS, None, False, 401),
    ],
    ids=["syntax", "validation", "limit", "variables", "unauthenticated"],
)
async def test_requests_that_never_ran_get_4xx_and_no_data_entry(
    api, document, variables, authenticated, expected_status
):
    # when the client prefers application/graphql-response+json
    status, content_type, body = await post(api, document, variables, headers=PREFERS_NEW, authenticated=authenticated)

    # then the status says the request failed, and there is no data entry at all
    assert (status, "data" in body) == (expected_status, False)
    assert content_type.startswith(GRAPHQL_RESPONSE_JSON) and body["errors"]

    # and a client that asks for application/json keeps getting 200 with data: null
    status, content_type, body = await post(api, document, variables, headers=PREFERS_JSON, authenticated=authenticated)
    assert (status, body["data"]) == (200, None) and content_type.startswith("application/json")


async def test_unauthenticated_says_how_to_authenticate(api):
    response = await api.client.post("/graphql", json={"query": CONNECTIONS}, headers=PREFERS_NEW)

    assert response.status == 401 and response.headers["WWW-Authenticate"] == "Bearer"


async def test_a_field_error_after_execution_started_is_200_with_the_data(api):
    # first: 0 is out of bounds, reported by the resolver: execution ran, so the response is a 200 with data
    status, _, body = await post(api, MEETINGS_PAGE, {"first": 0}, headers=PREFERS_NEW)

    assert status == 200 and body["data"] == {"meetings": {"edges": []}}
    assert body["errors"][0]["path"] == ["meetings"]


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/json"),
        ("", "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        ("application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json, application/json", GRAPHQL_RESPONSE_JSON),
        ("application/json, application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json;q=0.9, application/json", "application/json"),
        ("application/json;q=0.5, application/graphql-response+json;q=0.8", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json;q=0", "application/json"),
        ("APPLICATION/GRAPHQL-RESPONSE+JSON", GRAPHQL_RESPONSE_JSON),
        ("text/html", "application/json"),
        ("application/graphql-response+json;q=nonsense, */*", "application/json"),
    ],
)
def test_media_type_negotiation(accept, expected):
    assert preferred_media_type(accept) == expected


async def test_no_accept_header_means_application_json(api):
    response = await api.client.post("/graphql", json={"query": TYPENAME}, skip_auto_headers=["Accept"])

    assert response.status == 200 and response.headers["Content-Type"].startswith("application/json")
