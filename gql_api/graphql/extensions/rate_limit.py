"""Mutations count against the signed-in user's budget of changes a minute (services/throttle.py).

Runs after authentication, before execution: a request over the budget runs nothing and gets one
GraphQL error with code RATE_LIMITED, `extensions.retryAfterSeconds`, and a `Retry-After` header.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from graphql import ExecutionResult, GraphQLError, OperationDefinitionNode, OperationType
from strawberry.extensions import SchemaExtension

from ...services.throttle import RateLimited
from ..limits import measure_operations

RATE_LIMITED = "RATE_LIMITED"


class MutationRateLimit(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context = execution.context
        document = execution.graphql_document
        operation = _chosen_operation(execution)
        mutation = operation is not None and operation.operation is OperationType.MUTATION
        if context.user is not None and document is not None and operation is not None and mutation:
            changes = measure_operations(execution.schema._schema, document)
            try:
                await context.services.throttle.admit(context.user, changes[operation].mutations)
            except RateLimited as limited:
                context.response.headers["Retry-After"] = str(limited.retry_after)
                error = GraphQLError(
                    str(limited), extensions={"code": RATE_LIMITED, "retryAfterSeconds": limited.retry_after}
                )
                execution.result = ExecutionResult(data=None, errors=[error])
        yield


def _chosen_operation(execution: object) -> OperationDefinitionNode | None:
    document = getattr(execution, "graphql_document", None)
    if document is None:
        return None
    name = getattr(execution, "operation_name", None)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [op for op in operations if name is None or (op.name is not None and op.name.value == name)]
    return chosen[0] if len(chosen) == 1 else None
