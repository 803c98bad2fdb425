"""Configuration from the environment, with embedded defaults for a first run.

Every name here is fixed by DESIGN.md §3. Unset means "development": in-memory store, the built-in
Cronofy sandbox, an ephemeral encryption key and dev auth. Each of those is announced in the log by
`describe_dev_defaults` so nobody mistakes a dev server for a production one. The sandbox, the demo
callback and dev auth are allowed only in the development shape (`Settings.development`: dev auth on a
loopback HOST and PUBLIC_BASE_URL); `RULES` refuse them anywhere else, with every other combination that
would be unsafe or fail later, each naming the variable to set.

Each variable is declared once, on the `Settings` field it fills (`env_var`): its name, how its text is
read and what it may be, its default and what it means. `VARIABLES` is that table; `from_env` reads it,
`__post_init__` checks it, then the rules across fields (`RULES`). The README's "Configuration reference
(environment)" documents it, and tests/unit/test_settings_readme.py keeps the two in agreement.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

DATA_CENTERS = ("us", "uk", "de", "au", "ca", "sg")
MONGODB_DRIVERS = ("motor", "pymongo")
LOG_FORMATS = ("json", "text")

# Known to every dev server and `gql-api dev-token`, so tokens minted by one work on the other.
# Dev auth exists only in the development shape (`Settings.development`), which is what makes this tolerable.
DEV_AUTH_SECRET = "gql-api-dev-auth-secret-never-use-in-production"
SANDBOX_CLIENT_ID = "sandbox-client-id"
SANDBOX_CLIENT_SECRET = "sandbox-client-secret"
SANDBOX_PATH = "/sandbox/cronofy"
DEMO_CALLBACK_PATH = "/demo/calendar-linked"
MAX_CALLBACK_URL = 128  # Cronofy's limit for a channel's callback_url
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
WEBHOOK_PATH = "/webhooks/cronofy/"  # + the channel's token: where Cronofy pushes (http/webhooks.py)
WEBHOOK_TOKEN_LENGTH = 32  # characters of a 192-bit URL-safe token (services/push_channels.py)
MIN_JWT_SECRET_BYTES = 32  # HS256's own size: RFC 7518 §3.2 wants a key at least as long as the hash
MIN_METRICS_TOKEN_LENGTH = 16


class ConfigError(Exception):
    """The configuration cannot work; the message says which variable and why."""


# --- kinds: how a variable's text is read, and what its value may be ------------------------------


class Kind:
    """Text, as given; the other kinds below read it differently or allow fewer values."""

    def parse(self, name: str, raw: str) -> Any:
        """The value of non-blank text; ConfigError naming the variable if it cannot be one."""
        return raw

    def problem(self, value: Any) -> str | None:
        """What is wrong with a value, completing "NAME ...", or None if nothing is."""
        return None


class CommaList(Kind):
    def parse(self, name: str, raw: str) -> tuple[str, ...]:
        return tuple(item.strip() for item in raw.split(",") if item.strip())


class Flag(Kind):
    def parse(self, name: str, raw: str) -> bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be true or false, got {raw!r}")


@dataclasses.dataclass(frozen=True)
class Choice(Kind):
    """One of a few words, read case-insensitively."""

    options: tuple[str, ...]

    def parse(self, name: str, raw: str) -> str:
        return raw.lower()

    def problem(self, value: Any) -> str | None:
        return None if value in self.options else f"must be one of {', '.join(self.options)}"


@dataclasses.dataclass(frozen=True)
class Number(Kind):
    """A finite int or float within its bounds (`between` is inclusive at both ends)."""

    type: type[int] | type[float]
    at_least: int | None = None
    above: int | None = None
    between: tuple[int, int] | None = None

    def parse(self, name: str, raw: str) -> int | float:
        try:
            return self.type(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None

    def problem(self, value: Any) -> str | None:
        if not math.isfinite(value):  # nan compares false with every bound, inf passes the lower ones
            return "must be a finite number"
        if self.between is not None and not self.between[0] <= value <= self.between[1]:
            return f"must be between {self.between[0]} and {self.between[1]}"
        if self.at_least is not None and not value >= self.at_least:
            return f"must be at least {self.at_least}"
        if self.above is not None and not value > self.above:
            return f"must be > {self.above}"
        return None


TEXT, FLAG, COMMA_LIST = Kind(), Flag(), CommaList()
COUNT = Number(int, at_least=1)  # attempts, limits
SECONDS = Number(float, above=0)  # timeouts, intervals: zero makes no sense
SHARE = Number(float, above=0, between=(0, 1))  # a part of a budget


# --- the table ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Variable:
    """One row of the configuration table: an environment variable and the `Settings` field it fills."""

    name: str
    kind: Kind
    default: object
    description: str  # the README's wording
    field: str = ""  # the field it is declared on, filled in by `_table`

    def read(self, env: Mapping[str, str]) -> object:
        raw = env.get(self.name, "").strip()
        return self.kind.parse(self.name, raw) if raw else self.default

    def check(self, value: object) -> None:
        if value is None and self.default is None:  # unset, where unset has a meaning
            return
        if (problem := self.kind.problem(value)) is not None:
            raise ConfigError(f"{self.name} {problem}, got {value!r}")


def env_var(name: str, kind: Kind, default: object, description: str) -> Any:
    """A `Settings` field filled from the environment variable `name` (one row of `VARIABLES`)."""
    return dataclasses.field(default=default, metadata={"env": Variable(name, kind, default, description)})


@dataclasses.dataclass(frozen=True)
class Settings:
    host: str = env_var(
        "HOST", TEXT, "127.0.0.1", "address to listen on (a non-loopback one leaves the development shape)"
    )
    port: int = env_var("PORT", Number(int, between=(1, 65535)), 8080, "port to listen on")
    public_base_url: str | None = env_var(
        "PUBLIC_BASE_URL",
        TEXT,
        None,
        "where browsers and Cronofy's pushes reach us (callback URL at most 128 characters); unset: http://HOST:PORT",
    )

    mongodb_uri: str | None = env_var("MONGODB_URI", TEXT, None, "the MongoDB to use; unset: in-memory store")
    mongodb_database: str = env_var("MONGODB_DATABASE", TEXT, "gql_api", "database name")
    mongodb_driver: str = env_var(
        "MONGODB_DRIVER", Choice(MONGODB_DRIVERS), "motor", "`motor`, or `pymongo` for PyMongo's `AsyncMongoClient`"
    )

    cronofy_client_id: str | None = env_var(
        "CRONOFY_CLIENT_ID", TEXT, None, "your Cronofy OAuth application; unset: built-in sandbox"
    )
    cronofy_client_secret: str | None = env_var(
        "CRONOFY_CLIENT_SECRET", TEXT, None, "its secret (also verifies pushes)"
    )
    cronofy_data_center: str = env_var(
        "CRONOFY_DATA_CENTER", Choice(DATA_CENTERS), "us", "`us`, `uk`, `de`, `au`, `ca` or `sg`"
    )
    cronofy_api_url: str | None = env_var(
        "CRONOFY_API_URL", TEXT, None, "override the data center's API host (a test double, say)"
    )
    cronofy_app_url: str | None = env_var(
        "CRONOFY_APP_URL", TEXT, None, "override the data center's app host (a test double, say)"
    )
    cronofy_timeout_seconds: float = env_var(
        "CRONOFY_TIMEOUT_SECONDS", SECONDS, 10.0, "bound on every Cronofy call (connect, read and whole call)"
    )
    cronofy_max_attempts: int = env_var(
        "CRONOFY_MAX_ATTEMPTS", COUNT, 4, "attempts of an idempotent call (429, 5xx, timeouts, resets)"
    )
    cronofy_refresh_margin_seconds: int = env_var(
        "CRONOFY_REFRESH_MARGIN_SECONDS",
        Number(int, at_least=0),
        300,
        "refresh an access token this long before it expires",
    )
    cronofy_rate_per_second: int = env_var(
        "CRONOFY_RATE_PER_SECOND",
        Number(int, at_least=2),
        50,
        "Cronofy's application limit per second, shared by all processes",
    )
    cronofy_rate_per_minute: int = env_var(
        "CRONOFY_RATE_PER_MINUTE",
        Number(int, at_least=2),
        500,
        "Cronofy's application limit per minute, shared by all processes",
    )
    cronofy_background_share: float = env_var(
        "CRONOFY_BACKGROUND_SHARE",
        SHARE,
        0.7,
        "the part of each window background work may use; the rest waits for calls a user waits for",
    )
    cronofy_sweep_share: float = env_var(
        "CRONOFY_SWEEP_SHARE", SHARE, 0.4, "the part of each window reconciliation and channel repair may use"
    )
    cronofy_user_share: float = env_var(
        "CRONOFY_USER_SHARE", SHARE, 0.1, "the part of a minute's calls one user's actions may use"
    )

    token_encryption_keys: str | None = env_var(
        "TOKEN_ENCRYPTION_KEYS",
        TEXT,
        None,
        "`KEY_ID:KEY` entries (`gql-api generate-key`), the first encrypts; unset: ephemeral key",
    )

    auth_jwt_secret: str | None = env_var(
        "AUTH_JWT_SECRET", TEXT, None, "an HS256 secret shared with your identity provider; unset: dev auth"
    )
    auth_jwt_public_key: str | None = env_var(
        "AUTH_JWT_PUBLIC_KEY", TEXT, None, "a PEM public key (RS256, ES256 or EdDSA) instead of the secret"
    )
    auth_jwt_issuer: str | None = env_var("AUTH_JWT_ISSUER", TEXT, None, "the tokens' issuer; unset: not checked")
    auth_jwt_audience: str | None = env_var("AUTH_JWT_AUDIENCE", TEXT, None, "the tokens' audience; unset: not checked")
    auth_jwt_max_age_seconds: int | None = env_var(
        "AUTH_JWT_MAX_AGE_SECONDS",
        Number(int, at_least=1),
        None,
        "refuse tokens issued (`iat`) longer ago than this, and tokens without `iat`; unset: only `exp` counts",
    )
    auth_partners_claim: str = env_var(
        "AUTH_PARTNERS_CLAIM", TEXT, "partners", "the claim listing the user ids this user may meet (DESIGN §9)"
    )
    auth_admin_role: str = env_var(
        "AUTH_ADMIN_ROLE",
        TEXT,
        "calendar-admin",
        "the role (in the `roles` claim) of the platform's service token: it may erase users and export their data",
    )
    auth_calendar_integration_claim: str = env_var(
        "AUTH_CALENDAR_INTEGRATION_CLAIM",
        TEXT,
        "calendar_integration",
        "the claim saying whether the user's program has the calendar integration on (absent: on)",
    )

    allowed_redirect_uris: tuple[str, ...] = env_var(
        "ALLOWED_REDIRECT_URIS",
        COMMA_LIST,
        (),
        "comma-separated redirect URIs (exact match); unset: the dev server's demo callback",
    )
    link_state_ttl_seconds: int = 600  # no environment variable
    meeting_retention_days: int = env_var(
        "MEETING_RETENTION_DAYS",
        Number(int, between=(0, 36_500)),
        365,
        "days a meeting is kept after it ended or was cancelled (`0`: kept for good)",
    )
    worker_enabled: bool = env_var("WORKER_IN_PROCESS", FLAG, True, "`false` when `gql-api worker` runs apart")
    worker_poll_seconds: float = env_var("WORKER_POLL_SECONDS", SECONDS, 2.0, "how often the worker looks for due work")
    outbox_max_attempts: int = env_var(
        "OUTBOX_MAX_ATTEMPTS", COUNT, 10, "attempts per calendar change before a copy shows `FAILED`"
    )
    sync_grace_seconds: float = env_var(
        "SYNC_GRACE_SECONDS",
        Number(float, at_least=0),
        1.5,
        "how long a mutation waits for Cronofy before answering `PENDING`",
    )
    sync_reconcile_interval_seconds: int = env_var(
        "SYNC_RECONCILE_INTERVAL_SECONDS",
        Number(int, at_least=0),
        28800,
        "read a calendar that holds an upcoming meeting this often even without a push (`0`: never)",
    )
    log_format: str = env_var("LOG_FORMAT", Choice(LOG_FORMATS), "json", "`json`, or `text` for humans at a terminal")
    shutdown_timeout_seconds: float = env_var(
        "SHUTDOWN_TIMEOUT_SECONDS", SECONDS, 10.0, "how long in-flight requests may finish after SIGTERM"
    )
    request_body_timeout_seconds: float = env_var(
        "REQUEST_BODY_TIMEOUT_SECONDS",
        SECONDS,
        10.0,
        "how long a client may take to send a request's body before it gets 408 and the connection is closed",
    )
    metrics_token: str | None = env_var(
        "METRICS_TOKEN", TEXT, None, "`/metrics` then needs `Authorization: Bearer <token>`; unset: open"
    )

    # GraphQL endpoint (see gql_api/graphql_limits.py for what each limit counts)
    graphql_max_depth: int = env_var("GRAPHQL_MAX_DEPTH", COUNT, 10, "query limit: depth")
    graphql_max_aliases: int = env_var("GRAPHQL_MAX_ALIASES", COUNT, 15, "query limit: aliases")
    graphql_max_tokens: int = env_var("GRAPHQL_MAX_TOKENS", COUNT, 2000, "query limit: tokens")
    graphql_max_directives: int = env_var("GRAPHQL_MAX_DIRECTIVES", COUNT, 20, "query limit: directives")
    graphql_max_cost: int = env_var(
        "GRAPHQL_MAX_COST", COUNT, 20_000, "query limit: cost (lists count by their `first`)"
    )
    graphql_max_mutations: int = env_var("GRAPHQL_MAX_MUTATIONS", COUNT, 5, "root mutation fields one request may hold")
    mutations_per_user_per_minute: int = env_var(
        "MUTATIONS_PER_USER_PER_MINUTE",
        Number(int, at_least=0),
        30,
        "mutation fields one user may run a minute, all processes together (0: no limit)",
    )
    graphql_trusted_documents: str | None = env_var(
        "GRAPHQL_TRUSTED_DOCUMENTS",
        TEXT,
        None,
        "a manifest of the only documents to run (JSON `{id: document}`); unset: any document, and APQ",
    )
    graphql_introspection: bool = env_var(
        "GRAPHQL_INTROSPECTION", FLAG, True, "`false` hides the schema from introspection"
    )
    graphiql_enabled: bool | None = env_var(  # None: on with dev auth only (see `graphiql`)
        "GRAPHIQL_ENABLED", FLAG, None, "`true` serves GraphiQL to browsers at `GET /graphql`; unset: with dev auth"
    )
    cors_allowed_origins: tuple[str, ...] = env_var(
        "CORS_ALLOWED_ORIGINS", COMMA_LIST, (), "exact origins such as `https://app.example.com`, comma-separated"
    )

    # Live updates: GraphQL subscriptions over WebSockets (gql_api/graphql/live.py, services/live.py)
    subscriptions_per_user: int = env_var(
        "SUBSCRIPTIONS_PER_USER",
        COUNT,
        20,
        "a user's subscriptions, and their WebSockets, in one server process",
    )
    subscriptions_per_process: int = env_var(
        "SUBSCRIPTIONS_PER_PROCESS", COUNT, 10_000, "subscriptions, and WebSockets, one server process holds"
    )
    subscription_poll_seconds: float = env_var(
        "SUBSCRIPTION_POLL_SECONDS",
        SECONDS,
        0.25,
        "how often a server process with subscribers reads the change feed where MongoDB has no change streams",
    )
    websocket_heartbeat_seconds: float = env_var(
        "WEBSOCKET_HEARTBEAT_SECONDS",
        Number(float, at_least=0),
        30.0,
        "a WebSocket ping this often; a peer that does not answer within half of it is dropped (`0`: none)",
    )

    def __post_init__(self) -> None:
        for variable in VARIABLES:
            variable.check(getattr(self, variable.field))
        for rule in RULES:
            if (problem := rule(self)) is not None:
                raise ConfigError(problem)

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
    def development(self) -> bool:
        """The development shape: dev auth, listening on a loopback HOST, reached at a loopback
        PUBLIC_BASE_URL (when set). The sandbox, the demo page and dev auth exist only in it (the
        rules below refuse them elsewhere), and in it the Host header of every request is checked."""
        return (
            self.uses_dev_auth
            and is_loopback_host(self.host)
            and (self.public_base_url is None or is_loopback_host(_url_host(self.public_base_url)))
        )

    @property
    def base_url(self) -> str:
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def webhook_url_base(self) -> str:
        """Cronofy's callback URLs are this and a channel's token."""
        return self.base_url + WEBHOOK_PATH

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
        """Every variable of `VARIABLES` read from `env` (os.environ by default); blank means its default."""
        env = os.environ if env is None else env
        values = {variable.field: variable.read(env) for variable in VARIABLES}
        return cls(**(values | overrides))  # type: ignore[arg-type]


def _table() -> tuple[Variable, ...]:
    return tuple(
        dataclasses.replace(field.metadata["env"], field=field.name)
        for field in dataclasses.fields(Settings)
        if "env" in field.metadata
    )


VARIABLES: tuple[Variable, ...] = _table()


# --- loopback --------------------------------------------------------------------------------------


def is_loopback_host(host: str) -> bool:
    """A name or address that can only mean this machine: `localhost`, 127.0.0.0/8 or ::1 (in brackets or
    not). Other names are not trusted to resolve to loopback, whatever DNS says today (DNS rebinding)."""
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


# --- rules across fields (and over a list's items) -------------------------------------------------


def _cronofy_client_id_with_secret(settings: Settings) -> str | None:
    if bool(settings.cronofy_client_id) != bool(settings.cronofy_client_secret):
        return "CRONOFY_CLIENT_ID and CRONOFY_CLIENT_SECRET must be set together"
    return None


def _one_jwt_key(settings: Settings) -> str | None:
    if settings.auth_jwt_secret and settings.auth_jwt_public_key:
        return "set AUTH_JWT_SECRET or AUTH_JWT_PUBLIC_KEY, not both"
    return None


def _jwt_secret_is_strong(settings: Settings) -> str | None:
    secret = settings.auth_jwt_secret
    if not secret:
        return None
    if secret == DEV_AUTH_SECRET:
        return (
            "AUTH_JWT_SECRET is the dev secret, which is published in the source: anyone could mint tokens. "
            "Set the secret your identity provider signs with"
        )
    if len(secret.encode("utf-8", "surrogateescape")) < MIN_JWT_SECRET_BYTES:
        return (
            f"AUTH_JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes (HS256's key size), "
            "random, e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return None


def _jwt_public_key_is_a_public_key(settings: Settings) -> str | None:
    if not settings.auth_jwt_public_key:
        return None
    from .jwt_keys import KeyProblem, load_public_key  # cryptography loads only when a key is configured

    try:
        load_public_key(settings.auth_jwt_public_key)
    except KeyProblem as problem:
        return f"AUTH_JWT_PUBLIC_KEY {problem}"
    return None


def _public_base_url_is_a_url(settings: Settings) -> str | None:
    url = settings.public_base_url
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number or out of range
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        return f"PUBLIC_BASE_URL must be an http(s) URL such as https://api.example.com, got {url[:80]!r}"
    return None


def _callback_url_fits(settings: Settings) -> str | None:
    if len(settings.webhook_url_base) + WEBHOOK_TOKEN_LENGTH > MAX_CALLBACK_URL:
        return f"PUBLIC_BASE_URL is too long: Cronofy callback URLs may have at most {MAX_CALLBACK_URL} characters"
    return None


def _dev_auth_only_on_loopback(settings: Settings) -> str | None:
    """Anyone can mint dev tokens (the secret is in the source): they may only reach a server that nothing
    but this machine can reach, neither through its own address nor through a proxy's public URL."""
    if not settings.uses_dev_auth:
        return None
    if not is_loopback_host(settings.host):
        return (
            "dev auth accepts tokens anyone can mint: set AUTH_JWT_SECRET or AUTH_JWT_PUBLIC_KEY "
            f"before listening on {settings.host}"
        )
    if settings.public_base_url is not None and not is_loopback_host(_url_host(settings.public_base_url)):
        return (
            "dev auth accepts tokens anyone can mint: set AUTH_JWT_SECRET or AUTH_JWT_PUBLIC_KEY before "
            f"serving at PUBLIC_BASE_URL {settings.public_base_url[:80]} (say, behind a reverse proxy)"
        )
    return None


def _real_cronofy_has_real_auth(settings: Settings) -> str | None:
    if not settings.uses_sandbox and settings.uses_dev_auth:
        return "real Cronofy credentials need real client auth: set AUTH_JWT_SECRET or AUTH_JWT_PUBLIC_KEY"
    return None


def _sandbox_only_in_development(settings: Settings) -> str | None:
    """The sandbox's control API is unauthenticated: it reads every token and event and signs webhooks."""
    if settings.uses_sandbox and not settings.development:
        return (
            "CRONOFY_CLIENT_ID is unset, so the built-in Cronofy sandbox would be served, and its control API "
            "is open to anyone: it exists only in development (dev auth on a loopback HOST and PUBLIC_BASE_URL). "
            "Set CRONOFY_CLIENT_ID and CRONOFY_CLIENT_SECRET"
        )
    return None


def _redirect_uris_outside_development(settings: Settings) -> str | None:
    if not settings.allowed_redirect_uris and not settings.development:
        return (
            "ALLOWED_REDIRECT_URIS is unset: the demo callback exists only in development; "
            "set the redirect URIs of your apps"
        )
    return None


def _redirect_uris_are_safe(settings: Settings) -> str | None:
    """OAuth codes travel in the redirect's query: over https only (RFC 6749 §10.5; http to this machine
    is a native app's or a developer's), and never to a URI with a fragment (RFC 6749 §3.1.2)."""
    for uri in settings.allowed_redirect_uris:
        try:
            parts = urlsplit(uri)
            parts.port  # noqa: B018 - raises ValueError for a port that is no number or out of range
        except ValueError:
            parts = None
        if parts is None or not parts.hostname:
            problem = "is not an absolute URL"
        elif "#" in uri:
            problem = "has a fragment (#), which OAuth forbids"
        elif parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname)):
            continue
        else:
            problem = "must use https (http only to localhost, 127.0.0.1 or [::1])"
        return f"ALLOWED_REDIRECT_URIS: {uri[:80]!r} {problem}"
    return None


def _durable_store_has_durable_keys(settings: Settings) -> str | None:
    if settings.mongodb_uri and not settings.token_encryption_keys:
        return (
            "MONGODB_URI is set but TOKEN_ENCRYPTION_KEYS is not: tokens stored under an ephemeral key could "
            "never be read after a restart"
        )
    return None


def _real_cronofy_has_durable_keys(settings: Settings) -> str | None:
    if not settings.uses_sandbox and not settings.token_encryption_keys:
        return (
            "CRONOFY_CLIENT_ID is set but TOKEN_ENCRYPTION_KEYS is not: under an ephemeral key, stored grants "
            "and owed revocations are lost on restart while the grants stay live at Cronofy. "
            "Set TOKEN_ENCRYPTION_KEYS (`gql-api generate-key`)"
        )
    return None


def _cors_origins_are_exact(settings: Settings) -> str | None:
    for origin in settings.cors_allowed_origins:
        if not _ORIGIN.fullmatch(origin):
            return (
                f"CORS_ALLOWED_ORIGINS takes exact origins such as https://app.example.com "
                f"(scheme, host, optional port; no path, no wildcard), got {origin[:80]!r}"
            )
    return None


def _claim_names(settings: Settings) -> str | None:
    if settings.auth_partners_claim == settings.auth_calendar_integration_claim:
        return "AUTH_PARTNERS_CLAIM and AUTH_CALENDAR_INTEGRATION_CLAIM must name different claims"
    return None


def _trusted_documents_readable(settings: Settings) -> str | None:
    if settings.graphql_trusted_documents is None:
        return None
    from .graphql.documents import ManifestError, load_manifest  # read again, once, by the view

    try:
        load_manifest(settings.graphql_trusted_documents)
    except ManifestError as error:
        return f"GRAPHQL_TRUSTED_DOCUMENTS: {error}"
    return None


def _metrics_token_is_long_enough(settings: Settings) -> str | None:
    if settings.metrics_token is not None and len(settings.metrics_token) < MIN_METRICS_TOKEN_LENGTH:
        return f"METRICS_TOKEN must be at least {MIN_METRICS_TOKEN_LENGTH} characters (a random one)"
    return None


# In this order, so each message asks for the next thing to set: first what is broken on its own, then
# what makes the development shape, then what only the development shape may leave unset.
RULES: tuple[Callable[[Settings], str | None], ...] = (
    _trusted_documents_readable,
    _cronofy_client_id_with_secret,
    _one_jwt_key,
    _jwt_secret_is_strong,
    _jwt_public_key_is_a_public_key,
    _public_base_url_is_a_url,
    _callback_url_fits,
    _dev_auth_only_on_loopback,
    _real_cronofy_has_real_auth,
    _sandbox_only_in_development,
    _redirect_uris_outside_development,
    _redirect_uris_are_safe,
    _durable_store_has_durable_keys,
    _real_cronofy_has_durable_keys,
    _cors_origins_are_exact,
    _claim_names,
    _metrics_token_is_long_enough,
)


def in_memory_store_problem(settings: Settings, *, database_given: bool) -> str | None:
    """Checked by `create_app`, which alone knows whether a database was handed to it: an injected
    database counts as the configured store (DESIGN §2)."""
    if not database_given and not settings.mongodb_uri and not settings.uses_sandbox:
        return (
            "CRONOFY_CLIENT_ID is set but MONGODB_URI is not: in the in-memory store, stored grants and owed "
            "revocations are lost on exit while the grants stay live at Cronofy. Set MONGODB_URI"
        )
    return None


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
        notes.append(
            "AUTH_JWT_SECRET/AUTH_JWT_PUBLIC_KEY unset: dev auth; mint tokens with `gql-api dev-token USER_ID`"
        )
    if not settings.allowed_redirect_uris:
        notes.append(f"ALLOWED_REDIRECT_URIS unset: only the demo callback {settings.redirect_uris[0]}")
    return notes
