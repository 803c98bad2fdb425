"""The sandbox's in-memory Cronofy: accounts, calendars, authorization codes and tokens.

Plain Python with no HTTP in it, so events and channels can be added beside accounts later.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .config import SandboxConfig
from .faults import FaultQueue

ACCESS = "access"
REFRESH = "refresh"

ALIVE = "alive"
REVOKED = "revoked"
EXPIRED = "expired"
SUPERSEDED = "superseded"

# Scopes that carry others with them (Cronofy: read_events implies read_free_busy).
IMPLIED_SCOPES: dict[str, frozenset[str]] = {"read_events": frozenset({"read_free_busy"})}

_ALPHANUMERIC = string.ascii_letters + string.digits
_LOWER_ALPHANUMERIC = string.ascii_lowercase + string.digits


class InvalidGrant(Exception):
    """The code or refresh token cannot be used (OAuth `invalid_grant`)."""


def grants_scope(granted: Iterable[str], needed: str) -> bool:
    """Whether a token holding `granted` scopes may do what `needed` allows."""
    held = set(granted)
    return needed in held or any(needed in IMPLIED_SCOPES.get(scope, ()) for scope in held)


def random_token(length: int = 32, alphabet: str = _ALPHANUMERIC) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass
class Calendar:
    calendar_id: str
    name: str
    readonly: bool = False
    primary: bool = False
    deleted: bool = False
    integrated_conferencing_available: bool = False
    attachments_available: bool = False
    permission_level: str = "sandbox"


@dataclass
class Account:
    """One Cronofy account holding a single linked calendar profile."""

    sub: str
    provider_name: str
    profile_id: str
    profile_name: str
    calendars: list[Calendar] = field(default_factory=list)

    def find_calendar(self, calendar_id: str) -> Calendar | None:
        return next((c for c in self.calendars if c.calendar_id == calendar_id), None)

    def calendar_json(self, calendar: Calendar) -> dict[str, Any]:
        """A calendar as Cronofy's `GET /v1/calendars` shows it."""
        return {
            "provider_name": self.provider_name,
            "profile_id": self.profile_id,
            "profile_name": self.profile_name,
            "calendar_id": calendar.calendar_id,
            "calendar_name": calendar.name,
            "calendar_readonly": calendar.readonly,
            "calendar_deleted": calendar.deleted,
            "calendar_primary": calendar.primary,
            "calendar_integrated_conferencing_available": calendar.integrated_conferencing_available,
            "calendar_attachments_available": calendar.attachments_available,
            "permission_level": calendar.permission_level,
        }

    def calendars_json(self) -> list[dict[str, Any]]:
        return [self.calendar_json(calendar) for calendar in self.calendars]

    def linking_profile_json(self) -> dict[str, str]:
        return {
            "provider_name": self.provider_name,
            "profile_id": self.profile_id,
            "profile_name": self.profile_name,
        }


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    sub: str
    expires_at: float
    used: bool = False

    def is_outstanding(self, now: float) -> bool:
        return not self.used and now < self.expires_at


@dataclass
class IssuedToken:
    token: str
    kind: str  # ACCESS or REFRESH
    sub: str
    scope: tuple[str, ...]
    grant_id: str  # one per authorization: revoking a token revokes its whole grant
    issued_at: float
    expires_at: float | None  # access tokens only; refresh tokens never time out
    status: str = ALIVE

    @property
    def scope_string(self) -> str:
        return " ".join(self.scope)

    def status_at(self, now: float) -> str:
        if self.status == ALIVE and self.expires_at is not None and now >= self.expires_at:
            return EXPIRED
        return self.status

    def is_alive(self, now: float) -> bool:
        return self.status_at(now) == ALIVE


@dataclass
class TokenGrant:
    """What a successful code exchange or refresh hands out."""

    account: Account
    access: IssuedToken
    refresh: IssuedToken
    expires_in: int


@dataclass
class RecordedRequest:
    method: str
    path: str  # relative to the sandbox root, never with the query string
    at: float
    status: int | None = None  # None while the request is still being answered; 0 for a dropped connection


class SandboxState:
    def __init__(self, config: SandboxConfig) -> None:
        self._initial_config = replace(config)
        self.config = replace(config)
        self.faults = FaultQueue()
        self.requests: list[RecordedRequest] = []
        self._forget_everything()

    def _forget_everything(self) -> None:
        self.accounts: dict[str, Account] = {}
        self._account_by_profile: dict[tuple[str, str], str] = {}
        self._codes: dict[str, AuthorizationCode] = {}
        self._tokens: dict[str, IssuedToken] = {}
        self.requests.clear()
        self.faults.clear()

    def reset(self) -> None:
        """Back to a freshly started sandbox, including the configuration."""
        self.config = replace(self._initial_config)
        self._forget_everything()

    def now(self) -> float:
        return self.config.clock()

    # -- accounts --------------------------------------------------------------------

    def link_account(self, provider_name: str, profile_name: str) -> Account:
        """The account of this calendar profile, created on first sight.

        The same provider and profile name (e-mail addresses ignore case) always give the
        same account and `sub`, which is how relinking a calendar keeps its identity.
        """
        key = (provider_name, profile_name.casefold())
        sub = self._account_by_profile.get(key)
        if sub is not None:
            return self.accounts[sub]
        account = _new_account(provider_name, profile_name)
        self.accounts[account.sub] = account
        self._account_by_profile[key] = account.sub
        return account

    def account(self, sub: str) -> Account | None:
        return self.accounts.get(sub)

    # -- authorization codes ---------------------------------------------------------

    def issue_code(
        self, *, client_id: str, redirect_uri: str, scope: tuple[str, ...], account: Account
    ) -> AuthorizationCode:
        now = self.now()
        # Expired codes can go: an unknown code is refused exactly like an expired one.
        self._codes = {c: code for c, code in self._codes.items() if now < code.expires_at}
        code = AuthorizationCode(
            code=secrets.token_urlsafe(24),
            client_id=client_id,
            redirect_uri=redirect_uri,
            scope=scope,
            sub=account.sub,
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
        account = self.accounts[issued.sub]
        grant_id = secrets.token_hex(8)
        refresh = self._issue_token(REFRESH, account.sub, issued.scope, grant_id)
        access = self._issue_token(ACCESS, account.sub, issued.scope, grant_id)
        return TokenGrant(account, access, refresh, self.config.access_token_ttl)

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
            refresh = self._issue_token(REFRESH, current.sub, current.scope, current.grant_id)
            current.status = SUPERSEDED
        access = self._issue_token(ACCESS, current.sub, current.scope, current.grant_id)
        return TokenGrant(self.accounts[current.sub], access, refresh, self.config.access_token_ttl)

    def authenticate(self, access_token: str) -> IssuedToken | None:
        """The live access token presented as a bearer credential, if it is one."""
        issued = self._tokens.get(access_token)
        if issued is None or issued.kind != ACCESS or not issued.is_alive(self.now()):
            return None
        return issued

    def revoke_token(self, token: str) -> None:
        """Revoke the authorization this token belongs to (Cronofy's "revoke authorization").

        A token that is unknown or already dead changes nothing; the caller still gets 200
        (RFC 7009). This is also why Cronofy advises revoking with the refresh token: an
        expired access token can no longer revoke anything.
        """
        issued = self._tokens.get(token)
        if issued is None or not issued.is_alive(self.now()):
            return
        self._revoke(lambda t: t.grant_id == issued.grant_id)

    def revoke_account(self, sub: str) -> None:
        self._revoke(lambda t: t.sub == sub)

    def expire_access_tokens(self, sub: str | None = None) -> int:
        now = self.now()
        expired = 0
        for issued in self._tokens.values():
            if issued.kind == ACCESS and (sub is None or issued.sub == sub) and issued.is_alive(now):
                issued.status = EXPIRED
                expired += 1
        return expired

    def _revoke(self, selects: Callable[[IssuedToken], bool]) -> None:
        for issued in self._tokens.values():
            if selects(issued) and issued.status != SUPERSEDED:
                issued.status = REVOKED

    def _issue_token(self, kind: str, sub: str, scope: tuple[str, ...], grant_id: str) -> IssuedToken:
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

    # -- inspection ------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything the sandbox knows, for the control API (a dev tool: tokens included)."""
        now = self.now()
        return {
            "accounts": [
                {
                    "sub": account.sub,
                    **account.linking_profile_json(),
                    "calendars": account.calendars_json(),
                }
                for account in self.accounts.values()
            ],
            "tokens": [
                {
                    "sub": issued.sub,
                    "kind": issued.kind,
                    "token": issued.token,
                    "status": issued.status_at(now),
                    "scope": issued.scope_string,
                    "issued_at": issued.issued_at,
                    "expires_at": issued.expires_at,
                }
                for issued in self._tokens.values()
            ],
            "codes_outstanding": self.codes_outstanding(),
        }

    def recorded_requests(self) -> list[dict[str, Any]]:
        return [asdict(recorded) for recorded in self.requests]


def _new_account(provider_name: str, profile_name: str) -> Account:
    profile_id = "pro_" + random_token(10, _LOWER_ALPHANUMERIC)
    profile_part = profile_id.removeprefix("pro_")
    # Real calendar ids may contain "@" and "-", so callers must URL-encode them; make sure
    # the sandbox's do too.
    writable = {"integrated_conferencing_available": provider_name in ("google", "office365")}
    calendars = [
        Calendar(f"cal_{profile_part}_{random_token(12)}", "Holidays", readonly=True),
        Calendar(f"cal_{profile_part}_{random_token(8)}-{random_token(6)}", "Work", **writable),
        Calendar(f"cal_{profile_part}_{random_token(8)}@{random_token(6)}", profile_name, primary=True, **writable),
    ]
    return Account(
        sub="acc_" + secrets.token_hex(12),
        provider_name=provider_name,
        profile_id=profile_id,
        profile_name=profile_name,
        calendars=calendars,
    )
