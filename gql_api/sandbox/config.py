"""Settings of one sandbox instance."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class SandboxConfig:
    """How the fake Cronofy behaves.

    `clock` drives every expiry (codes, access tokens) and every event's `created` and
    `updated`, so tests can move time forward instead of sleeping.
    """

    client_id: str
    client_secret: str
    access_token_ttl: int = 3600  # seconds; the `expires_in` handed out
    rotate_refresh_tokens: bool = False  # Cronofy says a refresh token "may change" when used
    code_ttl: int = 600  # seconds an authorization code stays redeemable
    events_page_size: int = 50  # events per page of `GET /v1/events` (Cronofy's is not documented)
    clock: Callable[[], float] = field(default=time.time, repr=False)
