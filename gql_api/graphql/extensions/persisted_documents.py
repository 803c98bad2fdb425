"""Which document a request runs: its `query`, or the one its APQ hash or `documentId` names
(graphql/documents.py). Runs first, before parsing: a refused or unknown document is answered with a
GraphQL error (a `Refused` raised here becomes the whole result), and a document sent with its hash is
remembered once it has passed validation."""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension


class PersistedDocumentsExtension(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        execution = self.execution_context
        documents = getattr(execution.context, "documents", None)
        remember = None
        if documents is not None:
            execution.query, remember = documents.resolve(
                execution.query, execution.operation_extensions, getattr(execution.context, "document_id", None)
            )
        yield
        # Valid and run (field errors aside: they have a path): worth remembering.
        valid = all(error.path for error in execution.pre_execution_errors or ())
        if documents is not None and remember and execution.query and execution.graphql_document is not None and valid:
            documents.remember(remember, execution.query)
