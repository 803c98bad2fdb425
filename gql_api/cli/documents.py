"""`gql-api check-documents MANIFEST`: will every document of a trusted-documents manifest run here?

Each document must parse within the token limit, validate against this server's schema and pass the
query limits (depth, aliases, directives, cost, mutations), as configured by the environment the
command runs in (the production one, ideally); an id that spells a SHA-256 must be its document's.
Prints one line per problem and a summary; exits 0 when all is well, 1 when a document has a problem,
2 when the manifest cannot be read.
"""

from __future__ import annotations

import argparse
import sys

from ..settings import Settings


def check(args: argparse.Namespace) -> int:
    from graphql import GraphQLError, OperationDefinitionNode, parse, specified_rules

    from ..graphql.documents import ManifestError, hash_in, load_manifest, sha256
    from ..graphql.extensions.validation import validate_document
    from ..graphql.limits import GraphQLLimits, limit_rules
    from ..graphql.schema import build_schema

    settings = Settings.from_env()
    try:
        manifest = load_manifest(args.manifest)
    except ManifestError as error:
        print(f"gql-api: {error}", file=sys.stderr)
        return 2
    limits = GraphQLLimits.from_settings(settings)
    schema = build_schema(limits, introspection=settings.graphql_introspection)._schema
    rules = (*specified_rules, *limit_rules(limits, settings.graphql_introspection))  # as the server validates

    failing = 0
    for key, text in manifest.items():
        problems: list[str] = []
        names = "?"
        digest = hash_in(key)
        if digest is not None and digest != sha256(text):
            problems.append("the id is a SHA-256, but not its document's")
        try:
            document = parse(text, max_tokens=limits.max_tokens)
        except GraphQLError as error:
            problems.append(error.message)
        else:
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            names = ", ".join(op.name.value if op.name else "(anonymous)" for op in operations) or "(no operation)"
            problems += [error.message for error in validate_document(schema, document, rules, False)]
        for problem in problems:
            print(f"{key} ({names}): {problem}")
        failing += bool(problems)
    if failing:
        print(f"{failing} of {len(manifest)} documents would not run here.")
        return 1
    print(f"{len(manifest)} documents: all valid against the schema and within the query limits.")
    return 0
