"""Calendar connections: one document per (user, Cronofy account), tokens encrypted by the vault."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import AutoReconnect, DuplicateKeyError
from pymongo.results import DeleteResult, UpdateResult

from ..domain.connections import (
    CalendarConnection,
    CalendarProvider,
    ChangeReading,
    ConnectionStatus,
    Credential,
    ReadReason,
    TargetCalendar,
)
from ..domain.errors import CredentialUnreadable
from ..domain.planning import calendars_to_write
from ..domain.secrets import Secret
from ..retry import Backoff, retrying
from ..vault import DecryptionError, Vault
from .mongo import CONNECTIONS, as_utc, object_id

log = logging.getLogger(__name__)

FAILOVER_BACKOFF = Backoff(first=0.1, longest=2.0)  # a replica set elects a new primary within seconds


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # a range over every date: served by the sparse `reconcile_due_first`


def _reconciliation_due(now: datetime) -> dict[str, Any]:
    """ACTIVE, reconciliation time come, no read due yet (index `reconcile_due_by_status`)."""
    return {"status": ConnectionStatus.ACTIVE.value, "sync_due_at": None, "reconcile_at": {"$lte": now}}


def _without_tokens() -> dict[str, int]:
    """A projection that leaves the tokens in the database (fresh each time: some drivers mutate it)."""
    return {"access_token": 0, "refresh_token": 0}


class ConnectionStore:
    def __init__(self, database: Any, vault: Vault) -> None:
        self._collection = database[CONNECTIONS]
        self._vault = vault

    async def list_for_user(self, user_id: str) -> list[CalendarConnection]:
        cursor = self._collection.find({"user_id": user_id}, _without_tokens()).sort([("linked_at", -1), ("_id", -1)])
        return [_connection(doc) async for doc in cursor]

    async def get_for_user(self, user_id: str, connection_id: str) -> CalendarConnection | None:
        oid = object_id(connection_id)
        if oid is None:
            return None
        doc = await self._collection.find_one({"_id": oid, "user_id": user_id}, _without_tokens())
        return _connection(doc) if doc else None

    async def sub_linked_by_another_user(self, sub: str, user_id: str) -> bool:
        return await self._collection.find_one({"sub": sub, "user_id": {"$ne": user_id}}, {"_id": 1}) is not None

    async def grants_of_account(self, sub: str) -> list[tuple[datetime | None, Secret | None]]:
        """The grants stored for a Cronofy account: when each was stored and its refresh token (None
        when it cannot be decrypted any more)."""
        cursor = self._collection.find({"sub": sub}, {"granted_at": 1, "refresh_token": 1})
        return [(as_utc(doc.get("granted_at")), self._refresh_token(doc)) async for doc in cursor]

    async def save_link(
        self,
        *,
        user_id: str,
        sub: str,
        provider: CalendarProvider,
        profile_name: str,
        scopes: tuple[str, ...],
        calendar: TargetCalendar | None,
        data_center: str,
        credential: Credential,
        now: datetime,
    ) -> CalendarConnection:
        """Create the connection, or update the user's existing one for this account in place."""
        for _ in range(2):  # a concurrent first link of the same account can win the insert once
            existing = await self._collection.find_one({"user_id": user_id, "sub": sub}, {"_id": 1})
            doc_id = existing["_id"] if existing else ObjectId()
            fields = {
                "user_id": user_id,
                "sub": sub,
                "status": ConnectionStatus.ACTIVE.value,
                "provider": provider.name,
                "profile_name": profile_name,
                "scopes": list(scopes),
                "calendar": _calendar_doc(calendar),
                "data_center": data_center,
                "updated_at": now,
                "granted_at": now,  # when Cronofy's current grant was stored (owed revocations spare it)
                "relink_consequences_owed": False,
                **self._encrypted(doc_id, credential),
            }
            try:
                doc = await self._collection.find_one_and_update(
                    {"_id": doc_id, "user_id": user_id},
                    {"$set": fields, "$setOnInsert": {"linked_at": now, "last_synced_at": None}},
                    upsert=True,
                    projection=_without_tokens(),
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                continue
            return _connection(doc)
        raise RuntimeError("could not save the calendar connection after a concurrent link")

    async def calendars_for_users(self, user_ids: Sequence[str]) -> dict[str, CalendarConnection]:
        """Each user's calendar to write meetings to, in one query: their newest ACTIVE connection with a
        calendar, else their newest one that needs relinking (its copies wait there for the relink)."""
        statuses = [ConnectionStatus.ACTIVE.value, ConnectionStatus.NEEDS_RELINK.value]
        cursor = self._collection.find(
            {"user_id": {"$in": list(user_ids)}, "status": {"$in": statuses}, "calendar": {"$ne": None}},
            _without_tokens(),
        ).sort([("linked_at", -1), ("_id", -1)])
        return calendars_to_write([_connection(doc) async for doc in cursor])

    async def with_credential(self, connection_id: str) -> tuple[CalendarConnection, Credential] | None:
        oid = object_id(connection_id)
        doc = await self._collection.find_one({"_id": oid}) if oid else None
        if doc is None:
            return None
        try:
            return _connection(doc), self._credential(doc)
        except DecryptionError:
            raise CredentialUnreadable(connection_id) from None

    async def store_credential(self, connection_id: str, credential: Credential, *, now: datetime) -> None:
        """Persist a refreshed credential before its access token is used: a rotated refresh token
        that is not stored is lost for good, so a write that meets a failover is tried again."""
        oid = ObjectId(connection_id)
        update = {"$set": {**self._encrypted(oid, credential), "updated_at": now}}
        async for attempt in retrying(
            backoff=FAILOVER_BACKOFF, max_attempts=6, retry_on=lambda error: isinstance(error, AutoReconnect)
        ):
            with attempt:
                await self._collection.update_one({"_id": oid}, update)

    async def take_refresh_lease(self, connection_id: str, *, owner: str, now: datetime, until: datetime) -> bool:
        """At most one refresh per connection at a time, across processes; an expired lease (its
        holder died) can be taken over."""
        result: UpdateResult = await self._collection.update_one(
            {
                "_id": ObjectId(connection_id),
                "$or": [{"refresh_lease_until": None}, {"refresh_lease_until": {"$lte": now}}],
            },
            {"$set": {"refresh_lease_owner": owner, "refresh_lease_until": until}},
        )
        return result.modified_count == 1

    async def release_leases(self, *, owner: str) -> int:
        """On shutdown: hand back sync and refresh leases, so another process goes on at once."""
        synced: UpdateResult = await self._collection.update_many(
            {"sync_lease_owner": owner}, {"$set": {"sync_lease_owner": None, "sync_lease_until": None}}
        )
        refreshed: UpdateResult = await self._collection.update_many(
            {"refresh_lease_owner": owner}, {"$set": {"refresh_lease_owner": None, "refresh_lease_until": None}}
        )
        return synced.modified_count + refreshed.modified_count

    async def release_refresh_lease(self, connection_id: str, *, owner: str) -> None:
        await self._collection.update_one(
            {"_id": ObjectId(connection_id), "refresh_lease_owner": owner},
            {"$set": {"refresh_lease_owner": None, "refresh_lease_until": None}},
        )

    async def owner_of(self, connection_id: str) -> str | None:
        """The user whose connection this is (None when there is none)."""
        oid = object_id(connection_id)
        doc = await self._collection.find_one({"_id": oid}, {"user_id": 1}) if oid else None
        return doc["user_id"] if doc else None

    async def mark_needs_relink(self, connection_id: str, *, now: datetime) -> bool:
        """True when this call made an ACTIVE connection NEEDS_RELINK. Its consequences (failing its
        meetings' copies) are owed until `relink_consequences_done`, so a crash cannot skip them."""
        result: UpdateResult = await self._collection.update_one(
            {"_id": ObjectId(connection_id), "status": ConnectionStatus.ACTIVE.value},
            {
                "$set": {
                    "status": ConnectionStatus.NEEDS_RELINK.value,
                    "updated_at": now,
                    "relink_consequences_owed": True,
                    # not reconciled while it cannot be read; the relink's writes follow it again
                    "reconcile_at": None,
                }
            },
        )
        return result.modified_count == 1

    async def owing_relink_consequences(self, *, limit: int) -> list[str]:
        cursor = self._collection.find({"relink_consequences_owed": True}, {"_id": 1}).limit(limit)
        return [str(doc["_id"]) async for doc in cursor]

    async def relink_consequences_done(self, connection_id: str) -> None:
        await self._collection.update_one(
            {"_id": ObjectId(connection_id)}, {"$set": {"relink_consequences_owed": False}}
        )

    # --- push channels and reading changes back ----------------------------------------------

    async def by_channel_token(self, token: str) -> CalendarConnection | None:
        doc = await self._collection.find_one({"channel_token": _token_hash(token)}, _without_tokens())
        return _connection(doc) if doc else None

    async def prepare_channel(self, connection_id: str, token: str) -> None:
        """Remember the callback URL's token (hashed) before Cronofy can call it."""
        await self._collection.update_one(
            {"_id": ObjectId(connection_id)}, {"$set": {"channel_token": _token_hash(token)}}
        )

    async def channel_open(self, connection_id: str, channel_id: str, *, now: datetime) -> None:
        """Changes are followed from now on: that is a successful sync (the first, after a link)."""
        await self._collection.update_one(
            {"_id": ObjectId(connection_id)}, {"$set": {"channel_id": channel_id, "last_synced_at": now}}
        )

    async def note_changes(
        self, connection_id: str, *, since: datetime | None, now: datetime, reason: ReadReason = ReadReason.PUSH
    ) -> None:
        """Calendar changes wait to be read: a push, or a missing channel (`reason`)."""
        update: dict[str, Any] = {
            "$set": {"sync_due_at": now, "sync_reason": reason.value},
            "$inc": {"sync_requests": 1},
        }
        if since is not None:
            update["$min"] = {"changes_since": since}
        await self._collection.update_one({"_id": ObjectId(connection_id)}, update)

    async def follow(self, connection_ids: Sequence[str], *, reconcile_at: datetime) -> None:
        """These calendars now hold an event of ours: reconcile them from `reconcile_at` on, unless they are
        already being reconciled (their schedule stays: no burst when many meetings land at once)."""
        await self._collection.update_many(
            {"_id": {"$in": [ObjectId(i) for i in connection_ids]}, "reconcile_at": None},
            {"$set": {"reconcile_at": reconcile_at}},
        )

    async def followed(self) -> int:
        """How many connections are being reconciled: they hold something of ours that has not ended (one that
        needs relinking is not followed until its copies are written again)."""
        return int(await self._collection.count_documents({"reconcile_at": {"$gte": EPOCH}}))

    async def overdue_for_reconciliation(self, *, now: datetime) -> int:
        """How many connections' reconciliation time has come without a read made due yet (the backlog)."""
        return int(await self._collection.count_documents(_reconciliation_due(now)))

    async def due_for_reconciliation(self, *, now: datetime, limit: int) -> int:
        """Make a read due for up to `limit` ACTIVE connections whose reconciliation time has come, the most
        overdue first (and that have no read due already: a push's is more urgent)."""
        if limit < 1:
            return 0
        due = _reconciliation_due(now)
        cursor = self._collection.find(due, {"_id": 1}).sort("reconcile_at", 1).limit(limit)
        ids = [doc["_id"] async for doc in cursor]
        if not ids:
            return 0
        result: UpdateResult = await self._collection.update_many(
            {"_id": {"$in": ids}, **due},
            {"$set": {"sync_due_at": now, "sync_reason": ReadReason.RECONCILE.value}, "$inc": {"sync_requests": 1}},
        )
        return result.modified_count

    async def claim_sync(
        self, *, owner: str, now: datetime, until: datetime, connection_id: str | None = None
    ) -> tuple[CalendarConnection, ChangeReading] | None:
        """Lease one connection whose calendar changes are due; also returns the sync bookkeeping."""
        query: dict[str, Any] = {
            "sync_due_at": {"$lte": now},
            "status": ConnectionStatus.ACTIVE.value,
            "$or": [{"sync_lease_until": None}, {"sync_lease_until": {"$lte": now}}],
        }
        if connection_id is not None:
            query["_id"] = ObjectId(connection_id)
        doc = await self._collection.find_one_and_update(
            query,
            {"$set": {"sync_lease_owner": owner, "sync_lease_until": until}},
            sort=[("sync_due_at", 1)],
            projection=_without_tokens(),
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return None
        reading = ChangeReading(
            channel_id=doc.get("channel_id"),
            changes_since=as_utc(doc.get("changes_since")),
            requests_seen=doc.get("sync_requests", 0),
            reason=ReadReason(doc.get("sync_reason") or ReadReason.PUSH.value),
        )
        return _connection(doc), reading

    async def finish_sync(
        self,
        connection_id: str,
        *,
        owner: str,
        requests_seen: int,
        synced_at: datetime | None,
        retry_at: datetime | None,
        reconcile_at: datetime | None = None,
    ) -> bool:
        """Give the lease back; False when more changes were noted meanwhile (then it stays due). After a
        successful read, the next reconciliation is `reconcile_at` (None: none, nothing of ours is upcoming)."""
        done: dict[str, Any] = {"sync_lease_owner": None, "sync_lease_until": None}
        if synced_at is not None:
            done["last_synced_at"] = synced_at
            done["reconcile_at"] = reconcile_at
        update: dict[str, Any] = {"$set": {**done, "sync_due_at": retry_at}}
        if synced_at is not None:  # unset, not null: $min treats null as lower than any date
            update["$unset"] = {"changes_since": ""}
        result: UpdateResult = await self._collection.update_one(
            {"_id": ObjectId(connection_id), "sync_lease_owner": owner, "sync_requests": requests_seen}, update
        )
        if result.matched_count == 0:
            await self._collection.update_one(
                {"_id": ObjectId(connection_id), "sync_lease_owner": owner}, {"$set": done}
            )
        return result.matched_count == 1

    async def refresh_token_of(self, connection_id: str) -> Secret | None:
        """The stored refresh token; None when it cannot be decrypted any more (its key is gone)."""
        doc = await self._collection.find_one({"_id": ObjectId(connection_id)}, {"refresh_token": 1})
        return self._refresh_token(doc) if doc else None

    async def refresh_token_of_account(self, user_id: str, sub: str) -> Secret | None:
        doc = await self._collection.find_one({"user_id": user_id, "sub": sub}, {"refresh_token": 1})
        return self._refresh_token(doc) if doc else None

    def _refresh_token(self, doc: dict[str, Any]) -> Secret | None:
        try:
            return self._vault.decrypt(
                doc["refresh_token"], collection=CONNECTIONS, doc_id=doc["_id"], field="refresh_token"
            )
        except DecryptionError:
            log.error("connection %s: refresh token cannot be decrypted; revoking by account instead", doc["_id"])
            return None

    async def delete_for_user(self, user_id: str, connection_id: str) -> bool:
        oid = object_id(connection_id)
        if oid is None:
            return False
        result: DeleteResult = await self._collection.delete_one({"_id": oid, "user_id": user_id})
        return result.deleted_count == 1

    async def held_since(self, user_id: str) -> dict[str, datetime | None]:
        """When each connection's current credential was stored (exports say so instead of showing it)."""
        cursor = self._collection.find({"user_id": user_id}, {"granted_at": 1})
        return {str(doc["_id"]): as_utc(doc.get("granted_at")) async for doc in cursor}

    async def rotate_keys(self, *, batch_size: int) -> tuple[int, int]:
        """Re-encrypt one batch of credentials still under an older key: (found, rewritten). Each write
        only lands if the document still holds what was read, so a refresh racing it wins (and writes
        under the new key anyway)."""
        active = self._vault.active_kid
        cursor = self._collection.find(
            {"$or": [{"access_token.kid": {"$ne": active}}, {"refresh_token.kid": {"$ne": active}}]},
            {"access_token": 1, "refresh_token": 1, "access_token_expires_at": 1},
        ).limit(batch_size)
        seen = rotated = 0
        async for doc in cursor:
            seen += 1
            credential = self._credential(doc)
            result = await self._collection.update_one(
                {"_id": doc["_id"], "access_token": doc["access_token"], "refresh_token": doc["refresh_token"]},
                {"$set": self._encrypted(doc["_id"], credential)},
            )
            rotated += result.modified_count
        return seen, rotated

    def _encrypted(self, doc_id: ObjectId, credential: Credential) -> dict[str, Any]:
        return {
            "access_token": self._vault.encrypt(
                credential.access_token, collection=CONNECTIONS, doc_id=doc_id, field="access_token"
            ),
            "refresh_token": self._vault.encrypt(
                credential.refresh_token, collection=CONNECTIONS, doc_id=doc_id, field="refresh_token"
            ),
            "access_token_expires_at": credential.access_token_expires_at,
        }

    def _credential(self, doc: dict[str, Any]) -> Credential:
        return Credential(
            access_token=self._vault.decrypt(
                doc["access_token"], collection=CONNECTIONS, doc_id=doc["_id"], field="access_token"
            ),
            refresh_token=self._vault.decrypt(
                doc["refresh_token"], collection=CONNECTIONS, doc_id=doc["_id"], field="refresh_token"
            ),
            access_token_expires_at=as_utc(doc["access_token_expires_at"]),
        )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _calendar_doc(calendar: TargetCalendar | None) -> dict[str, Any] | None:
    if calendar is None:
        return None
    return {"id": calendar.id, "name": calendar.name, "primary": calendar.primary}


def _connection(doc: dict[str, Any]) -> CalendarConnection:
    calendar = doc.get("calendar")
    return CalendarConnection(
        id=str(doc["_id"]),
        user_id=doc["user_id"],
        sub=doc["sub"],
        provider=CalendarProvider[doc.get("provider", "OTHER")],
        profile_name=doc.get("profile_name") or "",
        status=ConnectionStatus(doc.get("status", ConnectionStatus.ACTIVE.value)),
        scopes=tuple(doc.get("scopes") or ()),
        calendar=TargetCalendar(calendar["id"], calendar["name"], calendar["primary"]) if calendar else None,
        data_center=doc.get("data_center", "us"),
        linked_at=as_utc(doc["linked_at"]),
        last_synced_at=as_utc(doc.get("last_synced_at")),
        channel_id=doc.get("channel_id"),
    )
