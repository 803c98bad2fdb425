"""Validation of each document, cached, with graphql-core's suggestions ("Did you mean ...?") hidden when
introspection is off.

Strawberry's own ValidationCache calls graphql-core's `validate` without `hide_suggestions`, and its
`disable_field_suggestions` only strips the suggestion from "Cannot query field" messages: unknown
types, arguments, enum values and input fields still name their neighbours, which spells the schema out
to anyone who guesses near it. This extension takes ValidationCache's place: the same cache (keyed by
schema, document and rules, so it hits across requests) around the same validation as Strawberry's
(`validate_document`: the given rules plus Strawberry's two), with `hide_suggestions` passed through.
Suggestions made while executing (variables' values) are hidden by `AppSchema`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

from graphql import DocumentNode, GraphQLError, GraphQLSchema, ValidationRule, validate
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

CACHE_SIZE = 128  # Strawberry's default: bounded, since documents are the clients' text

STRAWBERRY_RULES: tuple[type[ValidationRule], ...] = (MaybeNullValidationRule, OneOfInputValidationRule)


@functools.lru_cache(maxsize=CACHE_SIZE)
def validate_document(
    schema: GraphQLSchema, document: DocumentNode, rules: tuple[type[ValidationRule], ...], hide_suggestions: bool
) -> list[GraphQLError]:
    return validate(schema, document, (*rules, *STRAWBERRY_RULES), hide_suggestions=hide_suggestions)


class CachedValidation(SchemaExtension):
    def __init__(self, *, hide_suggestions: bool) -> None:
        super().__init__()
        self.hide_suggestions = hide_suggestions

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        context.pre_execution_errors = validate_document(
            context.schema._schema, context.graphql_document, tuple(context.validation_rules), self.hide_suggestions
        )
        yield
