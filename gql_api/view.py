"""The GraphQL endpoint: Strawberry's aiohttp view with our context (auth happens here, once)."""

from __future__ import annotations

from aiohttp import web
from strawberry.aiohttp.views import GraphQLView

from .auth import AuthenticationError, Authenticator
from .context import Context
from .services import Services

SERVICES = web.AppKey("services", Services)
AUTHENTICATOR = web.AppKey("authenticator", Authenticator)


class AppGraphQLView(GraphQLView[Context, None]):
    async def get_context(self, request: web.Request, response: web.StreamResponse) -> Context:
        user, auth_error = None, None
        try:
            user = request.app[AUTHENTICATOR].authenticate(request.headers.get("Authorization"))
        except AuthenticationError as error:
            auth_error = str(error)
        return Context(request=request, response=response, services=request.app[SERVICES], user=user,
                       auth_error=auth_error)
