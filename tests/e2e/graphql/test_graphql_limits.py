"""Depth, aliases, tokens, directives and cost: each refused with a readable error, the contract's own
operations and GraphiQL's introspection let through, and the limits built once so validation stays cached."""

from __future__ import annotations

import time

import pytest
from graphql import get_introspection_query, parse

from gql_api import Settings
from gql_api.graphql.extensions.validation import validate_document
from gql_api.graphql.limits import MAX_NODES, GraphQLLimits, limit_rules, measure_operations
from gql_api.graphql.schema import build_schema
from gql_api.settings import ConfigError
from tests.support.documents import (
    BEGIN_LINK,
    CANCEL,
    CONNECTIONS,
    LINK,
    MEETING,
    MEETING_FIELDS,
    MEETINGS,
    SCHEDULE,
    UNLINK,
    UPDATE,
)

GRAPHIQL_INTROSPECTION = get_introspection_query(
    descriptions=True,
    specified_by_url=True,
    directive_is_repeatable=True,
    schema_description=True,
    input_value_deprecation=True,
)

FULL_PAGE = f"""
query FullPage {{
  meetings(first: 100) {{ edges {{ cursor node {{ {MEETING_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }}
}}"""

FOUR_DEEP = "query FourDeep { meetings { edges { node { id } } } }"

SIXTEEN_ALIASES = "query Aliased { " + " ".join(f"a{i}: __typename" for i in range(16)) + " }"
FIFTEEN_ALIASES = "query Aliased { " + " ".join(f"a{i}: __typename" for i in range(15)) + " }"

TWENTY_ONE_DIRECTIVES = "query Directed { " + "__typename @include(if: true) " * 21 + "}"
TWENTY_DIRECTIVES = "query Directed { " + "__typename @include(if: true) " * 20 + "}"
DIRECTIVE_OVERLOAD = "query Overload { __typename " + "@aa" * 50 + " }"

OVER_2000_TOKENS = "query Long { " + "__typename " * 2000 + "}"

PARTICIPANT_PAGE = """
query Page {{
  {pages}
}}"""
ONE_PAGE = (
    "{alias}: meetings(first: {first}) {{ edges {{ node {{ participants {{ calendarEvent {{ status }} }} }} }} }}"
)

INTROSPECTION_LOOP = "query Loop { __schema { types { fields { type { fields { type { fields { name } } } } } } } }"

CONTRACT_OPERATIONS = [
    MEETINGS,
    MEETING,
    SCHEDULE,
    UPDATE,
    CANCEL,
    BEGIN_LINK,
    LINK,
    UNLINK,
    CONNECTIONS,
    FULL_PAGE,
    GRAPHIQL_INTROSPECTION,
]


def pages(first: int, count: int) -> str:
    return PARTICIPANT_PAGE.format(pages=" ".join(ONE_PAGE.format(alias=f"p{i}", first=first) for i in range(count)))


def refusal(body: dict, code: str) -> dict:
    """The one error of a refused document: readable, with its code, never masked, and no data."""
    assert body.get("data") is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == code, error
    assert "Unexpected error" not in error["message"]
    return error


# --- the limits refuse -------------------------------------------------------------------


async def test_an_operation_deeper_than_the_limit_is_refused(api_with):
    # given a server that allows 3 fields of depth
    api = await api_with(graphql_max_depth=3)

    # when a 4-deep query arrives
    body = await api.gql(FOUR_DEEP)

    # then it is refused before running, and says why
    error = refusal(body, "MAX_DEPTH_EXCEEDED")
    assert error["message"] == "'FourDeep' is 4 fields deep; at most 3 are allowed."
    roomier = await api_with(graphql_max_depth=4)
    assert "errors" not in await roomier.gql(FOUR_DEEP)


async def test_more_aliases_than_the_limit_are_refused(api):
    body = await api.gql(SIXTEEN_ALIASES)

    error = refusal(body, "MAX_ALIASES_EXCEEDED")
    assert "16 aliases; at most 15" in error["message"]
    assert (await api.gql(FIFTEEN_ALIASES))["data"]["a14"] == "Query"


async def test_more_directives_than_the_limit_are_refused(api):
    body = await api.gql(TWENTY_ONE_DIRECTIVES)

    error = refusal(body, "MAX_DIRECTIVES_EXCEEDED")
    assert "21 directives; at most 20" in error["message"]
    assert (await api.gql(TWENTY_DIRECTIVES))["data"] == {"__typename": "Query"}


async def test_directive_overloading_gets_one_readable_limit_error_among_the_unknown_directive_ones(api):
    body = await api.gql(DIRECTIVE_OVERLOAD)

    assert body.get("data") is None
    codes = [e.get("extensions", {}).get("code") for e in body["errors"]]
    assert codes.count("MAX_DIRECTIVES_EXCEEDED") == 1
    assert all("Unexpected error" not in e["message"] for e in body["errors"])


async def test_a_document_over_the_token_limit_is_refused_while_parsing(api):
    body = await api.gql(OVER_2000_TOKENS)

    assert body.get("data") is None
    [error] = body["errors"]
    assert error["message"] == "Syntax Error: Document contains more than 2000 tokens. Parsing aborted."


async def test_the_token_limit_is_configurable(api_with):
    api = await api_with(graphql_max_tokens=10)

    body = await api.gql("query { " + "__typename " * 10 + "}")

    assert "more than 10 tokens" in body["errors"][0]["message"]


async def test_an_operation_costing_more_than_the_limit_is_refused_and_first_is_what_counts(api):
    # given two full pages of meetings with every participant's calendar event (2 x 10,201 objects)
    expensive = pages(first=100, count=2)
    # and the same shape one meeting per page
    cheap = pages(first=1, count=2)

    # when both are asked for
    refused = await api.gql(expensive)
    served = await api.gql(cheap)

    # then the expensive one is refused with its estimate, the cheap one runs
    error = refusal(refused, "MAX_COST_EXCEEDED")
    assert error["extensions"]["cost"] == 20_402 and error["extensions"]["maxCost"] == 20_000
    assert "Ask for smaller pages" in error["message"]
    assert served["data"] == {"p0": {"edges": []}, "p1": {"edges": []}}


async def test_the_cost_limit_is_configurable_and_a_variable_first_counts_as_a_full_page(api_with):
    api = await api_with(graphql_max_cost=201)

    body = await api.gql(MEETINGS, {"first": 1})  # $first: unknown at validation, counted as 100

    error = refusal(body, "MAX_COST_EXCEEDED")
    assert error["extensions"]["cost"] == 202


async def test_introspection_that_loops_through_types_is_refused(api):
    # depth and cost leave introspection alone; graphql-core's MaxIntrospectionDepthRule guards the loops
    body = await api.gql(INTROSPECTION_LOOP, user=None)

    assert body.get("data") is None
    assert [e["message"] for e in body["errors"]] == ["Maximum introspection depth exceeded"]


# --- and let the real operations through ---------------------------------------------------


@pytest.mark.parametrize(
    "document",
    CONTRACT_OPERATIONS,
    ids=[
        "meetings",
        "meeting",
        "schedule",
        "update",
        "cancel",
        "begin-link",
        "link",
        "unlink",
        "connections",
        "full-page",
        "graphiql-introspection",
    ],
)
def test_the_contract_operations_fit_the_default_limits(document):
    limits = GraphQLLimits()
    schema = build_schema(limits)

    [measured] = measure_operations(schema._schema, parse(document, max_tokens=limits.max_tokens)).values()

    assert measured.depth <= limits.max_depth and measured.aliases <= limits.max_aliases
    assert measured.directives <= limits.max_directives and measured.cost <= limits.max_cost


async def test_graphiql_introspection_and_a_full_page_pass_over_http(api):
    introspection = await api.gql(GRAPHIQL_INTROSPECTION, user=None)
    full_page = await api.gql(FULL_PAGE)

    assert "errors" not in introspection and introspection["data"]["__schema"]["queryType"]["name"] == "Query"
    assert full_page == {"data": {"meetings": {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}}}


def test_the_cost_model_counts_pages_lists_and_mutations():
    schema = build_schema()._schema

    def cost(document: str) -> int:
        return next(iter(measure_operations(schema, parse(document)).values())).cost

    one = cost("{ meetings(first: 1) { edges { node { participants { email } } } } }")
    hundred = cost("{ meetings(first: 100) { edges { node { participants { email } } } } }")
    default_page = cost("{ meetings { edges { node { id } } } }")
    through_fragment = cost(
        "{ meetings(first: 100) { ...Page } } fragment Page on MeetingConnection { edges { node { id } } }"
    )

    assert (one, hundred) == (53, 5201)
    assert default_page == 1 + 20 * 2  # `first` defaults to 20
    assert through_fragment == 1 + 100 * 2  # a fragment on the connection still sees the page size
    assert cost("{ meetings(first: 1000000) { edges { node { id } } } }") == 201  # the resolver serves at most 100
    assert cost('{ nodes(ids: ["a", "b", "c"]) { id } }') == 3  # as many as asked for
    assert cost("query Q($ids: [ID!]!) { nodes(ids: $ids) { id } }") == MAX_NODES  # a variable: the bound
    assert cost("{ calendarConnections { id calendar { id } } }") == 10 * 2
    assert cost('mutation { cancelMeeting(input: {meetingId: "x"}) { meeting { id } } }') == 10 + 1


def test_a_fragment_bomb_is_measured_in_linear_time():
    # given 8 levels of fragments, each spreading the next 6 times (1.7 million expansions; Strawberry's
    # own depth limiter needs seconds for it)
    fragments = [f"fragment F{i} on Query {{ __typename {' '.join([f'...F{i + 1}'] * 6)} }}" for i in range(8)]
    document = parse("query Bomb { ...F0 }\n" + "\n".join(fragments) + "\nfragment F8 on Query { __typename }")

    started = time.perf_counter()
    [measured] = measure_operations(build_schema()._schema, document).values()

    assert time.perf_counter() - started < 0.5
    assert measured.depth == 1 and measured.cost == 0


# --- configuration -----------------------------------------------------------------------


def test_each_limit_is_read_from_the_environment():
    settings = Settings.from_env(
        {
            "GRAPHQL_MAX_DEPTH": "7",
            "GRAPHQL_MAX_ALIASES": "3",
            "GRAPHQL_MAX_TOKENS": "500",
            "GRAPHQL_MAX_DIRECTIVES": "4",
            "GRAPHQL_MAX_COST": "900",
        }
    )

    assert GraphQLLimits.from_settings(settings) == GraphQLLimits(
        max_depth=7, max_aliases=3, max_tokens=500, max_directives=4, max_cost=900
    )
    assert GraphQLLimits.from_settings(Settings.from_env({})) == GraphQLLimits(10, 15, 2000, 20, 20_000)


@pytest.mark.parametrize(
    "name",
    ["GRAPHQL_MAX_DEPTH", "GRAPHQL_MAX_ALIASES", "GRAPHQL_MAX_TOKENS", "GRAPHQL_MAX_DIRECTIVES", "GRAPHQL_MAX_COST"],
)
@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_a_limit_below_one_or_not_a_number_is_a_configuration_error(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


# --- built once, so validation stays cached ---------------------------------------------------


def test_the_rules_are_built_once_per_configuration():
    limits = GraphQLLimits(max_depth=9)

    assert limit_rules(limits) is limit_rules(GraphQLLimits(max_depth=9))
    assert build_schema(limits) is build_schema(GraphQLLimits(max_depth=9), introspection=True)
    assert build_schema() is build_schema(GraphQLLimits())
    assert limit_rules(limits) != limit_rules(GraphQLLimits(max_depth=8))


async def test_the_validation_cache_hits_with_the_limits_on(api, api_with):
    # given a document this process has not validated yet, and a second app with the same settings
    document = f"query Cached{time.monotonic_ns()} {{ calendarConnections {{ id }} }}"
    twin = await api_with()
    cache = validate_document  # the cache of CachedValidation, which stands in for Strawberry's ValidationCache
    before = cache.cache_info()

    # when it is sent five times to one app and five times to the other
    for client in (api, twin) * 5:
        assert "errors" not in await client.gql(document)

    # then it was validated once; the nine others were cache hits
    after = cache.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 9)
