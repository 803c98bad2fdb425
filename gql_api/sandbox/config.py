"""Settings of one sandbox instance."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class SandboxConfig:
    """How the fake Cronofy behaves.

    `redirect_uris` are the redirect URIs registered for `client_id`, as Cronofy has them for an
    application: the consent page redirects (with a code, or with `access_denied`) only to one
    of them, compared exactly (no prefix, no added query string or trailing slash), and answers
    anything else with a 400 page. None registered, the default, means nothing redirects.

    `clock` drives every expiry (codes, access tokens) and every event's `created` and
    `updated`, so tests can move time forward instead of sleeping.

    Push notifications are signed with every secret in `signing_secrets` (the client secret when
    None), like Cronofy while a client secret is being rotated. `push_duplicates` and
    `push_drops` count down: the next N pushes are delivered twice, or not at all.

    `rate_limit_per_second` and `rate_limit_per_minute` are Cronofy's per-application limits
    (Cronofy: 50 and 500); None is unlimited. Over a limit the answer is 429 with an empty body,
    plus `Retry-After` when `rate_limit_retry_after` is set. See `limits.py`.
    """

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...] = ()
    access_token_ttl: int = 3600  # seconds; the `expires_in` handed out
    rotate_refresh_tokens: bool = False  # Cronofy says a refresh token "may change" when used
    code_ttl: int = 600  # seconds an authorization code stays redeemable
    events_page_size: int = 50  # events per page of `GET /v1/events` (Cronofy's is not documented)
    clock: Callable[[], float] = field(default=time.time, repr=False)
    signing_secrets: list[str] | None = field(default=None, repr=False)
    push_timeout: float = 5.0  # seconds a callback URL has to answer a push (Cronofy: 5)
    push_duplicates: int = 0
    push_drops: int = 0
    rate_limit_per_second: int | None = None
    rate_limit_per_minute: int | None = None
    rate_limit_retry_after: bool = False  # Cronofy documents no Retry-After

    @property
    def active_signing_secrets(self) -> list[str]:
        return list(self.signing_secrets) if self.signing_secrets else [self.client_secret]
