"""Bearer-token authentication of API clients (PyJWT does the verification)."""

from __future__ import annotations

import time

import jwt

from .domain.identity import User
from .settings import DEV_AUTH_SECRET, Settings

ASYMMETRIC_ALGORITHMS = ["RS256", "ES256", "EdDSA"]
LEEWAY_SECONDS = 30
DEV_TOKEN_TTL_SECONDS = 12 * 3600


class AuthenticationError(Exception):
    """Why a request is not authenticated; the message is safe to show the client."""


class Authenticator:
    def __init__(self, settings: Settings) -> None:
        if settings.auth_jwt_public_key:
            self._key: str = settings.auth_jwt_public_key
            self._algorithms = ASYMMETRIC_ALGORITHMS
        else:
            self._key = settings.auth_jwt_secret or DEV_AUTH_SECRET
            self._algorithms = ["HS256"]
        self._issuer = settings.auth_jwt_issuer
        self._audience = settings.auth_jwt_audience

    def authenticate(self, authorization: str | None) -> User:
        if not authorization:
            raise AuthenticationError("Authentication required: send Authorization: Bearer <token>.")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("Authorization header must be 'Bearer <token>'.")
        try:
            claims = jwt.decode(
                token.strip(),
                self._key,
                algorithms=self._algorithms,
                issuer=self._issuer,
                audience=self._audience,
                leeway=LEEWAY_SECONDS,
                options={"require": ["sub", "exp"], "verify_aud": self._audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("The bearer token has expired.") from None
        except jwt.PyJWTError:
            raise AuthenticationError("The bearer token is invalid.") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject.strip():
            raise AuthenticationError("The bearer token is invalid.")
        return User(id=subject, email=_text(claims.get("email")), name=_text(claims.get("name")))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def mint_dev_token(
    settings: Settings,
    user_id: str,
    *,
    email: str | None = None,
    name: str | None = None,
    ttl_seconds: int = DEV_TOKEN_TTL_SECONDS,
) -> str:
    """A token the server configured by `settings` accepts; only for HS256 (dev or shared secret)."""
    if settings.auth_jwt_public_key:
        raise ValueError("AUTH_JWT_PUBLIC_KEY is set: tokens come from your identity provider")
    now = int(time.time())
    claims: dict[str, object] = {"sub": user_id, "iat": now, "exp": now + ttl_seconds}
    if email:
        claims["email"] = email
    if name:
        claims["name"] = name
    if settings.auth_jwt_issuer:
        claims["iss"] = settings.auth_jwt_issuer
    if settings.auth_jwt_audience:
        claims["aud"] = settings.auth_jwt_audience
    return jwt.encode(claims, settings.auth_jwt_secret or DEV_AUTH_SECRET, algorithm="HS256")
