"""Keeping nothing longer than needed: MongoDB's TTL indexes, and the same deletions by the worker's sweep.

Every TTL index of `INDEXES` (link states at `expires_at`, rate windows at `expires_at`, erasure receipts at
`purge_at`) and the meetings' retention index (`over_at`, the meeting's end or cancellation, plus
MEETING_RETENTION_DAYS; made, changed or dropped at start-up by `prepare_retention`; none when 0) is also
swept by `RetentionStore.remove_expired`, with the same rule: a document goes once its field is
expireAfterSeconds in the past. So behaviour is the same whether MongoDB's TTL monitor runs (it does every
minute on a real server), lags, or is absent: mongomock emulates TTL indexes, but against the wall clock on
each read, and the sweep goes by the service's clock.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.errors import OperationFailure
from pymongo.results import DeleteResult

from .mongo import INDEXES, MEETINGS

log = logging.getLogger(__name__)

RETENTION_INDEX = "over_at_retention_ttl"
DAY = 86_400


def ttl_rules(meeting_retention_days: int) -> list[tuple[str, str, int]]:
    """(collection, date field, seconds after it) for every TTL index, the meetings' included when on."""
    rules = [
        (collection, next(iter(index.document["key"])), int(index.document["expireAfterSeconds"]))
        for collection, indexes in INDEXES.items()
        for index in indexes
        if "expireAfterSeconds" in index.document
    ]
    if meeting_retention_days > 0:
        rules.append((MEETINGS, "over_at", meeting_retention_days * DAY))
    return rules


async def prepare_retention(database: Any, *, meeting_retention_days: int) -> None:
    """The meetings' TTL index as MEETING_RETENTION_DAYS says: made, changed (dropped and made again: its
    option is part of it) or dropped when 0, so a new setting applies to every meeting from the next start."""
    collection = database[MEETINGS]
    wanted = meeting_retention_days * DAY if meeting_retention_days > 0 else None
    current = (await collection.index_information()).get(RETENTION_INDEX)
    try:
        if current is not None and current.get("expireAfterSeconds") != wanted:
            await collection.drop_index(RETENTION_INDEX)
            current = None
        if wanted is not None and current is None:
            await collection.create_indexes(
                [IndexModel([("over_at", ASCENDING)], expireAfterSeconds=wanted, name=RETENTION_INDEX)]
            )
    except OperationFailure as exc:  # another process starting at the same moment did it first
        log.info("meeting retention index changed concurrently: %s", exc.code)


class RetentionStore:
    def __init__(self, database: Any, *, meeting_retention_days: int) -> None:
        self._database = database
        self._rules = ttl_rules(meeting_retention_days)

    async def remove_expired(self, *, now: datetime) -> dict[str, int]:
        """What each TTL index would remove by `now`, removed: how many documents, by collection."""
        removed: dict[str, int] = {}
        for collection, field, seconds in self._rules:
            result: DeleteResult = await self._database[collection].delete_many(
                {field: {"$lte": now - timedelta(seconds=seconds)}}
            )
            if result.deleted_count:
                removed[collection] = removed.get(collection, 0) + result.deleted_count
        return removed
