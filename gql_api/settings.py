"""Configuration from the environment, with embedded defaults for a first run.

Every name here is fixed by DESIGN.md §3. Unset means "development": in-memory store, the built-in
Cronofy sandbox, an ephemeral encryption key and dev auth. Each of those is announced in the log by
`describe_dev_defaults` so nobody mistakes a dev server for a production one.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping

DATA_CENTERS = ("us", "uk", "de", "au", "ca", "sg")
MONGODB_DRIVERS = ("motor", "pymongo")

# Known to every dev server and `gql-api dev-token`, so tokens minted by one work on the other.
# Dev auth is refused on non-loopback addresses (see cli.serve), which is what makes this tolerable.
DEV_AUTH_SECRET = "gql-api-dev-auth-secret-never-use-in-production"
SANDBOX_CLIENT_ID = "sandbox-client-id"
SANDBOX_CLIENT_SECRET = "sandbox-client-secret"
SANDBOX_PATH = "/sandbox/cronofy"
DEMO_CALLBACK_PATH = "/demo/calendar-linked"
MAX_CALLBACK_URL = 128  # Cronofy's limit for a channel's callback_url
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
WEBHOOK_CALLBACK_SUFFIX = "/webhooks/cronofy/" + "x" * 32  # the path and a 192-bit URL-safe token


class ConfigError(Exception):
    """The configuration cannot work; the message says which variable and why."""


@dataclasses.dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    public_base_url: str | None = None

    mongodb_uri: str | None = None
    mongodb_database: str = "gql_api"
    mongodb_driver: str = "motor"

    cronofy_client_id: str | None = None
    cronofy_client_secret: str | None = None
    cronofy_data_center: str = "us"
    cronofy_api_url: str | None = None
    cronofy_app_url: str | None = None
    cronofy_timeout_seconds: float = 10.0
    cronofy_max_attempts: int = 4
    cronofy_refresh_margin_seconds: int = 300
    cronofy_rate_per_second: int = 50
    cronofy_rate_per_minute: int = 500

    token_encryption_keys: str | None = None

    auth_jwt_secret: str | None = None
    auth_jwt_public_key: str | None = None
    auth_jwt_issuer: str | None = None
    auth_jwt_audience: str | None = None

    allowed_redirect_uris: tuple[str, ...] = ()
    link_state_ttl_seconds: int = 600
    worker_enabled: bool = True
    worker_poll_seconds: float = 2.0
    outbox_max_attempts: int = 10
    sync_grace_seconds: float = 1.5
    sync_reconcile_interval_seconds: int = 900
    log_format: str = "json"
    shutdown_timeout_seconds: float = 10.0

    # GraphQL endpoint (see gql_api/graphql_limits.py for what each limit counts)
    graphql_max_depth: int = 10
    graphql_max_aliases: int = 15
    graphql_max_tokens: int = 2000
    graphql_max_directives: int = 20
    graphql_max_cost: int = 20_000
    graphql_introspection: bool = True
    graphiql_enabled: bool | None = None  # None: on with dev auth only (see `graphiql`)
    cors_allowed_origins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.mongodb_driver not in MONGODB_DRIVERS:
            raise ConfigError(f"MONGODB_DRIVER must be one of {', '.join(MONGODB_DRIVERS)}")
        if self.cronofy_data_center not in DATA_CENTERS:
            raise ConfigError(f"CRONOFY_DATA_CENTER must be one of {', '.join(DATA_CENTERS)}")
        if bool(self.cronofy_client_id) != bool(self.cronofy_client_secret):
            raise ConfigError("CRONOFY_CLIENT_ID and CRONOFY_CLIENT_SECRET must be set together")
        if self.auth_jwt_secret and self.auth_jwt_public_key:
            raise ConfigError("set AUTH_JWT_SECRET or AUTH_JWT_PUBLIC_KEY, not both")
        if self.cronofy_max_attempts < 1 or min(self.cronofy_rate_per_second, self.cronofy_rate_per_minute) < 2 \
                or self.cronofy_refresh_margin_seconds < 0 or self.cronofy_timeout_seconds <= 0:
            raise ConfigError("CRONOFY_MAX_ATTEMPTS must be at least 1, CRONOFY_RATE_PER_* at least 2, "
                              "CRONOFY_REFRESH_MARGIN_SECONDS >= 0 and CRONOFY_TIMEOUT_SECONDS > 0")
        if self.outbox_max_attempts < 1:
            raise ConfigError("OUTBOX_MAX_ATTEMPTS must be at least 1")
        if self.sync_grace_seconds < 0 or self.worker_poll_seconds <= 0:
            raise ConfigError("SYNC_GRACE_SECONDS must be >= 0 and WORKER_POLL_SECONDS > 0")
        if self.log_format not in ("json", "text"):
            raise ConfigError("LOG_FORMAT must be json or text")
        if self.sync_reconcile_interval_seconds < 0:
            raise ConfigError("SYNC_RECONCILE_INTERVAL_SECONDS must be >= 0 (0 turns reconciliation off)")
        if len(self.base_url) + len(WEBHOOK_CALLBACK_SUFFIX) > MAX_CALLBACK_URL:
            raise ConfigError(f"PUBLIC_BASE_URL is too long: Cronofy callback URLs may have at most "
                              f"{MAX_CALLBACK_URL} characters")
        if self.mongodb_uri and not self.token_encryption_keys:
            raise ConfigError("MONGODB_URI is set but TOKEN_ENCRYPTION_KEYS is not: tokens stored under an "
                              "ephemeral key could never be read after a restart")
        if not self.uses_sandbox and self.uses_dev_auth:
            raise ConfigError("real Cronofy credentials need real client auth: set AUTH_JWT_SECRET or "
                              "AUTH_JWT_PUBLIC_KEY")
        if not 1 <= self.port <= 65535:
            raise ConfigError("PORT must be between 1 and 65535")
        if min(self.graphql_max_depth, self.graphql_max_aliases, self.graphql_max_tokens,
               self.graphql_max_directives, self.graphql_max_cost) < 1:
            raise ConfigError("GRAPHQL_MAX_DEPTH, GRAPHQL_MAX_ALIASES, GRAPHQL_MAX_TOKENS, GRAPHQL_MAX_DIRECTIVES "
                              "and GRAPHQL_MAX_COST must be at least 1")
        for origin in self.cors_allowed_origins:
            if not _ORIGIN.fullmatch(origin):
                raise ConfigError(f"CORS_ALLOWED_ORIGINS takes exact origins such as https://app.example.com "
                                  f"(scheme, host, optional port; no path, no wildcard), got {origin[:80]!r}")

    # --- derived -------------------------------------------------------------------------

    @property
    def uses_sandbox(self) -> bool:
        """No Cronofy credentials: the built-in sandbox stands in, served by this process."""
        return not self.cronofy_client_id

    @property
    def graphiql(self) -> bool:
        """GraphiQL for browsers: in dev mode, or when GRAPHIQL_ENABLED asks for it."""
        return self.uses_dev_auth if self.graphiql_enabled is None else self.graphiql_enabled

    @property
    def uses_dev_auth(self) -> bool:
        return not (self.auth_jwt_secret or self.auth_jwt_public_key)

    @property
    def base_url(self) -> str:
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def client_id(self) -> str:
        return self.cronofy_client_id or SANDBOX_CLIENT_ID

    @property
    def client_secret(self) -> str:
        return self.cronofy_client_secret or SANDBOX_CLIENT_SECRET

    @property
    def cronofy_urls_override(self) -> tuple[str | None, str | None]:
        """(api, app) host overrides; the sandbox answers both on one root."""
        if self.cronofy_api_url or self.cronofy_app_url:
            api = self.cronofy_api_url or self.cronofy_app_url
            return api, self.cronofy_app_url or api
        if self.uses_sandbox:
            sandbox = self.base_url + SANDBOX_PATH
            return sandbox, sandbox
        return None, None

    @property
    def redirect_uris(self) -> tuple[str, ...]:
        return self.allowed_redirect_uris or (self.base_url + DEMO_CALLBACK_PATH,)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if env is None else env

        def text(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        def number(name: str, kind: type, default: object) -> object:
            raw = text(name)
            if raw is None:
                return default
            try:
                return kind(raw)
            except ValueError:
                raise ConfigError(f"{name} must be a number, got {raw!r}") from None

        def flag(name: str, default: bool | None) -> bool | None:
            raw = text(name)
            if raw is None:
                return default
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ConfigError(f"{name} must be true or false, got {raw!r}")

        values: dict[str, object] = {
            "host": text("HOST") or cls.host,
            "port": number("PORT", int, cls.port),
            "public_base_url": text("PUBLIC_BASE_URL"),
            "mongodb_uri": text("MONGODB_URI"),
            "mongodb_database": text("MONGODB_DATABASE") or cls.mongodb_database,
            "mongodb_driver": (text("MONGODB_DRIVER") or cls.mongodb_driver).lower(),
            "cronofy_client_id": text("CRONOFY_CLIENT_ID"),
            "cronofy_client_secret": text("CRONOFY_CLIENT_SECRET"),
            "cronofy_data_center": (text("CRONOFY_DATA_CENTER") or cls.cronofy_data_center).lower(),
            "cronofy_api_url": text("CRONOFY_API_URL"),
            "cronofy_app_url": text("CRONOFY_APP_URL"),
            "cronofy_timeout_seconds": number("CRONOFY_TIMEOUT_SECONDS", float, cls.cronofy_timeout_seconds),
            "cronofy_max_attempts": number("CRONOFY_MAX_ATTEMPTS", int, cls.cronofy_max_attempts),
            "cronofy_refresh_margin_seconds": number("CRONOFY_REFRESH_MARGIN_SECONDS", int,
                                                     cls.cronofy_refresh_margin_seconds),
            "cronofy_rate_per_second": number("CRONOFY_RATE_PER_SECOND", int, cls.cronofy_rate_per_second),
            "cronofy_rate_per_minute": number("CRONOFY_RATE_PER_MINUTE", int, cls.cronofy_rate_per_minute),
            "token_encryption_keys": text("TOKEN_ENCRYPTION_KEYS"),
            "auth_jwt_secret": text("AUTH_JWT_SECRET"),
            "auth_jwt_public_key": text("AUTH_JWT_PUBLIC_KEY"),
            "auth_jwt_issuer": text("AUTH_JWT_ISSUER"),
            "auth_jwt_audience": text("AUTH_JWT_AUDIENCE"),
            "worker_enabled": flag("WORKER_IN_PROCESS", cls.worker_enabled),
            "worker_poll_seconds": number("WORKER_POLL_SECONDS", float, cls.worker_poll_seconds),
            "outbox_max_attempts": number("OUTBOX_MAX_ATTEMPTS", int, cls.outbox_max_attempts),
            "sync_grace_seconds": number("SYNC_GRACE_SECONDS", float, cls.sync_grace_seconds),
            "sync_reconcile_interval_seconds": number("SYNC_RECONCILE_INTERVAL_SECONDS", int,
                                                      cls.sync_reconcile_interval_seconds),
            "log_format": (text("LOG_FORMAT") or cls.log_format).lower(),
            "shutdown_timeout_seconds": number("SHUTDOWN_TIMEOUT_SECONDS", float, cls.shutdown_timeout_seconds),
            "graphql_max_depth": number("GRAPHQL_MAX_DEPTH", int, cls.graphql_max_depth),
            "graphql_max_aliases": number("GRAPHQL_MAX_ALIASES", int, cls.graphql_max_aliases),
            "graphql_max_tokens": number("GRAPHQL_MAX_TOKENS", int, cls.graphql_max_tokens),
            "graphql_max_directives": number("GRAPHQL_MAX_DIRECTIVES", int, cls.graphql_max_directives),
            "graphql_max_cost": number("GRAPHQL_MAX_COST", int, cls.graphql_max_cost),
            "graphql_introspection": flag("GRAPHQL_INTROSPECTION", cls.graphql_introspection),
            "graphiql_enabled": flag("GRAPHIQL_ENABLED", None),
            "cors_allowed_origins": tuple(
                origin.strip() for origin in (text("CORS_ALLOWED_ORIGINS") or "").split(",") if origin.strip()
            ),
            "allowed_redirect_uris": tuple(
                uri.strip() for uri in (text("ALLOWED_REDIRECT_URIS") or "").split(",") if uri.strip()
            ),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def describe_dev_defaults(settings: Settings) -> list[str]:
    """One line per embedded default in force, for the start-up log."""
    notes = []
    if not settings.mongodb_uri:
        notes.append("MONGODB_URI unset: in-memory store (mongomock), NOT durable; data is lost on exit")
    if settings.uses_sandbox:
        notes.append(f"CRONOFY_CLIENT_ID unset: built-in Cronofy sandbox at {settings.base_url}{SANDBOX_PATH}")
    if not settings.token_encryption_keys:
        notes.append("TOKEN_ENCRYPTION_KEYS unset: ephemeral encryption key; stored tokens die with the process")
    if settings.uses_dev_auth:
        notes.append("AUTH_JWT_SECRET/AUTH_JWT_PUBLIC_KEY unset: dev auth; mint tokens with `gql-api dev-token USER_ID`")
    if not settings.allowed_redirect_uris:
        notes.append(f"ALLOWED_REDIRECT_URIS unset: only the demo callback {settings.redirect_uris[0]}")
    return notes
