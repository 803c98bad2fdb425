"""Cronofy's OAuth endpoints on the "api" host: token exchange and refresh, and revocation.

    POST /oauth/token          grant_type authorization_code or refresh_token (JSON or form body)
    POST /oauth/token/revoke   {"token"} or {"sub"}: revoke the authorization (200 even when unknown)

Both authenticate the client by `client_id` and `client_secret` in the body, like Cronofy.
The consent page that issues the codes is in `consent.py`.
"""

from __future__ import annotations

import functools
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from .config import SandboxConfig
from .keys import SANDBOX_STATE
from .model import InvalidGrant, TokenGrant
from .render import linking_profile_json
from .state import SandboxState

routes = web.RouteTableDef()

# RFC 6749 §5.1: token responses must not be cached.
_TOKEN_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class MalformedBody(ValueError):
    """A token or revoke request whose body cannot be read as JSON or a form."""


# -- token endpoint ------------------------------------------------------------------


def _for_the_client(
    endpoint: Callable[[SandboxState, dict[str, str]], web.Response],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A token or revoke endpoint: `endpoint` gets the body's fields once the client has authenticated.

    A body that cannot be read is `invalid_request`; a wrong client id or secret, `invalid_client` (401).
    """

    @functools.wraps(endpoint)
    async def handler(request: web.Request) -> web.Response:
        state = request.app[SANDBOX_STATE]
        try:
            params = await read_body_params(request)
        except MalformedBody:
            return _oauth_error("invalid_request")
        if not client_authenticated(params, state.config):
            return _oauth_error("invalid_client", status=401)
        return endpoint(state, params)

    return handler


@routes.post("/oauth/token")
@_for_the_client
def issue_token(state: SandboxState, params: dict[str, str]) -> web.Response:
    grant_type = params.get("grant_type")
    if not grant_type:
        return _oauth_error("invalid_request")
    if grant_type == "authorization_code":
        return _exchange_code(state, params)
    if grant_type == "refresh_token":
        return _refresh(state, params)
    return _oauth_error("unsupported_grant_type")


def _exchange_code(state: SandboxState, params: Mapping[str, str]) -> web.Response:
    code = params.get("code")
    if not code:
        return _oauth_error("invalid_request")
    try:
        grant = state.tokens.redeem_code(
            code, client_id=params["client_id"], redirect_uri=params.get("redirect_uri", "")
        )
    except InvalidGrant:
        return _oauth_error("invalid_grant")
    return _token_response(
        {
            **_token_fields(grant),
            "account_id": grant.sub,
            "sub": grant.sub,
            "linking_profile": linking_profile_json(state.accounts[grant.sub]),
        }
    )


def _refresh(state: SandboxState, params: Mapping[str, str]) -> web.Response:
    refresh_token = params.get("refresh_token")
    if not refresh_token:
        return _oauth_error("invalid_request")
    try:
        grant = state.tokens.refresh(refresh_token)
    except InvalidGrant:
        return _oauth_error("invalid_grant")
    return _token_response(_token_fields(grant))


def _token_fields(grant: TokenGrant) -> dict[str, Any]:
    return {
        "token_type": "bearer",
        "access_token": grant.access.token,
        "expires_in": grant.expires_in,
        "refresh_token": grant.refresh.token,
        "scope": grant.access.scope_string,
    }


# -- revocation ----------------------------------------------------------------------


@routes.post("/oauth/token/revoke")
@_for_the_client
def revoke_token(state: SandboxState, params: dict[str, str]) -> web.Response:
    token, sub = params.get("token"), params.get("sub")
    if token:  # Cronofy: when both are given, the token wins
        state.revoke_token(token)
    elif sub:
        state.revoke_account(sub)
    else:
        return _oauth_error("invalid_request")
    # Same answer for unknown and already-revoked tokens (RFC 7009).
    return web.Response(status=200, headers=_TOKEN_HEADERS)


# -- shared helpers ------------------------------------------------------------------


async def read_body_params(request: web.Request) -> dict[str, str]:
    """The string fields of a JSON or form-encoded body (Cronofy accepts both)."""
    try:
        if request.content_type == "application/json":
            data = json.loads(await request.text())
            if not isinstance(data, dict):
                raise MalformedBody("the JSON body must be an object")
            return {name: value for name, value in data.items() if isinstance(value, str)}
        if request.content_type == "application/x-www-form-urlencoded":
            return first_values(await request.post())
    except (ValueError, LookupError) as problem:  # bad JSON, bad bytes, unknown charset
        raise MalformedBody(str(problem)) from problem
    raise MalformedBody(f"unsupported content type {request.content_type!r}")


def client_authenticated(params: Mapping[str, str], config: SandboxConfig) -> bool:
    # Compare both in constant time, and both always, so timing tells nothing.
    id_ok = hmac.compare_digest(params.get("client_id", "").encode(), config.client_id.encode())
    secret_ok = hmac.compare_digest(params.get("client_secret", "").encode(), config.client_secret.encode())
    return id_ok and secret_ok


def first_values(form: Mapping[str, Any]) -> dict[str, str]:
    """A posted form's fields, each with its first value; uploaded files left out."""
    values: dict[str, str] = {}
    for name, value in form.items():
        if isinstance(value, str):
            values.setdefault(name, value)
    return values


def _token_response(payload: dict[str, Any]) -> web.Response:
    return web.json_response(payload, headers=_TOKEN_HEADERS)


def _oauth_error(error: str, status: int = 400) -> web.Response:
    return web.json_response({"error": error}, status=status, headers=_TOKEN_HEADERS)
