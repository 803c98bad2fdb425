"""Every operation needs a signed-in user, except pure introspection (developers generating clients)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import ExecutionResult, FieldNode, GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

UNAUTHENTICATED = "UNAUTHENTICATED"


class RequireAuthentication(SchemaExtension):
    """Runs after parsing and validation, so malformed documents still get their precise errors, and
    before execution, so an unauthenticated request gets no data at all."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        if context.user is None and not introspection_only(self.execution_context):
            error = GraphQLError(context.auth_error or "Authentication required.", extensions={"code": UNAUTHENTICATED})
            self.execution_context.result = ExecutionResult(data=None, errors=[error])
        yield


def introspection_only(execution_context: Any) -> bool:
    document = execution_context.graphql_document
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)] if document else []
    name = execution_context.operation_name
    chosen = [op for op in operations if name is None or (op.name and op.name.value == name)]
    return bool(chosen) and all(
        isinstance(selection, FieldNode) and selection.name.value.startswith("__")
        for op in chosen
        for selection in op.selection_set.selections
    )
