"""How many changes one user may make a minute, counted for every process together in MongoDB.

One fixed window a minute per user, in the collection of the Cronofy rate budget (it shares its TTL
index): a document `u:<hash of the user id>:<minute>` whose `n` is `$inc`-ed by each admitted request.
The user id is hashed so that the window keys name nobody.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument

from .mongo import RATE_WINDOWS

WINDOW_SECONDS = 60


class MongoUserRateLimit:
    def __init__(self, database: Any, *, per_minute: int) -> None:
        self._collection = database[RATE_WINDOWS]
        self._per_minute = per_minute

    async def take(self, user_id: str, count: int, *, now: datetime) -> float | None:
        """Admit `count` more changes by the user: None when they fit this minute, else the seconds until
        the next minute begins (nothing is taken then)."""
        if self._per_minute <= 0:
            return None
        window = math.floor(now.timestamp() / WINDOW_SECONDS)
        ends = (window + 1) * WINDOW_SECONDS
        key = f"u:{hashlib.sha256(user_id.encode()).hexdigest()[:32]}:{window}"
        doc = await self._collection.find_one_and_update(
            {"_id": key},
            {"$inc": {"n": count}, "$setOnInsert": {"expires_at": now + timedelta(seconds=2 * WINDOW_SECONDS)}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        if doc["n"] <= self._per_minute:
            return None
        await self._collection.update_one({"_id": key}, {"$inc": {"n": -count}})  # refused: give it back
        return max(1.0, ends - now.timestamp())
