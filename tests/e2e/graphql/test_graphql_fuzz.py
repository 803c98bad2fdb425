"""Generated queries and mutations over the live schema, sent over HTTP with a valid token to the real
app (with the Cronofy sandbox behind it): none may produce a 500 or a masked "Unexpected error."."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import hypothesis_graphql
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes

from gql_api.graphql.schema import export_schema
from tests.support.factories import link_account

SDL = export_schema()
MAX_EXAMPLES = 150
DATE_TIMES = st.one_of(
    st.datetimes(min_value=datetime(1800, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)).map(
        lambda moment: nodes.String(moment.isoformat())
    ),
    st.datetimes().map(lambda moment: nodes.String(moment.isoformat())),  # no offset
    st.text(max_size=40).map(nodes.String),
)
OPERATIONS = hypothesis_graphql.from_schema(SDL, custom_scalars={"DateTime": DATE_TIMES})


def internal_errors(body: dict) -> list[dict]:
    return [
        error
        for error in body.get("errors") or []
        if error.get("message") == "Unexpected error."
        or (error.get("extensions") or {}).get("code") == "INTERNAL_SERVER_ERROR"
    ]


@pytest.fixture
async def alice(api):
    """alice signed in, with a linked calendar, so meetings really go to the (sandbox) calendar."""
    await link_account(api, user="alice", profile_name="alice@example.test")
    return {"Authorization": f"Bearer {api.token('alice')}"}


@pytest.fixture(scope="module")
def run():
    stats = {"examples": 0, "started": time.monotonic()}
    yield stats
    print(f"\nfuzz: {stats['examples']} generated operations in {time.monotonic() - stats['started']:.1f} s")


@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(document=OPERATIONS)
async def test_generated_operations_never_fail_unexpectedly(api, alice, run, document):
    # when a generated query or mutation is sent with a valid token
    response = await api.client.post("/graphql", json={"query": document}, headers=alice)
    body = await response.json(content_type=None)
    run["examples"] += 1

    # then it is answered as a GraphQL response, and any error is the client's, readable
    assert response.status == 200, (document, body)
    assert internal_errors(body) == [], (document, body)
