"""Revocations still owed to Cronofy after an unlink: only what retrying needs (token, data center), and
whose grant it was as a pseudonym (`subject`, a hash of the user id: exports list a user's debts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument

from ..domain.connections import PendingRevocation
from ..domain.secrets import Secret
from ..domain.user_data import OwedRevocation
from ..vault import Vault
from .mongo import REVOCATIONS, as_utc


class RevocationStore:
    def __init__(self, database: Any, vault: Vault) -> None:
        self._collection = database[REVOCATIONS]
        self._vault = vault

    async def add_claimed(
        self,
        *,
        refresh_token: Secret | None,
        data_center: str,
        sub: str | None = None,
        now: datetime,
        lease_until: datetime,
        subject: str | None = None,
    ) -> PendingRevocation:
        """Record a revocation that the caller attempts at once; the worker takes it after the lease."""
        doc_id = ObjectId()
        await self._collection.insert_one(
            {
                "subject": subject,
                "_id": doc_id,
                "refresh_token": self._vault.encrypt(
                    refresh_token, collection=REVOCATIONS, doc_id=doc_id, field="refresh_token"
                )
                if refresh_token
                else None,
                "sub": sub,
                "data_center": data_center,
                "attempts": 1,
                "created_at": now,
                "next_attempt_at": lease_until,
                "last_error": None,
            }
        )
        return PendingRevocation(str(doc_id), refresh_token, sub, data_center, attempts=1, owed_at=now)

    async def claim_due(self, *, now: datetime, lease_until: datetime) -> PendingRevocation | None:
        """Take the oldest due revocation for `lease`, so two workers never revoke the same one at once."""
        doc = await self._collection.find_one_and_update(
            {"next_attempt_at": {"$lte": now}},
            {"$set": {"next_attempt_at": lease_until}, "$inc": {"attempts": 1}},
            sort=[("next_attempt_at", 1)],
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return None
        token = (
            self._vault.decrypt(doc["refresh_token"], collection=REVOCATIONS, doc_id=doc["_id"], field="refresh_token")
            if doc.get("refresh_token")
            else None
        )
        return PendingRevocation(
            str(doc["_id"]), token, doc.get("sub"), doc["data_center"], doc["attempts"], as_utc(doc["created_at"])
        )

    async def done(self, revocation: PendingRevocation) -> None:
        await self._collection.delete_one({"_id": ObjectId(revocation.id)})

    async def owed_by(self, subject: str) -> list[OwedRevocation]:
        cursor = self._collection.find({"subject": subject}, {"refresh_token": 0}).sort("created_at", 1)
        return [
            OwedRevocation(
                owed_since=as_utc(doc["created_at"]),
                attempts=doc["attempts"],
                next_attempt_at=as_utc(doc["next_attempt_at"]),
                last_error=doc.get("last_error"),
            )
            async for doc in cursor
        ]

    async def retry_later(self, revocation: PendingRevocation, *, at: datetime, error: str) -> None:
        await self._collection.update_one(
            {"_id": ObjectId(revocation.id)}, {"$set": {"next_attempt_at": at, "last_error": error}}
        )

    async def rotate_keys(self, *, batch_size: int) -> tuple[int, int]:
        """Re-encrypt one batch of owed refresh tokens still under an older key: (found, rewritten)."""
        cursor = self._collection.find(
            {"refresh_token": {"$ne": None}, "refresh_token.kid": {"$ne": self._vault.active_kid}},
            {"refresh_token": 1},
        ).limit(batch_size)
        seen = rotated = 0
        async for doc in cursor:
            seen += 1
            where = {"collection": REVOCATIONS, "doc_id": doc["_id"], "field": "refresh_token"}
            token = self._vault.decrypt(doc["refresh_token"], **where)
            result = await self._collection.update_one(
                {"_id": doc["_id"], "refresh_token": doc["refresh_token"]},
                {"$set": {"refresh_token": self._vault.encrypt(token, **where)}},
            )
            rotated += result.modified_count
        return seen, rotated
