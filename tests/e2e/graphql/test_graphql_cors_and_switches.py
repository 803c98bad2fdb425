"""CORS for an allow-list of exact origins; introspection and GraphiQL switches."""

from __future__ import annotations

import pytest

from gql_api import Settings
from gql_api.settings import ConfigError

APP_ORIGIN = "https://app.mentoring.example.test"
OTHER_ORIGIN = "https://evil.example.test"
TYPENAME = "query { __typename }"
INTROSPECTION = "query { __schema { queryType { name } } }"
TYPO = "query { meetingz { edges { cursor } } }"


def preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    }


# --- CORS ------------------------------------------------------------------------------------


async def test_an_allowed_origin_may_read_the_answer(api_with):
    # given a server that allows the SPA's origin
    api = await api_with(cors_allowed_origins=(APP_ORIGIN,))

    # when the SPA posts a query
    response = await api.client.post("/graphql", json={"query": TYPENAME}, headers={"Origin": APP_ORIGIN})

    # then the browser is told it may read the answer, without credentials (bearer tokens need none)
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert "Origin" in response.headers["Vary"]
    assert response.headers["Access-Control-Expose-Headers"] == "X-Request-ID"


async def test_credentials_include_is_deliberately_not_allowed(api_with):
    # given a SPA on an allowed origin whose client sends credentials: 'include' (cookies ride along)
    api = await api_with(cors_allowed_origins=(APP_ORIGIN,))
    with_cookie = {"Origin": APP_ORIGIN, "Cookie": "session=abc"}

    # when it preflights and posts
    preflight_answer = await api.client.options("/graphql", headers=preflight(APP_ORIGIN))
    answer = await api.client.post(
        "/graphql", json={"query": "query { calendarConnections { id } }"}, headers=with_cookie
    )

    # then neither answer allows credentials, so the browser keeps the answer from such a page: the API
    # authenticates by the Authorization header only and never reads a cookie (README, "Client recipes")
    assert "Access-Control-Allow-Credentials" not in preflight_answer.headers
    assert "Access-Control-Allow-Credentials" not in answer.headers
    assert (await answer.json())["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_another_origin_is_not_told_anything(api_with):
    api = await api_with(cors_allowed_origins=(APP_ORIGIN,))

    response = await api.client.post("/graphql", json={"query": TYPENAME}, headers={"Origin": OTHER_ORIGIN})

    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Origin" in response.headers["Vary"]


async def test_a_preflight_from_an_allowed_origin_gets_the_methods_and_headers(api_with):
    api = await api_with(cors_allowed_origins=(APP_ORIGIN,))

    response = await api.client.options("/graphql", headers=preflight(APP_ORIGIN))

    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert response.headers["Access-Control-Allow-Methods"] == "GET, POST"
    assert response.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    assert "Origin" in response.headers["Vary"]


async def test_a_preflight_from_another_origin_is_refused(api_with):
    api = await api_with(cors_allowed_origins=(APP_ORIGIN,))

    response = await api.client.options("/graphql", headers=preflight(OTHER_ORIGIN))

    assert response.status == 403
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_by_default_no_origin_is_allowed(api):
    answer = await api.client.post("/graphql", json={"query": TYPENAME}, headers={"Origin": APP_ORIGIN})
    preflight_answer = await api.client.options("/graphql", headers=preflight(APP_ORIGIN))

    assert "Access-Control-Allow-Origin" not in answer.headers
    assert preflight_answer.status == 403


async def test_an_error_answer_is_readable_by_an_allowed_origin(api_with):
    api = await api_with(cors_allowed_origins=(APP_ORIGIN,))

    too_big = await api.client.post(
        "/graphql", data="x" * 300_000, headers={"Origin": APP_ORIGIN, "Content-Type": "application/json"}
    )
    wrong_type = await api.client.post(
        "/graphql", data="{}", headers={"Origin": APP_ORIGIN, "Content-Type": "text/plain"}
    )

    assert too_big.status == 413 and too_big.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert wrong_type.status == 415 and wrong_type.headers["Access-Control-Allow-Origin"] == APP_ORIGIN


async def test_an_options_request_that_is_not_a_preflight_lists_the_methods(api):
    response = await api.client.options("/graphql")

    assert response.status == 204 and response.headers["Allow"] == "GET, POST, OPTIONS"


def test_allowed_origins_are_read_from_the_environment_and_must_be_exact_origins():
    settings = Settings.from_env({"CORS_ALLOWED_ORIGINS": f" {APP_ORIGIN} , http://localhost:5173,, "})

    assert settings.cors_allowed_origins == (APP_ORIGIN, "http://localhost:5173")
    assert Settings.from_env({}).cors_allowed_origins == ()
    for bad in ("*", f"{APP_ORIGIN}/", "app.example.test", f"{APP_ORIGIN}/spa", "https://*.example.test"):
        with pytest.raises(ConfigError, match="CORS_ALLOWED_ORIGINS"):
            Settings.from_env({"CORS_ALLOWED_ORIGINS": bad})


# --- introspection ---------------------------------------------------------------------------


async def test_introspection_is_on_by_default(api):
    body = await api.gql(INTROSPECTION, user=None)

    assert body == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


async def test_introspection_can_be_turned_off(api_with):
    # given a server started with GRAPHQL_INTROSPECTION=false
    api = await api_with(graphql_introspection=False)

    # when a client asks for the schema, or mistypes a field
    schema_body = await api.gql(INTROSPECTION)
    typo_body = await api.gql(TYPO)

    # then the schema is refused, __typename still works, and no "Did you mean" spells out field names
    assert schema_body.get("data") is None
    assert "introspection" in schema_body["errors"][0]["message"].lower()
    assert (await api.gql(TYPENAME))["data"] == {"__typename": "Query"}
    assert "Did you mean" not in typo_body["errors"][0]["message"]
    assert "Did you mean" in (await (await api_with()).gql(TYPO))["errors"][0]["message"]  # as it is when on


def test_the_introspection_switch_is_read_from_the_environment():
    assert Settings.from_env({}).graphql_introspection is True
    assert Settings.from_env({"GRAPHQL_INTROSPECTION": "false"}).graphql_introspection is False


# --- GraphiQL --------------------------------------------------------------------------------


async def test_graphiql_is_served_to_browsers_when_enabled(api_with):
    api = await api_with(graphiql_enabled=True)

    page = await api.client.get("/graphql", headers={"Accept": "text/html"})

    assert page.status == 200 and "graphiql" in (await page.text()).lower()


async def test_graphiql_is_not_served_when_disabled(api_with):
    api = await api_with(graphiql_enabled=False)

    page = await api.client.get("/graphql", headers={"Accept": "text/html"})

    assert page.status == 404 and "graphiql" not in (await page.text()).lower()


# Real client auth comes with the rest of a production configuration (the sandbox, the demo callback and an
# ephemeral key are development's only).
PRODUCTION = {
    "AUTH_JWT_SECRET": "s" * 32,
    "CRONOFY_CLIENT_ID": "client",
    "CRONOFY_CLIENT_SECRET": "secret",
    "TOKEN_ENCRYPTION_KEYS": "k:x",
    "ALLOWED_REDIRECT_URIS": "https://app.example.test/linked",
}


@pytest.mark.parametrize(
    ("env", "enabled"),
    [
        ({}, True),  # dev auth: a developer's machine
        (PRODUCTION, False),  # real client auth: off
        ({**PRODUCTION, "GRAPHIQL_ENABLED": "true"}, True),
        ({"GRAPHIQL_ENABLED": "false"}, False),
    ],
)
def test_graphiql_from_the_environment_is_for_dev_mode_or_when_asked_for(env, enabled):
    assert Settings.from_env(env).graphiql is enabled
