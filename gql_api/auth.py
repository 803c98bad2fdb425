"""Bearer-token authentication of API clients (PyJWT does the verification).

What the platform's tokens carry (README "Security model"): `sub` and `exp` always; `email`, `name`;
the partners claim (AUTH_PARTNERS_CLAIM, a list of user ids), the calendar-integration claim
(AUTH_CALENDAR_INTEGRATION_CLAIM, a boolean, absent meaning on) and `roles` (a list of strings); `iss` and
`aud` when configured; `iat` when AUTH_JWT_MAX_AGE_SECONDS is set. A claim of the wrong shape makes the
whole token invalid: the platform that issued it is broken, and guessing what it meant could grant more
than it said.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any

import jwt

from .domain.identity import User
from .settings import DEV_AUTH_SECRET, Settings

LEEWAY_SECONDS = 30
DEV_TOKEN_TTL_SECONDS = 12 * 3600
ROLES_CLAIM = "roles"
INVALID = "The bearer token is invalid."
# A JWS in compact serialization: three base64url parts. Anything else (non-ASCII, bytes that were not
# UTF-8 and arrive as surrogates, spaces) is refused before PyJWT sees it, which would raise on some.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


class AuthenticationError(Exception):
    """Why a request is not authenticated; the message is safe to show the client."""


class Authenticator:
    def __init__(self, settings: Settings) -> None:
        if settings.auth_jwt_public_key:
            from .jwt_keys import load_public_key  # checked at start-up by Settings; loaded once, here

            public_key = load_public_key(settings.auth_jwt_public_key)
            self._key: Any = public_key.key
            self._algorithms = [public_key.algorithm]
        else:
            self._key = settings.auth_jwt_secret or DEV_AUTH_SECRET
            self._algorithms = ["HS256"]
        self._issuer = settings.auth_jwt_issuer
        self._audience = settings.auth_jwt_audience
        self._max_age = settings.auth_jwt_max_age_seconds
        self._partners_claim = settings.auth_partners_claim
        self._calendar_integration_claim = settings.auth_calendar_integration_claim

    def authenticate(self, authorization: str | None) -> User:
        return self.authenticate_until(authorization)[0]

    def authenticate_until(self, authorization: str | None) -> tuple[User, float]:
        """The user, and until when (epoch seconds) this token is accepted: a WebSocket authenticated with it
        is closed then."""
        if not authorization:
            raise AuthenticationError("Authentication required: send Authorization: Bearer <token>.")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationError("Authorization header must be 'Bearer <token>'.")
        if not _COMPACT_JWS.fullmatch(token):
            raise AuthenticationError(INVALID)
        required = ["sub", "exp", "iat"] if self._max_age is not None else ["sub", "exp"]
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                issuer=self._issuer,
                audience=self._audience,
                leeway=LEEWAY_SECONDS,
                options={"require": required, "verify_aud": self._audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("The bearer token has expired.") from None
        except jwt.PyJWTError:
            raise AuthenticationError(INVALID) from None
        # PyJWT checked that int() takes `iat` (it may be a numeric string) and that it is not in the future
        if self._max_age is not None and time.time() - int(claims["iat"]) > self._max_age + LEEWAY_SECONDS:
            raise AuthenticationError("The bearer token is too old.")
        until = int(claims["exp"]) + LEEWAY_SECONDS
        if self._max_age is not None:
            until = min(until, int(claims["iat"]) + self._max_age + LEEWAY_SECONDS)
        return self._user(claims), float(until)

    def _user(self, claims: dict[str, Any]) -> User:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject.strip():
            raise AuthenticationError(INVALID)
        calendar_integration = claims.get(self._calendar_integration_claim, True)
        if not isinstance(calendar_integration, bool):
            raise AuthenticationError(INVALID)
        return User(
            id=subject,
            email=_text(claims.get("email")),
            name=_text(claims.get("name")),
            partners=_string_set(claims.get(self._partners_claim)),
            calendar_integration=calendar_integration,
            roles=_string_set(claims.get(ROLES_CLAIM)),
        )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _string_set(value: object) -> frozenset[str]:
    """A list of non-empty strings; absent means empty. Anything else makes the token invalid."""
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise AuthenticationError(INVALID)
    return frozenset(value)


def mint_dev_token(
    settings: Settings,
    user_id: str,
    *,
    email: str | None = None,
    name: str | None = None,
    ttl_seconds: int = DEV_TOKEN_TTL_SECONDS,
    partners: Iterable[str] = (),
    calendar_integration: bool | None = None,
    roles: Iterable[str] = (),
) -> str:
    """A token the server configured by `settings` accepts; only for HS256 (dev or shared secret).

    Claims are carried only when given: a default token has no partners (it may meet nobody by user id),
    no calendar-integration claim (on) and no roles."""
    if settings.auth_jwt_public_key:
        raise ValueError("AUTH_JWT_PUBLIC_KEY is set: tokens come from your identity provider")
    now = int(time.time())
    claims: dict[str, object] = {"sub": user_id, "iat": now, "exp": now + ttl_seconds}
    if email:
        claims["email"] = email
    if name:
        claims["name"] = name
    if partners := list(partners):
        claims[settings.auth_partners_claim] = partners
    if calendar_integration is not None:
        claims[settings.auth_calendar_integration_claim] = calendar_integration
    if roles := list(roles):
        claims[ROLES_CLAIM] = roles
    if settings.auth_jwt_issuer:
        claims["iss"] = settings.auth_jwt_issuer
    if settings.auth_jwt_audience:
        claims["aud"] = settings.auth_jwt_audience
    return jwt.encode(claims, settings.auth_jwt_secret or DEV_AUTH_SECRET, algorithm="HS256")
