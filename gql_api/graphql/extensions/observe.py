"""Names the operation on the request (for the access line, in a short safe form) and counts it in the
metrics, by operation name and outcome, with its latency. Never the variables."""

from __future__ import annotations

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from ...keys import METRICS, OPERATION
from ...observability.logging import safe_operation_name


class ObserveOperation(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        request = getattr(context.context, "request", None)
        if request is None or _subscription(context):  # a subscription lasts as long as the client likes
            return
        name = context.operation_name
        request[OPERATION] = safe_operation_name(name)  # the client's text: never kept whole
        result = context.result
        outcome = "error" if (result and result.errors) or context.pre_execution_errors else "ok"
        if METRICS in request.app:
            request.app[METRICS].observe_graphql(name, outcome, time.perf_counter() - started)


def _subscription(context: object) -> bool:
    try:
        return getattr(context, "operation_type", None) is OperationType.SUBSCRIPTION
    except RuntimeError:  # no operation to tell (a document that did not parse)
        return False
