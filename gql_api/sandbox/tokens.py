"""Authorization codes and the tokens they are exchanged for: the sandbox's OAuth bookkeeping.

A code is issued when the user allows the consent page and redeemed once for a grant: one access
token (expiring after `access_token_ttl`) and one refresh token (never expiring), which share a
`grant_id`. Refreshing hands out a new access token and, when `rotate_refresh_tokens` is set, a
new refresh token that supersedes the old one. Revoking any token of a grant revokes the grant.

`Tokens` knows only subs, not accounts or channels: revoking tells which subs were left with no
live authorization, and the state (`state.py`) closes their channels.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

from .config import SandboxConfig
from .model import (
    ACCESS,
    EXPIRED,
    REFRESH,
    REVOKED,
    SUPERSEDED,
    AuthorizationCode,
    InvalidGrant,
    IssuedToken,
    TokenGrant,
    random_token,
)


class Tokens:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._codes: dict[str, AuthorizationCode] = {}
        self._tokens: dict[str, IssuedToken] = {}

    def now(self) -> float:
        return self.config.clock()

    def __iter__(self) -> Iterator[IssuedToken]:
        """Every token ever issued, dead ones included, oldest first."""
        return iter(self._tokens.values())

    # -- authorization codes ---------------------------------------------------------

    def issue_code(self, *, client_id: str, redirect_uri: str, scope: tuple[str, ...], sub: str) -> AuthorizationCode:
        now = self.now()
        # Expired codes can go: an unknown code is refused exactly like an expired one.
        self._codes = {c: code for c, code in self._codes.items() if now < code.expires_at}
        code = AuthorizationCode(
            code=secrets.token_urlsafe(24),
            client_id=client_id,
            redirect_uri=redirect_uri,
            scope=scope,
            sub=sub,
            expires_at=now + self.config.code_ttl,
        )
        self._codes[code.code] = code
        return code

    def redeem_code(self, code: str, *, client_id: str, redirect_uri: str) -> TokenGrant:
        issued = self._codes.get(code)
        if issued is None:
            raise InvalidGrant("unknown code")
        was_usable = issued.is_outstanding(self.now())
        # Codes are single use: any attempt naming the code uses it up, even a failed one.
        issued.used = True
        if not was_usable:
            raise InvalidGrant("code expired or already used")
        if issued.client_id != client_id or issued.redirect_uri != redirect_uri:
            raise InvalidGrant("code issued to another client or redirect_uri")
        grant_id = secrets.token_hex(8)
        refresh = self._issue(REFRESH, issued.sub, issued.scope, grant_id)
        access = self._issue(ACCESS, issued.sub, issued.scope, grant_id)
        return TokenGrant(issued.sub, access, refresh, self.config.access_token_ttl)

    def codes_outstanding(self) -> int:
        now = self.now()
        return sum(1 for code in self._codes.values() if code.is_outstanding(now))

    # -- tokens ----------------------------------------------------------------------

    def refresh(self, refresh_token: str) -> TokenGrant:
        current = self._tokens.get(refresh_token)
        if current is None or current.kind != REFRESH or not current.is_alive(self.now()):
            raise InvalidGrant("unknown, revoked or superseded refresh token")
        refresh = current
        if self.config.rotate_refresh_tokens:
            refresh = self._issue(REFRESH, current.sub, current.scope, current.grant_id)
            current.status = SUPERSEDED
        access = self._issue(ACCESS, current.sub, current.scope, current.grant_id)
        return TokenGrant(current.sub, access, refresh, self.config.access_token_ttl)

    def authenticate(self, access_token: str) -> IssuedToken | None:
        """The live access token presented as a bearer credential, if it is one."""
        issued = self._tokens.get(access_token)
        if issued is None or issued.kind != ACCESS or not issued.is_alive(self.now()):
            return None
        return issued

    def revoke_token(self, token: str) -> set[str]:
        """Revoke the authorization this token belongs to (Cronofy's "revoke authorization").

        A token that is unknown or already dead changes nothing; the caller still gets 200
        (RFC 7009). This is also why Cronofy advises revoking with the refresh token: an
        expired access token can no longer revoke anything.

        Gives the subs left with no live authorization (at most this token's).
        """
        issued = self._tokens.get(token)
        if issued is None or not issued.is_alive(self.now()):
            return set()
        return self._revoke(lambda t: t.grant_id == issued.grant_id)

    def revoke_account(self, sub: str) -> set[str]:
        """Revoke every authorization of the account; gives the subs left unauthorized."""
        return self._revoke(lambda t: t.sub == sub)

    def expire_access_tokens(self, sub: str | None = None) -> int:
        now = self.now()
        expired = 0
        for issued in self._tokens.values():
            if issued.kind == ACCESS and (sub is None or issued.sub == sub) and issued.is_alive(now):
                issued.status = EXPIRED
                expired += 1
        return expired

    def _revoke(self, selects: Callable[[IssuedToken], bool]) -> set[str]:
        affected = set()
        for issued in self._tokens.values():
            if selects(issued) and issued.status != SUPERSEDED:
                issued.status = REVOKED
                affected.add(issued.sub)
        # An account is authorized while it holds a live refresh token.
        now = self.now()
        authorized = {t.sub for t in self._tokens.values() if t.kind == REFRESH and t.is_alive(now)}
        return affected - authorized

    def _issue(self, kind: str, sub: str, scope: tuple[str, ...], grant_id: str) -> IssuedToken:
        now = self.now()
        issued = IssuedToken(
            token=random_token(32),
            kind=kind,
            sub=sub,
            scope=scope,
            grant_id=grant_id,
            issued_at=now,
            expires_at=now + self.config.access_token_ttl if kind == ACCESS else None,
        )
        self._tokens[issued.token] = issued
        return issued
