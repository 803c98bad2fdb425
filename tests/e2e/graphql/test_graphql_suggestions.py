"""With introspection off, no "Did you mean ...?" names a type, field, argument, enum value or input field,
to anyone (issue 12, item 14); with it on, suggestions help developers as before."""

from __future__ import annotations

from typing import Any

import pytest

EDGES = "edges { cursor }"

# (kind, document, variables, the name a suggestion would reveal)
NEAR_MISSES: list[tuple[str, str, dict[str, Any], str]] = [
    ("type", f"query ($f: MeetingFiltr) {{ meetings(filter: $f) {{ {EDGES} }} }}", {}, "MeetingFilter"),
    ("fragment type", f"query {{ ...F }} fragment F on Quer {{ meetings {{ {EDGES} }} }}", {}, "Query"),
    ("field", 'query { calendarConection(id: "x") { id } }', {}, "calendarConnection"),
    ("argument", f"query {{ meetings(frist: 1) {{ {EDGES} }} }}", {}, "first"),
    ("enum value", f"query {{ meetings(filter: {{status: SCHEDULD}}) {{ {EDGES} }} }}", {}, "SCHEDULED"),
    ("input field", f"query {{ meetings(filter: {{stauts: SCHEDULED}}) {{ {EDGES} }} }}", {}, "status"),
    (
        "enum value in variables",
        f"query ($f: MeetingFilter) {{ meetings(filter: $f) {{ {EDGES} }} }}",
        {"f": {"status": "SCHEDULD"}},
        "SCHEDULED",
    ),
    (
        "input field in variables",
        f"query ($f: MeetingFilter) {{ meetings(filter: $f) {{ {EDGES} }} }}",
        {"f": {"stauts": "SCHEDULED"}},
        "status",
    ),
]
IDS = [kind for kind, *_ in NEAR_MISSES]


def messages(body: dict[str, Any]) -> str:
    return " | ".join(error["message"] for error in body["errors"])


@pytest.mark.parametrize(("kind", "document", "variables", "name"), NEAR_MISSES, ids=IDS)
async def test_with_introspection_on_a_near_miss_gets_a_suggestion(api_with, kind, document, variables, name):
    # given the default: introspection on
    api = await api_with(graphql_introspection=True)

    # when a signed-in client misspells a name
    body = await api.gql(document, variables)

    # then the error suggests the right one (this is what the other test must not see)
    assert "Did you mean" in messages(body) and name in messages(body), messages(body)


@pytest.mark.parametrize(("kind", "document", "variables", "name"), NEAR_MISSES, ids=IDS)
@pytest.mark.parametrize("user", ["alice", None], ids=["signed-in", "anonymous"])
async def test_with_introspection_off_no_near_miss_gets_a_suggestion(api_with, kind, document, variables, name, user):
    # given GRAPHQL_INTROSPECTION=false
    api = await api_with(graphql_introspection=False)

    # when a client (signed in or not) misspells a name
    body = await api.gql(document, variables, user=user)

    # then the error says what is wrong, without naming anything of the schema near it
    assert body["errors"], body
    assert "Did you mean" not in messages(body), messages(body)
    assert f"'{name}'" not in messages(body), messages(body)
