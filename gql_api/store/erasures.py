"""Erasure records: one per erased user, keyed by the subject (a hash of the user id), so an erasure that
stopped half-way is finished by a rerun or by the worker (services/privacy.py).

While it runs, a record holds what the steps search by (the user id, the addresses and names seen) and the
connections still to revoke, under a lease like the outbox's; `finish` removes all of that, and the receipt
left (dates and counts) goes `RECEIPT_DAYS` later (the TTL index on `purge_at`, and the retention sweep).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from ..domain.erasure import Erasure, ErasureCounts, ErasureStatus
from .mongo import ERASURES, as_utc

_ZERO = dict.fromkeys(ErasureCounts().as_dict(), 0)


def _lease_free(now: datetime) -> dict[str, Any]:
    return {"$or": [{"lease_until": None}, {"lease_until": {"$lte": now}}]}


class ErasureStore:
    def __init__(self, database: Any) -> None:
        self._collection = database[ERASURES]

    async def begin(
        self,
        *,
        subject: str,
        user_id: str,
        now: datetime,
        calendars_until: datetime,
        owner: str,
        lease_until: datetime,
    ) -> Erasure | None:
        """Start erasing `user_id`, or take up its stored erasure again (a rerun after it finished, or while
        it waits), leased to `owner`; None while another process holds the lease. It is due again when the
        lease ends, so the worker finishes what a process that stopped began."""
        try:
            doc = await self._collection.find_one_and_update(
                {"_id": subject, **_lease_free(now)},
                {
                    "$set": {
                        "user_id": user_id,
                        "status": ErasureStatus.IN_PROGRESS.value,
                        "lease_owner": owner,
                        "lease_until": lease_until,
                        "next_attempt_at": lease_until,
                        "finished_at": None,
                        "purge_at": None,
                        "waiting_for": None,
                    },
                    "$max": {"calendars_until": calendars_until},
                    "$setOnInsert": {"started_at": now, "counts": dict(_ZERO)},
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:  # it exists, and its lease is held
            return None
        return _erasure(doc)

    async def get(self, subject: str) -> Erasure | None:
        doc = await self._collection.find_one({"_id": subject})
        return _erasure(doc) if doc else None

    async def learned(
        self,
        subject: str,
        *,
        addresses: Iterable[str] = (),
        names: Iterable[str] = (),
        connections: Iterable[str] = (),
        withdrawals: Iterable[str] = (),
    ) -> None:
        """What the steps found to search by, to revoke, and to settle (added to what was found before)."""
        found = {"addresses": addresses, "names": names, "connections": connections, "withdrawals": withdrawals}
        await self._collection.update_one(
            {"_id": subject}, {"$addToSet": {name: {"$each": sorted(values)} for name, values in found.items()}}
        )

    async def count(self, subject: str, counts: ErasureCounts) -> None:
        increments = {f"counts.{name}": n for name, n in counts.as_dict().items() if n}
        if increments:
            await self._collection.update_one({"_id": subject}, {"$inc": increments})

    async def wait(self, subject: str, *, owner: str, until: datetime, waiting_for: str) -> None:
        """Give the lease back; the erasure is due again `until`."""
        await self._collection.update_one(
            {"_id": subject, "lease_owner": owner},
            {
                "$set": {
                    "lease_owner": None,
                    "lease_until": None,
                    "next_attempt_at": until,
                    "waiting_for": waiting_for,
                }
            },
        )

    async def finish(self, subject: str, *, owner: str, now: datetime, purge_at: datetime) -> Erasure | None:
        """DONE: everything it searched by goes, the receipt stays until `purge_at`. None if `owner` had lost
        the lease (whoever holds it finishes)."""
        doc = await self._collection.find_one_and_update(
            {"_id": subject, "lease_owner": owner},
            {
                "$set": {
                    "status": ErasureStatus.DONE.value,
                    "finished_at": now,
                    "purge_at": purge_at,
                    "lease_owner": None,
                    "lease_until": None,
                    "next_attempt_at": None,
                    "waiting_for": None,
                },
                "$unset": {"user_id": "", "addresses": "", "names": "", "connections": "", "withdrawals": ""},
            },
            return_document=ReturnDocument.AFTER,
        )
        return _erasure(doc) if doc else None

    async def claim_due(self, *, owner: str, now: datetime, until: datetime) -> Erasure | None:
        """Lease the most overdue erasure in progress to `owner`."""
        doc = await self._collection.find_one_and_update(
            {"status": ErasureStatus.IN_PROGRESS.value, "next_attempt_at": {"$lte": now}, **_lease_free(now)},
            {"$set": {"lease_owner": owner, "lease_until": until, "next_attempt_at": until}},
            sort=[("next_attempt_at", 1)],
            return_document=ReturnDocument.AFTER,
        )
        return _erasure(doc) if doc else None


def _erasure(doc: dict[str, Any]) -> Erasure:
    counts = doc.get("counts") or {}
    return Erasure(
        subject=doc["_id"],
        status=ErasureStatus(doc["status"]),
        counts=ErasureCounts(**{name: counts.get(name, 0) for name in _ZERO}),
        started_at=as_utc(doc.get("started_at")),
        finished_at=as_utc(doc.get("finished_at")),
        calendars_until=as_utc(doc.get("calendars_until")),
        waiting_for=doc.get("waiting_for"),
        user_id=doc.get("user_id"),
        addresses=frozenset(doc.get("addresses") or ()),
        names=frozenset(doc.get("names") or ()),
        connections=tuple(doc.get("connections") or ()),
        withdrawals=tuple(doc.get("withdrawals") or ()),
    )
