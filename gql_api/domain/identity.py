"""Who is asking: the platform user a verified bearer token names."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class User:
    id: str
    email: str | None = None
    name: str | None = None
