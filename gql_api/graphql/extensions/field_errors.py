"""Errors that resolvers reported next to a value (`errors.report_bad_argument`) join the result's errors.

graphql-core records an error only when a resolver raises, and then the field is null; a null in a
non-null field (`meetings: MeetingConnection!`) nulls its parent, up to the whole `data`. A field that can
still answer something sensible (the nearest allowed page, an empty page) reports its error on the
context instead, and this extension adds it to the result once execution is over.
"""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension


class ReportFieldErrors(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        yield
        reported = getattr(self.execution_context.context, "field_errors", None)
        result = self.execution_context.result
        if reported and result is not None:
            result.errors = [*(result.errors or ()), *reported]
            reported.clear()
