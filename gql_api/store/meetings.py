"""Meetings, each one document: the meeting, its participants, its calendar copies and their outbox.

The outbox is the copies' sync state relative to the meeting's `version`, plus `sync_due_at` (when a
worker should next look) and a lease (`lease_owner`, `lease_until`). A mutation writes the meeting
and its pending work in one atomic document write; a worker that claims the lease is the only one
acting on that meeting's calendars, so the operations of one meeting apply in order.

`over_at` (the meeting's end, or its cancellation if earlier) is kept on every write that can change it: the
retention TTL index counts from it (store/retention.py).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError
from pymongo.results import UpdateResult

from ..domain.meetings import (
    CalendarCopy,
    Delivery,
    Meeting,
    MeetingParticipant,
    MeetingStatus,
    ParticipantResponse,
)
from .mongo import MEETINGS, as_utc, object_id

EMAIL_MATCHES = 50  # addresses one query looks for at most


def _visible() -> dict[str, int]:
    """A projection without the idempotency key (fresh each time: some drivers mutate it)."""
    return {"idempotency": 0}


class MeetingStore:
    def __init__(self, database: Any) -> None:
        self._collection = database[MEETINGS]

    async def has_upcoming_on(self, connection_id: str, *, now: datetime) -> bool:
        """Whether a calendar holds a copy of a scheduled meeting that has not ended: only then can a read of
        it find anything of ours (index `copies_by_connection_end`)."""
        found = await self._collection.find_one(
            {"copies.connection_id": connection_id, "end": {"$gt": now}, "status": MeetingStatus.SCHEDULED.value},
            {"_id": 1},
        )
        return found is not None

    def new_id(self) -> str:
        return str(ObjectId())

    async def insert(self, meeting: Meeting, *, idempotency_key: str | None, now: datetime) -> Meeting | None:
        """Store a new meeting with its pending work; None when the idempotency key was used before."""
        document = _document(meeting)
        document["sync_due_at"] = now if meeting.copies else None
        if idempotency_key is not None:
            document["idempotency"] = _idempotency(meeting.organizer_id, idempotency_key)
        try:
            await self._collection.insert_one(document)
        except DuplicateKeyError:
            if idempotency_key is None:
                raise
            return None
        return meeting

    async def by_idempotency_key(self, organizer_id: str, key: str) -> Meeting | None:
        doc = await self._collection.find_one({"idempotency": _idempotency(organizer_id, key)}, _visible())
        return _meeting(doc) if doc else None

    async def for_participant(self, user_id: str, meeting_id: str) -> Meeting | None:
        oid = object_id(meeting_id)
        doc = await self._collection.find_one({"_id": oid, "participant_ids": user_id}, _visible()) if oid else None
        return _meeting(doc) if doc else None

    async def for_participant_many(self, user_id: str, meeting_ids: Sequence[str]) -> list[Meeting]:
        """Those of the meetings that `user_id` takes part in, in no particular order (one query)."""
        oids = [oid for oid in map(object_id, meeting_ids) if oid is not None]
        if not oids:
            return []
        cursor = self._collection.find({"_id": {"$in": oids}, "participant_ids": user_id}, _visible())
        return [_meeting(doc) async for doc in cursor]

    async def get(self, meeting_id: str) -> Meeting | None:
        oid = object_id(meeting_id)
        doc = await self._collection.find_one({"_id": oid}, _visible()) if oid else None
        return _meeting(doc) if doc else None

    async def change(self, meeting: Meeting, fields: dict[str, Any], *, now: datetime) -> Meeting | None:
        """Apply `fields` to the scheduled meeting as read, as a new version due for sync; None when it
        changed meanwhile (the caller decides again on a fresher read)."""
        query: dict[str, Any] = {
            "_id": ObjectId(meeting.id),
            "version": meeting.version,
            "status": MeetingStatus.SCHEDULED.value,
        }
        over = {"over_at": dataclasses.replace(meeting, **fields).over_at}
        doc = await self._collection.find_one_and_update(
            query,
            {"$set": {**_stored(fields), **over, "updated_at": now, "sync_due_at": now}, "$inc": {"version": 1}},
            projection=_visible(),
            return_document=ReturnDocument.AFTER,
        )
        return _meeting(doc) if doc else None

    async def page_for_participant(
        self,
        user_id: str,
        *,
        limit: int,
        after: tuple[datetime, str] | None,
        status: MeetingStatus | None,
        ends_from: datetime | None,
        starts_before: datetime | None,
    ) -> list[Meeting]:
        """Keyset page ordered by (start, id): index `participant_start`, no skip."""
        query: dict[str, Any] = {"participant_ids": user_id}
        if status is not None:
            query["status"] = status.value
        if ends_from is not None:
            query["end"] = {"$gte": ends_from}
        if starts_before is not None:
            query["start"] = {"$lt": starts_before}
        if after is not None:
            start, raw_id = after
            oid = ObjectId(raw_id)  # the service decoded and checked the cursor
            keyset = {"$or": [{"start": {"$gt": start}}, {"start": start, "_id": {"$gt": oid}}]}
            query = {"$and": [query, keyset]}
        cursor = self._collection.find(query, _visible()).sort([("start", 1), ("_id", 1)]).limit(limit)
        return [_meeting(doc) async for doc in cursor]

    # --- changes that come from the calendars -----------------------------------------------

    async def take_calendar_change(
        self, meeting: Meeting, *, copy_index: int, fields: dict[str, Any], changed_at: datetime, now: datetime
    ) -> bool:
        """A participant moved or edited their copy: the meeting follows, as a new version. The changed copy
        already carries it when it was up to date before (no echo back to it); a copy that had not received
        our last change yet stays pending, so that change still reaches it. False if the meeting changed
        meanwhile."""
        carried = meeting.copies[copy_index].synced_version >= meeting.version
        return await self._follow_calendar(meeting, copy_index, fields, changed_at=changed_at, now=now, carried=carried)

    async def cancel_from_calendar(self, meeting: Meeting, *, copy_index: int, now: datetime) -> bool:
        """The host event was deleted in its calendar: the meeting is cancelled for everyone (and that copy,
        gone already, needs no delete)."""
        cancel = {"status": MeetingStatus.CANCELLED, "cancelled_at": now}
        return await self._follow_calendar(meeting, copy_index, cancel, changed_at=now, now=now, carried=True)

    async def _follow_calendar(
        self,
        meeting: Meeting,
        copy_index: int,
        fields: dict[str, Any],
        *,
        changed_at: datetime,
        now: datetime,
        carried: bool,
    ) -> bool:
        copy_state = (
            {f"copies.{copy_index}.synced_version": meeting.version + 1, f"copies.{copy_index}.synced_at": now}
            if carried
            else {}
        )
        over = {"over_at": dataclasses.replace(meeting, **fields).over_at}
        result: UpdateResult = await self._collection.update_one(
            {"_id": ObjectId(meeting.id), "version": meeting.version},
            {
                "$set": {**_stored(fields), **over, "updated_at": changed_at, "sync_due_at": now, **copy_state},
                "$inc": {"version": 1},
            },
        )
        return result.modified_count == 1

    async def copy_removed(self, meeting: Meeting, *, copy_index: int, decliners: Sequence[int]) -> bool:
        """A participant deleted their own copy: they declined, and that copy is left alone."""
        fields = {f"participants.{i}.response": ParticipantResponse.DECLINED.value for i in decliners}
        result: UpdateResult = await self._collection.update_one(
            {"_id": ObjectId(meeting.id), "version": meeting.version},
            {"$set": {**fields, f"copies.{copy_index}.removed": True}},
        )
        return result.modified_count == 1

    async def save_answer(self, before: Meeting, after: Meeting, *, now: datetime) -> bool:
        """A participant's answer: their response and the copies it touches, as the next version; False
        when the meeting changed meanwhile. `updated_at` stays: an answer does not change the meeting."""
        document = _document(after)
        result: UpdateResult = await self._collection.update_one(
            {"_id": ObjectId(before.id), "version": before.version},
            {
                "$set": {
                    "participants": document["participants"],
                    "copies": document["copies"],
                    "version": after.version,
                    "sync_due_at": after.next_due(now),
                }
            },
        )
        return result.modified_count == 1

    async def set_responses(self, meeting: Meeting, responses: dict[int, ParticipantResponse]) -> None:
        await self._collection.update_one(
            {"_id": ObjectId(meeting.id)},
            {"$set": {f"participants.{i}.response": response.value for i, response in responses.items()}},
        )

    async def fail_copies_on(self, connection_id: str, *, reason: str, now: datetime) -> int:
        """The calendar needs relinking: its copies of scheduled meetings show FAILED with `reason` until the
        account is linked again (which makes them due once more, see retry_failed_on)."""
        query = {"copies.connection_id": connection_id, "status": MeetingStatus.SCHEDULED.value}
        return await self._each_next_version(query, lambda meeting: meeting.failed_on(connection_id, reason), now)

    # --- a person's meetings: exporting and erasing them (services/privacy.py) ----------------

    async def of_person(self, user_id: str, addresses: Sequence[str] = ()) -> list[Meeting]:
        """Every meeting with a seat of the user: by user id, or without one at one of `addresses` (any
        letter case), by start."""
        clauses: list[dict[str, Any]] = [{"participant_ids": user_id}]
        if addresses:
            matches = [re.compile(f"^{re.escape(a)}$", re.IGNORECASE) for a in sorted(addresses)[:EMAIL_MATCHES]]
            clauses.append({"participants": {"$elemMatch": {"user_id": None, "email": {"$in": matches}}}})
        cursor = self._collection.find({"$or": clauses}, _visible()).sort([("start", 1), ("_id", 1)])
        return [_meeting(doc) async for doc in cursor]

    async def with_copies_on(self, connection_ids: Sequence[str]) -> list[Meeting]:
        cursor = self._collection.find({"copies.connection_id": {"$in": list(connection_ids)}}, _visible())
        return [_meeting(doc) async for doc in cursor.sort([("start", 1), ("_id", 1)])]

    async def save_erased(self, before: Meeting, after: Meeting, *, now: datetime) -> bool:
        """`after` (an erasure's next version of `before`) in one write; False when the meeting changed
        meanwhile. What it may change: the people, the copies, the status and the text. A meeting that lost
        its organizer loses its idempotency key too (it was theirs)."""
        document = _document(after)
        fields = (
            "organizer_id", "participant_ids", "participants", "copies", "status", "cancelled_at", "over_at",
            "title", "description", "location", "updated_at", "version",
        )  # fmt: skip
        update: dict[str, Any] = {
            "$set": {**{name: document[name] for name in fields}, "sync_due_at": after.next_due(now)}
        }
        if after.organizer_id != before.organizer_id:
            update["$unset"] = {"idempotency": ""}
        result: UpdateResult = await self._collection.update_one(
            {"_id": ObjectId(before.id), "version": before.version}, update
        )
        return result.modified_count == 1

    async def forget_idempotency_keys(self, organizer_id: str) -> int:
        """The organizer's idempotency keys (kept as hashes of the organizer and the key) go."""
        result: UpdateResult = await self._collection.update_many(
            {"participant_ids": organizer_id, "organizer_id": organizer_id, "idempotency": {"$exists": True}},
            {"$unset": {"idempotency": ""}},
        )
        return result.modified_count

    # --- the outbox, for the worker ------------------------------------------------------

    async def retry_failed_on(self, connection_id: str, *, now: datetime) -> int:
        """Make copies that failed on this connection due again (it was just linked again). A new version is
        what makes them pending; it also survives a worker releasing the meeting meanwhile."""
        query = {"copies.connection_id": connection_id}
        return await self._each_next_version(query, lambda meeting: meeting.retried_on(connection_id), now)

    async def _each_next_version(
        self, query: dict[str, Any], step: Callable[[Meeting], Meeting | None], now: datetime
    ) -> int:
        """Store `step`'s next version of each matching meeting (its copies only: the other copies keep their
        state, so they are not written again), each guarded by the version it was computed on."""
        changed = 0
        async for doc in self._collection.find(query, _visible()):
            meeting = _meeting(doc)
            after = step(meeting)
            if after is None:
                continue
            result: UpdateResult = await self._collection.update_one(
                {"_id": doc["_id"], "version": meeting.version},
                {
                    "$set": {
                        "copies": [_copy_document(c) for c in after.copies],
                        "version": after.version,
                        "sync_due_at": after.next_due(now),
                    }
                },
            )
            changed += result.modified_count
        return changed

    async def claim(
        self, *, owner: str, now: datetime, until: datetime, meeting_id: str | None = None
    ) -> Meeting | None:
        """Lease the most overdue meeting with calendar work (or that one meeting) to `owner`."""
        query: dict[str, Any] = {
            "sync_due_at": {"$lte": now},
            "$or": [{"lease_until": None}, {"lease_until": {"$lte": now}}],
        }
        if meeting_id is not None:
            query["_id"] = ObjectId(meeting_id)
        doc = await self._collection.find_one_and_update(
            query,
            {"$set": {"lease_owner": owner, "lease_until": until}},
            sort=[("sync_due_at", 1)],
            projection=_visible(),
            return_document=ReturnDocument.AFTER,
        )
        return _meeting(doc) if doc else None

    async def release_all(self, *, owner: str, now: datetime) -> int:
        """On shutdown: hand back every lease `owner` holds, due at once, so another worker goes on."""
        result: UpdateResult = await self._collection.update_many(
            {"lease_owner": owner}, {"$set": {"lease_owner": None, "lease_until": None, "sync_due_at": now}}
        )
        return result.modified_count

    async def outbox_stats(self) -> tuple[int, datetime | None]:
        """How many meetings have calendar work waiting, and since when the oldest has been due."""
        depth = await self._collection.count_documents({"sync_due_at": {"$ne": None}})
        oldest = await self._collection.find_one(
            {"sync_due_at": {"$ne": None}}, {"sync_due_at": 1}, sort=[("sync_due_at", 1)]
        )
        return depth, as_utc(oldest["sync_due_at"]) if oldest else None

    async def finish(
        self,
        meeting_id: str,
        copies: dict[int, CalendarCopy],
        *,
        owner: str,
        seen_version: int,
        next_due: datetime | None,
        now: datetime,
    ) -> bool:
        """Store the copies' outcomes and give the lease back, in one write. If the meeting changed
        meanwhile, its new version is due at once. False when `owner` had lost the lease."""
        # Only the sync state: `removed` may have been set meanwhile by a read of the calendars.
        fields = {
            f"copies.{i}.{key}": value
            for i, copy in copies.items()
            for key, value in _copy_document(copy).items()
            if key in SYNC_STATE
        }
        # A withdrawn copy now deleted is removed for good, but only on the version it was written for: an
        # answer meanwhile may have brought it back.
        removed = {f"copies.{i}.removed": True for i, copy in copies.items() if copy.removed}
        free = {"lease_owner": None, "lease_until": None}
        oid = ObjectId(meeting_id)
        result: UpdateResult = await self._collection.update_one(
            {"_id": oid, "lease_owner": owner, "version": seen_version},
            {"$set": {**fields, **removed, **free, "sync_due_at": next_due}},
        )
        if result.matched_count == 0:
            result = await self._collection.update_one(
                {"_id": oid, "lease_owner": owner}, {"$set": {**fields, **free, "sync_due_at": now}}
            )
        return result.matched_count == 1


def _stored(fields: dict[str, Any]) -> dict[str, Any]:
    """Meeting fields as documents hold them: enums by value."""
    return {name: value.value if isinstance(value, enum.Enum) else value for name, value in fields.items()}


def _idempotency(organizer_id: str, key: str) -> str:
    """One organizer's key, as a hash of both, each prefixed by its length: no choice of user id and key
    can spell another user's pair (a separator could be part of either), and the key itself is not kept."""
    framed = b"".join(len(part).to_bytes(4, "big") + part for part in (organizer_id.encode(), key.encode()))
    return hashlib.sha256(framed).hexdigest()


SYNC_STATE = frozenset(
    {
        "synced_version",
        "synced_at",
        "attempt_version",
        "attempts",
        "next_attempt_at",
        "failed_version",
        "last_error",
        "written",
        "written_fields",
        "written_event",
        "sent",
    }
)


def _copy_document(copy: CalendarCopy) -> dict[str, Any]:
    return dataclasses.asdict(copy)


def _document(meeting: Meeting) -> dict[str, Any]:
    return {
        "_id": ObjectId(meeting.id),
        "organizer_id": meeting.organizer_id,
        "participant_ids": sorted({p.user_id for p in meeting.participants if p.user_id}),
        "title": meeting.title,
        "description": meeting.description,
        "location": meeting.location,
        "start": meeting.start,
        "end": meeting.end,
        "time_zone": meeting.time_zone,
        "status": meeting.status.value,
        "participants": [
            {
                "user_id": p.user_id,
                "email": p.email,
                "display_name": p.display_name,
                "is_organizer": p.is_organizer,
                "response": p.response.value,
                "delivery": p.delivery.value,
                "copy": p.copy,
                "uninvited": p.uninvited,
                "erased": p.erased,
            }
            for p in meeting.participants
        ],
        "copies": [_copy_document(copy) for copy in meeting.copies],
        "version": meeting.version,
        "created_at": meeting.created_at,
        "updated_at": meeting.updated_at,
        "cancelled_at": meeting.cancelled_at,
        "over_at": meeting.over_at,
        "lease_owner": None,
        "lease_until": None,
    }


def _meeting(doc: dict[str, Any]) -> Meeting:
    return Meeting(
        id=str(doc["_id"]),
        organizer_id=doc["organizer_id"],
        title=doc["title"],
        description=doc.get("description"),
        location=doc.get("location"),
        start=as_utc(doc["start"]),
        end=as_utc(doc["end"]),
        time_zone=doc["time_zone"],
        status=MeetingStatus(doc["status"]),
        participants=tuple(
            MeetingParticipant(
                email=p["email"],
                user_id=p.get("user_id"),
                display_name=p.get("display_name"),
                is_organizer=p.get("is_organizer", False),
                response=ParticipantResponse(p.get("response", "NEEDS_ACTION")),
                delivery=Delivery(p.get("delivery", "NONE")),
                copy=p.get("copy"),
                uninvited=p.get("uninvited", False),
                erased=p.get("erased", False),
            )
            for p in doc["participants"]
        ),
        copies=tuple(
            CalendarCopy(
                **{
                    **c,
                    "synced_at": as_utc(c.get("synced_at")),
                    "next_attempt_at": as_utc(c.get("next_attempt_at")),
                    "written_fields": tuple(c["written_fields"]) if c.get("written_fields") else None,
                }
            )
            for c in doc.get("copies", [])
        ),
        version=doc["version"],
        created_at=as_utc(doc["created_at"]),
        updated_at=as_utc(doc["updated_at"]),
        cancelled_at=as_utc(doc.get("cancelled_at")),
    )
