"""The per-request GraphQL context: who is asking, and the services that answer. A WebSocket has one for all
its subscriptions (Strawberry builds it once per socket): nothing in it may belong to one operation."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import strawberry
from aiohttp import web
from graphql import GraphQLError

from ..domain.identity import User
from ..services import Services
from .documents import PersistedDocuments

if TYPE_CHECKING:
    from .live import SocketSession


@dataclasses.dataclass
class Context:
    request: web.Request
    response: web.StreamResponse
    services: Services
    user: User | None
    auth_error: str | None = None
    # Errors reported next to a field's value (errors.report_bad_argument), added to the result after
    # execution (extensions/field_errors.py): a bad argument need not null the field, nor its parents.
    field_errors: list[GraphQLError] = dataclasses.field(default_factory=list)
    # Persisted documents (documents.py): the process's APQ cache or trusted manifest, and the
    # `documentId`/`doc_id` the request named (Strawberry reads only query, variables, operationName
    # and extensions from a request).
    documents: PersistedDocuments | None = None
    document_id: object = None
    # A WebSocket's: the connection_init payload (Strawberry sets it) and, once authenticated, the socket's
    # session (graphql/live.py).
    connection_params: Any = None
    session: SocketSession | None = None

    @property
    def viewer(self) -> User:
        """The signed-in user; operations only run with one (see extensions/authentication.py)."""
        if self.user is None:
            raise PermissionError("no authenticated user")
        return self.user


Info = strawberry.Info[Context, None]
