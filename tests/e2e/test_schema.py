"""schema.graphql is what the code builds, and it keeps every promise of the client contract."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    build_schema,
    print_ast,
)

from gql_api.graphql.scalars import parse_datetime
from gql_api.graphql.schema import export_schema

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT.parent / "shared" / "contract.graphql"


def test_committed_schema_equals_the_exported_one():
    assert (ROOT / "schema.graphql").read_text() == export_schema(), (
        "schema.graphql drifted: run `gql-api export-schema > schema.graphql`"
    )


def _default(argument) -> str | None:
    node = argument.ast_node.default_value if argument.ast_node else None
    return print_ast(node) if node else None


def contract_violations(contract_sdl: str, server_sdl: str) -> list[str]:
    """What the server removes or retypes from the contract (it may add types, fields, values)."""
    contract, server = build_schema(contract_sdl), build_schema(server_sdl)
    problems = []
    for name, wanted in contract.type_map.items():
        if name.startswith("__"):
            continue
        have = server.type_map.get(name)
        if have is None or type(have) is not type(wanted):
            problems.append(f"type {name} missing or of another kind")
            continue
        if isinstance(wanted, GraphQLEnumType):
            problems += [f"enum value {name}.{v} missing" for v in wanted.values if v not in have.values]
        elif isinstance(wanted, GraphQLObjectType):
            for field_name, field in wanted.fields.items():
                theirs = have.fields.get(field_name)
                if theirs is None or str(theirs.type) != str(field.type):
                    problems.append(f"field {name}.{field_name} missing or retyped")
                    continue
                for arg_name, arg in field.args.items():
                    mine = theirs.args.get(arg_name)
                    if mine is None or str(mine.type) != str(arg.type) or _default(mine) != _default(arg):
                        problems.append(f"argument {name}.{field_name}({arg_name}) missing or changed")
                problems += [
                    f"new required argument {name}.{field_name}({a})"
                    for a, arg in theirs.args.items()
                    if a not in field.args and str(arg.type).endswith("!") and _default(arg) is None
                ]
        elif isinstance(wanted, GraphQLInputObjectType):
            for field_name, field in wanted.fields.items():
                theirs = have.fields.get(field_name)
                if theirs is None or str(theirs.type) != str(field.type):
                    problems.append(f"input field {name}.{field_name} missing or retyped")
            problems += [
                f"new required input field {name}.{f}"
                for f, field in have.fields.items()
                if f not in wanted.fields and str(field.type).endswith("!")
            ]
        elif isinstance(wanted, GraphQLScalarType):
            pass
    return problems


def test_schema_contains_the_client_contract():
    if not CONTRACT.exists():
        pytest.skip(f"{CONTRACT} not found")
    assert contract_violations(CONTRACT.read_text(), export_schema()) == []


def test_the_contract_check_catches_a_removed_or_retyped_field():
    contract = "type Query { a: Int!  b(x: Int = 1): String }  enum E { A B }  input I { f: ID! }"
    assert contract_violations(contract, contract) == []
    assert contract_violations(
        contract, "type Query { a: Int  b(x: Int = 1): String } enum E { A B } input I { f: ID! }"
    )
    assert contract_violations(
        contract, "type Query { a: Int!  b(x: Int = 2): String } enum E { A B } input I { f: ID! }"
    )
    assert contract_violations(
        contract, "type Query { a: Int!  b(x: Int = 1): String } enum E { A } input I { f: ID! }"
    )
    assert contract_violations(contract, "type Query { a: Int! } enum E { A B } input I { f: ID! }")
    assert contract_violations(
        contract, "type Query { a: Int!  b(x: Int = 1): String } enum E { A B } input I { f: ID! g: Int! }"
    )


# --- what generated clients and Relay read in the schema ------------------------------------------


def exported() -> GraphQLSchema:
    return build_schema(export_schema())


def test_every_enum_value_is_described():
    undescribed = [
        f"{name}.{value_name}"
        for name, type_ in exported().type_map.items()
        if isinstance(type_, GraphQLEnumType) and not name.startswith("__")
        for value_name, value in type_.values.items()
        if not (value.description or "").strip()
    ]
    assert undescribed == []


def test_date_time_is_specified_by_rfc_3339():
    date_time = exported().type_map["DateTime"]
    assert date_time.specified_by_url == "https://datatracker.ietf.org/doc/html/rfc3339"
    assert parse_datetime("2026-11-24t09:30:00z") == parse_datetime("2026-11-24T09:30:00Z")  # RFC 3339 §5.6


def test_node_is_relays_interface_and_query_fetches_any_node():
    schema = exported()
    node = schema.type_map["Node"]
    assert isinstance(node, GraphQLInterfaceType) and str(node.fields["id"].type) == "ID!"
    assert {t.name for t in schema.get_implementations(node).objects} == {"Meeting", "CalendarConnection", "Calendar"}
    query = schema.query_type.fields
    assert (str(query["node"].type), str(query["node"].args["id"].type)) == ("Node", "ID!")
    assert (str(query["nodes"].type), str(query["nodes"].args["ids"].type)) == ("[Node]!", "[ID!]!")
    assert set(schema.type_map["PageInfo"].fields) == {"hasNextPage", "hasPreviousPage", "startCursor", "endCursor"}
    for keyed in ("Participant", "CalendarEventSync"):
        assert str(schema.type_map[keyed].fields["id"].type) == "ID!"


def test_first_says_its_bounds():
    first = exported().query_type.fields["meetings"].args["first"]
    assert "from 1 to 100" in (first.description or "")
