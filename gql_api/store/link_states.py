"""OAuth `state` values: random, bound to one user, single use, short-lived; stored only as a hash.

A state is deleted when its owner uses it (a state presented by anybody else stays), and an expired one by
the TTL index on `expires_at` (and the worker's retention sweep, store/retention.py)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from pymongo.results import DeleteResult

from ..domain.connections import LinkState
from .mongo import LINK_STATES, as_utc

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
        """Atomically use up the state (it is deleted), only for its owner and only once; None when it is not
        usable."""
        doc = await self._collection.find_one_and_delete(
            {"_id": _key(state), "user_id": user_id, "used_at": None, "expires_at": {"$gt": now}}
        )
        return _link_state(doc) if doc else None

    async def of_user(self, user_id: str) -> list[LinkState]:
        return [_link_state(doc) async for doc in self._collection.find({"user_id": user_id}).sort("expires_at", 1)]

    async def delete_for_user(self, user_id: str) -> int:
        result: DeleteResult = await self._collection.delete_many({"user_id": user_id})
        return result.deleted_count


def _link_state(doc: dict[str, Any]) -> LinkState:
    return LinkState(
        user_id=doc["user_id"],
        redirect_uri=doc["redirect_uri"],
        data_center=doc["data_center"],
        expires_at=as_utc(doc["expires_at"]),
    )
