"""Cronofy's `/v1` endpoints, called with a user's bearer access token."""

from __future__ import annotations

from aiohttp import web

from .keys import SANDBOX_STATE
from .state import IssuedToken, grants_scope


def require_access_token(request: web.Request) -> IssuedToken:
    """The live access token of this request, or 401 with an empty body like Cronofy."""
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    issued = None
    if scheme.lower() == "bearer" and credential.strip():
        issued = request.app[SANDBOX_STATE].authenticate(credential.strip())
    if issued is None:
        raise web.HTTPUnauthorized(text="", headers={"WWW-Authenticate": "Bearer"})
    return issued


def require_scope(token: IssuedToken, scope: str) -> None:
    """403 when the token was not granted `scope` (implied scopes count)."""
    if not grants_scope(token.scope, scope):
        raise web.HTTPForbidden(text="")


async def list_calendars(request: web.Request) -> web.Response:
    token = require_access_token(request)
    require_scope(token, "list_calendars")
    account = request.app[SANDBOX_STATE].accounts[token.sub]
    return web.json_response({"sub": account.sub, "calendars": account.calendars_json()})
