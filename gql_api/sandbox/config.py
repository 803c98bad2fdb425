"""Settings of one sandbox instance."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class SandboxConfig:
    """How the fake Cronofy behaves.

    `clock` drives every expiry (codes, access tokens), so tests can move time forward
    instead of sleeping.
    """

    client_id: str
    client_secret: str
    access_token_ttl: int = 3600  # seconds; the `expires_in` handed out
    rotate_refresh_tokens: bool = False  # Cronofy says a refresh token "may change" when used
    code_ttl: int = 600  # seconds an authorization code stays redeemable
    clock: Callable[[], float] = field(default=time.time, repr=False)
