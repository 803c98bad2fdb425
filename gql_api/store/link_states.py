"""OAuth `state` values: random, bound to one user, single use, short-lived; stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from ..domain.connections import LinkState
from .mongo import LINK_STATES

STATE_BYTES = 32  # 256 bits


def _key(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


class LinkStateStore:
    def __init__(self, database: Any) -> None:
        self._collection = database[LINK_STATES]

    async def create(
        self, *, user_id: str, redirect_uri: str, data_center: str, now: datetime, expires_at: datetime
    ) -> str:
        state = secrets.token_urlsafe(STATE_BYTES)
        await self._collection.insert_one(
            {
                "_id": _key(state),
                "user_id": user_id,
                "redirect_uri": redirect_uri,
                "data_center": data_center,
                "created_at": now,
                "expires_at": expires_at,
                "used_at": None,
            }
        )
        return state

    async def consume(self, state: str, *, user_id: str, now: datetime) -> LinkState | None:
        """Atomically mark the state used, only for its owner and only once; None when it is not usable."""
        doc = await self._collection.find_one_and_update(
            {"_id": _key(state), "user_id": user_id, "used_at": None, "expires_at": {"$gt": now}},
            {"$set": {"used_at": now}},
        )
        if doc is None:
            return None
        return LinkState(
            user_id=doc["user_id"],
            redirect_uri=doc["redirect_uri"],
            data_center=doc["data_center"],
            expires_at=doc["expires_at"],
        )
