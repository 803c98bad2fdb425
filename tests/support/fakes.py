"""In-memory fakes of every port in `gql_api/services/ports.py`, and `services(...)`, which wires the real
services over them the way `gql_api.bootstrap.build_services` does.

The repository fakes copy the MongoDB store's semantics (`gql_api/store/`) simply: dicts of domain objects,
copied on the way in and out so a test cannot change stored state by accident. The same version checks,
leases, claims and idempotency rules hold; `tests/contract/test_fakes_match_store.py` runs the same
scenarios against a fake and the real store, and where they disagree the fake is wrong.

Nothing here opens a socket or a database: a whole service test runs in about a millisecond.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import dataclasses
import enum
import itertools
import secrets
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

from gql_api.bootstrap import Repositories, build_services
from gql_api.cronofy.errors import InvalidGrant
from gql_api.cronofy.models import CalendarEvent, CronofyCalendar, LinkingProfile, ManagedEvent, TokenGrant
from gql_api.domain.changes import Change
from gql_api.domain.connections import (
    CalendarConnection,
    CalendarProvider,
    ChangeReading,
    ConnectionStatus,
    Credential,
    LinkState,
    PendingRevocation,
    ReadReason,
    TargetCalendar,
)
from gql_api.domain.erasure import Erasure, ErasureCounts, ErasureStatus
from gql_api.domain.errors import CredentialUnreadable
from gql_api.domain.identity import User
from gql_api.domain.meetings import (
    CalendarCopy,
    Meeting,
    MeetingParticipant,
    MeetingStatus,
    ParticipantResponse,
    SyncStatus,
)
from gql_api.domain.planning import calendars_to_write
from gql_api.domain.secrets import Secret
from gql_api.domain.user_data import OwedRevocation as RevocationOwed
from gql_api.domain.validation import MeetingRequest, ParticipantRequest
from gql_api.services import (
    CalendarAccess,
    CalendarChanges,
    CalendarWrites,
    Erasures,
    Exports,
    Linking,
    LiveUpdates,
    Meetings,
    PushChannels,
    Retention,
    Revocations,
    Services,
)
from gql_api.settings import Settings
from tests.support.api import CLIENT_ID, CLIENT_SECRET, JWT_SECRET, KEYS, REDIRECT_URI

T = TypeVar("T")

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)  # a Monday morning, a week before the meetings below
PUBLIC_BASE_URL = "https://api.mentoring.example.test"
CALLBACK_BASE = PUBLIC_BASE_URL + "/webhooks/cronofy/"
OWNER = "this-process"
# Settings as in production (the services read a few of them): real client auth, Cronofy and keys.
PRODUCTION_SHAPE: dict[str, Any] = {
    "public_base_url": PUBLIC_BASE_URL,
    "allowed_redirect_uris": (REDIRECT_URI,),
    "auth_jwt_secret": JWT_SECRET,
    "cronofy_client_id": CLIENT_ID,
    "cronofy_client_secret": CLIENT_SECRET,
    "token_encryption_keys": KEYS,
}

# The copy fields `finish` writes (store.meetings.SYNC_STATE): `removed` may have been set meanwhile by a
# read of the calendars and is left alone. The contract test checks both sets are the same.
SYNC_STATE = frozenset(
    {"synced_version", "synced_at", "attempt_version", "attempts", "next_attempt_at", "failed_version", "last_error"}
    | {"written", "written_fields", "written_event", "sent"}
)

_serial = itertools.count(1)


def new_object_id() -> str:
    """24 hex digits like an ObjectId, increasing, so (start, id) keysets order as they do in MongoDB."""
    return f"{next(_serial):024x}"


def copied(value: T) -> T:
    """A deep copy that keeps immutable leaves (Secret refuses to be pickled, so copy.deepcopy fails on it)."""
    if value is None or isinstance(value, (str, int, float, bool, datetime, timedelta, enum.Enum, Secret)):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(  # type: ignore[return-value]
            value, **{f.name: copied(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        )
    if isinstance(value, tuple):
        return tuple(copied(item) for item in value)  # type: ignore[return-value]
    if isinstance(value, list):
        return [copied(item) for item in value]  # type: ignore[return-value]
    if isinstance(value, dict):
        return {copied(key): copied(item) for key, item in value.items()}  # type: ignore[return-value]
    return copy.deepcopy(value)


def _lease_free(until: datetime | None, now: datetime) -> bool:
    return until is None or until <= now


# --- time ------------------------------------------------------------------------------------------------


class FakeClock:
    """The services' clock (`gql_api.domain.time.Clock`); tests move it instead of sleeping."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


# --- calendar connections: ConnectionRepository, CredentialRepository, ChangeReadRepository --------------


@dataclasses.dataclass
class _ConnectionRow:
    connection: CalendarConnection
    credential: Credential
    updated_at: datetime
    granted_at: datetime | None = None  # when the current grant was stored (save_link)
    unreadable: bool = False  # the key that encrypted the credential is gone
    relink_consequences_owed: bool = False
    refresh_lease_owner: str | None = None
    refresh_lease_until: datetime | None = None
    channel_token: str | None = None
    sync_due_at: datetime | None = None
    sync_requests: int = 0
    changes_since: datetime | None = None
    sync_lease_owner: str | None = None
    sync_lease_until: datetime | None = None
    sync_reason: ReadReason = ReadReason.PUSH
    reconcile_at: datetime | None = None  # the next reconciliation, while something of ours is upcoming there


@dataclasses.dataclass(frozen=True)
class SyncState:
    """What a connection's change reading looks like in the store (for assertions)."""

    due_at: datetime | None
    requests: int
    changes_since: datetime | None
    lease_owner: str | None
    lease_until: datetime | None


class FakeConnections:
    """The three connection ports, like `store.ConnectionStore`: one row per (user, Cronofy account)."""

    def __init__(self) -> None:
        self._rows: dict[str, _ConnectionRow] = {}

    # ConnectionRepository

    async def list_for_user(self, user_id: str) -> list[CalendarConnection]:
        rows = [row for row in self._rows.values() if row.connection.user_id == user_id]
        rows.sort(key=lambda row: (row.connection.linked_at, row.connection.id), reverse=True)
        return [copied(row.connection) for row in rows]

    async def get_for_user(self, user_id: str, connection_id: str) -> CalendarConnection | None:
        row = self._rows.get(connection_id)
        return copied(row.connection) if row and row.connection.user_id == user_id else None

    async def sub_linked_by_another_user(self, sub: str, user_id: str) -> bool:
        return any(row.connection.sub == sub and row.connection.user_id != user_id for row in self._rows.values())

    async def grants_of_account(self, sub: str) -> list[tuple[datetime | None, Secret | None]]:
        return [
            (row.granted_at, None if row.unreadable else row.credential.refresh_token)
            for row in self._rows.values()
            if row.connection.sub == sub
        ]

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
        """Create the connection, or update the user's existing one for this account in place (same id,
        first linked_at, channel and sync bookkeeping kept)."""
        row = self._row_of_account(user_id, sub)
        details = {
            "status": ConnectionStatus.ACTIVE,
            "provider": provider,
            "profile_name": profile_name,
            "scopes": tuple(scopes),
            "calendar": copied(calendar),
            "data_center": data_center,
        }
        if row is None:
            connection = CalendarConnection(
                id=new_object_id(), user_id=user_id, sub=sub, linked_at=now, last_synced_at=None, **details
            )
            row = self._rows[connection.id] = _ConnectionRow(
                connection, copied(credential), updated_at=now, granted_at=now
            )
        else:
            row.connection = dataclasses.replace(row.connection, **details)
            row.credential = copied(credential)
            row.updated_at = row.granted_at = now
            row.unreadable = False
        row.relink_consequences_owed = False
        return copied(row.connection)

    async def calendars_for_users(self, user_ids: Sequence[str]) -> dict[str, CalendarConnection]:
        rows = [row for row in self._rows.values() if row.connection.user_id in user_ids]
        rows.sort(key=lambda row: (row.connection.linked_at, row.connection.id), reverse=True)
        return calendars_to_write(copied(row.connection) for row in rows)

    async def refresh_token_of(self, connection_id: str) -> Secret | None:
        row = self._rows.get(connection_id)
        return None if row is None or row.unreadable else row.credential.refresh_token

    async def refresh_token_of_account(self, user_id: str, sub: str) -> Secret | None:
        row = self._row_of_account(user_id, sub)
        return None if row is None or row.unreadable else row.credential.refresh_token

    async def delete_for_user(self, user_id: str, connection_id: str) -> bool:
        row = self._rows.get(connection_id)
        if row is None or row.connection.user_id != user_id:
            return False
        del self._rows[connection_id]
        return True

    async def held_since(self, user_id: str) -> dict[str, datetime | None]:
        return {id_: row.granted_at for id_, row in self._rows.items() if row.connection.user_id == user_id}

    # CredentialRepository

    async def with_credential(self, connection_id: str) -> tuple[CalendarConnection, Credential] | None:
        row = self._rows.get(connection_id)
        if row is None:
            return None
        if row.unreadable:
            raise CredentialUnreadable(connection_id)
        return copied(row.connection), copied(row.credential)

    async def store_credential(self, connection_id: str, credential: Credential, *, now: datetime) -> None:
        row = self._rows.get(connection_id)
        if row is not None:
            row.credential = copied(credential)
            row.updated_at = now
            row.unreadable = False  # encrypted again, under the current key

    async def take_refresh_lease(self, connection_id: str, *, owner: str, now: datetime, until: datetime) -> bool:
        row = self._rows.get(connection_id)
        if row is None or not _lease_free(row.refresh_lease_until, now):
            return False
        row.refresh_lease_owner, row.refresh_lease_until = owner, until
        return True

    async def release_refresh_lease(self, connection_id: str, *, owner: str) -> None:
        row = self._rows.get(connection_id)
        if row is not None and row.refresh_lease_owner == owner:
            row.refresh_lease_owner = row.refresh_lease_until = None

    async def owner_of(self, connection_id: str) -> str | None:
        row = self._rows.get(connection_id)
        return row.connection.user_id if row else None

    async def mark_needs_relink(self, connection_id: str, *, now: datetime) -> bool:
        """True only for the call that turned an ACTIVE connection NEEDS_RELINK; its consequences are owed."""
        row = self._rows.get(connection_id)
        if row is None or row.connection.status is not ConnectionStatus.ACTIVE:
            return False
        row.connection = dataclasses.replace(row.connection, status=ConnectionStatus.NEEDS_RELINK)
        row.updated_at = now
        row.relink_consequences_owed = True
        row.reconcile_at = None
        return True

    async def owing_relink_consequences(self, *, limit: int) -> list[str]:
        return [id_ for id_, row in self._rows.items() if row.relink_consequences_owed][:limit]

    async def relink_consequences_done(self, connection_id: str) -> None:
        row = self._rows.get(connection_id)
        if row is not None:
            row.relink_consequences_owed = False

    # ChangeReadRepository

    async def by_channel_token(self, token: str) -> CalendarConnection | None:
        row = next((row for row in self._rows.values() if row.channel_token == token), None)
        return copied(row.connection) if row else None

    async def prepare_channel(self, connection_id: str, token: str) -> None:
        row = self._rows.get(connection_id)
        if row is not None:
            row.channel_token = token

    async def channel_open(self, connection_id: str, channel_id: str, *, now: datetime) -> None:
        """Changes are followed from now on: that is the first successful sync."""
        row = self._rows.get(connection_id)
        if row is not None:
            row.connection = dataclasses.replace(row.connection, channel_id=channel_id, last_synced_at=now)

    async def note_changes(
        self, connection_id: str, *, since: datetime | None, now: datetime, reason: ReadReason = ReadReason.PUSH
    ) -> None:
        row = self._rows.get(connection_id)
        if row is None:
            return
        row.sync_due_at = now
        row.sync_reason = reason
        row.sync_requests += 1
        if since is not None:
            row.changes_since = since if row.changes_since is None else min(row.changes_since, since)

    async def follow(self, connection_ids: Sequence[str], *, reconcile_at: datetime) -> None:
        for connection_id in connection_ids:
            row = self._rows.get(connection_id)
            if row is not None and row.reconcile_at is None:
                row.reconcile_at = reconcile_at

    async def followed(self) -> int:
        return sum(row.reconcile_at is not None for row in self._rows.values())

    def _reconciliation_due(self, now: datetime) -> list[_ConnectionRow]:
        return [
            row
            for row in self._rows.values()
            if row.connection.status is ConnectionStatus.ACTIVE
            and row.sync_due_at is None
            and row.reconcile_at is not None
            and row.reconcile_at <= now
        ]

    async def overdue_for_reconciliation(self, *, now: datetime) -> int:
        return len(self._reconciliation_due(now))

    async def due_for_reconciliation(self, *, now: datetime, limit: int) -> int:
        if limit < 1:
            return 0
        due = self._reconciliation_due(now)
        due.sort(key=lambda row: row.reconcile_at or now)
        for row in due[:limit]:
            row.sync_due_at = now
            row.sync_reason = ReadReason.RECONCILE
            row.sync_requests += 1
        return len(due[:limit])

    async def claim_sync(
        self, *, owner: str, now: datetime, until: datetime, connection_id: str | None = None
    ) -> tuple[CalendarConnection, ChangeReading] | None:
        due = [
            row
            for row in self._rows.values()
            if row.sync_due_at is not None
            and row.sync_due_at <= now
            and row.connection.status is ConnectionStatus.ACTIVE
            and _lease_free(row.sync_lease_until, now)
            and (connection_id is None or row.connection.id == connection_id)
        ]
        if not due:
            return None
        row = min(due, key=lambda row: row.sync_due_at)  # type: ignore[arg-type, return-value]
        row.sync_lease_owner, row.sync_lease_until = owner, until
        reading = ChangeReading(row.connection.channel_id, row.changes_since, row.sync_requests, row.sync_reason)
        return copied(row.connection), reading

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
        """Give the lease back; False (and still due) when more changes were noted meanwhile."""
        row = self._rows.get(connection_id)
        if row is None or row.sync_lease_owner != owner:
            return False
        row.sync_lease_owner = row.sync_lease_until = None
        if synced_at is not None:
            row.connection = dataclasses.replace(row.connection, last_synced_at=synced_at)
            row.reconcile_at = reconcile_at
        if row.sync_requests != requests_seen:
            return False
        row.sync_due_at = retry_at
        if synced_at is not None:
            row.changes_since = None
        return True

    # for tests: what the ports do not show

    def _row_of_account(self, user_id: str, sub: str) -> _ConnectionRow | None:
        return next(
            (row for row in self._rows.values() if row.connection.user_id == user_id and row.connection.sub == sub),
            None,
        )

    def all(self) -> list[CalendarConnection]:
        return [copied(row.connection) for row in self._rows.values()]

    def status_of(self, connection_id: str) -> ConnectionStatus | None:
        row = self._rows.get(connection_id)
        return row.connection.status if row else None

    def credential_of(self, connection_id: str) -> Credential | None:
        row = self._rows.get(connection_id)
        return copied(row.credential) if row else None

    def make_unreadable(self, connection_id: str) -> None:
        """As if the key that encrypted this credential had been removed from TOKEN_ENCRYPTION_KEYS."""
        self._rows[connection_id].unreadable = True

    def refresh_lease_of(self, connection_id: str) -> tuple[str | None, datetime | None]:
        row = self._rows[connection_id]
        return row.refresh_lease_owner, row.refresh_lease_until

    def relink_owed(self, connection_id: str) -> bool:
        return self._rows[connection_id].relink_consequences_owed

    def sync_of(self, connection_id: str) -> SyncState:
        row = self._rows[connection_id]
        return SyncState(
            row.sync_due_at, row.sync_requests, row.changes_since, row.sync_lease_owner, row.sync_lease_until
        )

    def channel_token_of(self, connection_id: str) -> str | None:
        return self._rows[connection_id].channel_token


# --- link states: LinkStateRepository ------------------------------------------------------------------


class FakeLinkStates:
    """Like `store.LinkStateStore`: random, bound to one user, single use (deleted when used), short-lived."""

    def __init__(self) -> None:
        self._rows: dict[str, LinkState] = {}

    async def create(
        self, *, user_id: str, redirect_uri: str, data_center: str, now: datetime, expires_at: datetime
    ) -> str:
        state = secrets.token_urlsafe(32)
        self._rows[state] = LinkState(user_id, redirect_uri, data_center, expires_at)
        return state

    async def consume(self, state: str, *, user_id: str, now: datetime) -> LinkState | None:
        """Used up (deleted) only by its owner's attempt, once, before it expires."""
        row = self._rows.get(state)
        if row is None or row.user_id != user_id or row.expires_at <= now:
            return None
        del self._rows[state]
        return copied(row)

    async def of_user(self, user_id: str) -> list[LinkState]:
        return sorted((copied(row) for row in self._rows.values() if row.user_id == user_id), key=_expiry)

    async def delete_for_user(self, user_id: str) -> int:
        mine = [state for state, row in self._rows.items() if row.user_id == user_id]
        for state in mine:
            del self._rows[state]
        return len(mine)

    def remove_expired(self, now: datetime) -> int:
        """What the TTL index on `expires_at` removes (the retention sweep)."""
        expired = [state for state, row in self._rows.items() if row.expires_at <= now]
        for state in expired:
            del self._rows[state]
        return len(expired)

    def issued(self) -> list[LinkState]:
        """The states stored (a used one is gone)."""
        return [copied(row) for row in self._rows.values()]

    def unused(self) -> list[LinkState]:
        return self.issued()


def _expiry(state: LinkState) -> datetime:
    return state.expires_at


# --- meetings and their outbox: MeetingRepository, OutboxRepository ---------------------------------------


@dataclasses.dataclass
class _MeetingRow:
    meeting: Meeting
    idempotency: tuple[str, str] | None
    sync_due_at: datetime | None
    lease_owner: str | None = None
    lease_until: datetime | None = None


class FakeMeetings:
    """Both meeting ports, like `store.MeetingStore`: one record per meeting, its copies' sync state and the
    outbox bookkeeping (when it is due, who holds its lease)."""

    def __init__(self) -> None:
        self._rows: dict[str, _MeetingRow] = {}

    # MeetingRepository

    def new_id(self) -> str:
        return new_object_id()

    async def has_upcoming_on(self, connection_id: str, *, now: datetime) -> bool:
        return any(
            row.meeting.status is MeetingStatus.SCHEDULED
            and row.meeting.end > now
            and any(c.connection_id == connection_id for c in row.meeting.copies)
            for row in self._rows.values()
        )

    async def insert(self, meeting: Meeting, *, idempotency_key: str | None, now: datetime) -> Meeting | None:
        """None when the organizer used this idempotency key before."""
        key = (meeting.organizer_id, idempotency_key) if idempotency_key is not None else None
        if key is not None and any(row.idempotency == key for row in self._rows.values()):
            return None
        if meeting.id in self._rows:
            raise ValueError(f"duplicate meeting id {meeting.id}")  # the store's DuplicateKeyError
        self._rows[meeting.id] = _MeetingRow(copied(meeting), key, sync_due_at=now if meeting.copies else None)
        return copied(meeting)

    async def by_idempotency_key(self, organizer_id: str, key: str) -> Meeting | None:
        row = next((row for row in self._rows.values() if row.idempotency == (organizer_id, key)), None)
        return copied(row.meeting) if row else None

    async def for_participant(self, user_id: str, meeting_id: str) -> Meeting | None:
        row = self._rows.get(meeting_id)
        return copied(row.meeting) if row and _takes_part(row.meeting, user_id) else None

    async def for_participant_many(self, user_id: str, meeting_ids: Sequence[str]) -> list[Meeting]:
        return [m for m in [await self.for_participant(user_id, i) for i in dict.fromkeys(meeting_ids)] if m]

    async def get(self, meeting_id: str) -> Meeting | None:
        row = self._rows.get(meeting_id)
        return copied(row.meeting) if row else None

    async def change(self, meeting: Meeting, fields: dict[str, Any], *, now: datetime) -> Meeting | None:
        """A new version of the scheduled meeting as read, due for sync; None when it changed meanwhile."""
        row = self._rows.get(meeting.id)
        if row is None or row.meeting.status is not MeetingStatus.SCHEDULED or row.meeting.version != meeting.version:
            return None
        row.meeting = dataclasses.replace(
            row.meeting, **copied(fields), updated_at=now, version=row.meeting.version + 1
        )
        row.sync_due_at = now
        return copied(row.meeting)

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
        found = [
            row.meeting
            for row in self._rows.values()
            if _takes_part(row.meeting, user_id)
            and (status is None or row.meeting.status is status)
            and (ends_from is None or row.meeting.end >= ends_from)
            and (starts_before is None or row.meeting.start < starts_before)
            and (after is None or (row.meeting.start, row.meeting.id) > after)
        ]
        found.sort(key=lambda meeting: (meeting.start, meeting.id))
        return [copied(meeting) for meeting in found[:limit]]

    async def take_calendar_change(
        self, meeting: Meeting, *, copy_index: int, fields: dict[str, Any], changed_at: datetime, now: datetime
    ) -> bool:
        """The meeting follows a calendar's copy, as a new version; the copy carries it when it carried the
        last one (no echo), else it stays pending. False when the meeting moved past `meeting.version`."""
        carried = meeting.copies[copy_index].synced_version >= meeting.version
        return self._follow_calendar(meeting, copy_index, fields, changed_at=changed_at, now=now, carried=carried)

    async def cancel_from_calendar(self, meeting: Meeting, *, copy_index: int, now: datetime) -> bool:
        cancel = {"status": MeetingStatus.CANCELLED, "cancelled_at": now}
        return self._follow_calendar(meeting, copy_index, cancel, changed_at=now, now=now, carried=True)

    def _follow_calendar(
        self,
        meeting: Meeting,
        copy_index: int,
        fields: dict[str, Any],
        *,
        changed_at: datetime,
        now: datetime,
        carried: bool,
    ) -> bool:
        row = self._rows.get(meeting.id)
        if row is None or row.meeting.version != meeting.version:
            return False
        copies = list(row.meeting.copies)
        if carried:
            copies[copy_index] = dataclasses.replace(
                copies[copy_index], synced_version=meeting.version + 1, synced_at=now
            )
        row.meeting = dataclasses.replace(
            row.meeting, **copied(fields), copies=tuple(copies), updated_at=changed_at, version=meeting.version + 1
        )
        row.sync_due_at = now
        return True

    async def copy_removed(self, meeting: Meeting, *, copy_index: int, decliners: Sequence[int]) -> bool:
        """The copy's owners declined; the copy is left alone from now on. No new version. False when the
        meeting moved past `meeting.version`, or when nothing changed (as MongoDB's modified count says)."""
        row = self._rows.get(meeting.id)
        if row is None or row.meeting.version != meeting.version:
            return False
        participants = list(row.meeting.participants)
        for i in decliners:
            participants[i] = dataclasses.replace(participants[i], response=ParticipantResponse.DECLINED)
        copies = list(row.meeting.copies)
        copies[copy_index] = dataclasses.replace(copies[copy_index], removed=True)
        changed = dataclasses.replace(row.meeting, participants=tuple(participants), copies=tuple(copies))
        if changed == row.meeting:
            return False
        row.meeting = changed
        return True

    async def save_answer(self, before: Meeting, after: Meeting, *, now: datetime) -> bool:
        """Participants and copies of `after` as the next version; updated_at kept. False when it changed."""
        row = self._rows.get(before.id)
        if row is None or row.meeting.version != before.version:
            return False
        row.meeting = dataclasses.replace(
            row.meeting, participants=copied(after.participants), copies=copied(after.copies), version=after.version
        )
        row.sync_due_at = after.next_due(now)
        return True

    async def set_responses(self, meeting: Meeting, responses: dict[int, ParticipantResponse]) -> None:
        row = self._rows.get(meeting.id)
        if row is None:
            return
        participants = list(row.meeting.participants)
        for i, response in responses.items():
            participants[i] = dataclasses.replace(participants[i], response=response)
        row.meeting = dataclasses.replace(row.meeting, participants=tuple(participants))

    async def fail_copies_on(self, connection_id: str, *, reason: str, now: datetime) -> int:
        """Each scheduled meeting with a copy on the connection: the domain's `failed_on` next version."""
        return self._each_next_version(
            lambda m: m.status is MeetingStatus.SCHEDULED and any(c.connection_id == connection_id for c in m.copies),
            lambda m: m.failed_on(connection_id, reason),
            now,
        )

    async def retry_failed_on(self, connection_id: str, *, now: datetime) -> int:
        """Meetings whose copy on the connection FAILED: the domain's `retried_on` next version."""
        return self._each_next_version(lambda m: True, lambda m: m.retried_on(connection_id), now)

    def _each_next_version(
        self, matches: Callable[[Meeting], bool], step: Callable[[Meeting], Meeting | None], now: datetime
    ) -> int:
        changed = 0
        for row in self._rows.values():
            after = step(row.meeting) if matches(row.meeting) else None
            if after is not None:
                row.meeting = after
                row.sync_due_at = after.next_due(now)
                changed += 1
        return changed

    async def of_person(self, user_id: str, addresses: Sequence[str] = ()) -> list[Meeting]:
        """Meetings with a seat of the user: by user id, or without one at one of `addresses` (any case)."""
        wanted = {address.casefold() for address in addresses}
        found = [
            row.meeting
            for row in self._rows.values()
            if _takes_part(row.meeting, user_id)
            or any(p.user_id is None and p.email.casefold() in wanted for p in row.meeting.participants)
        ]
        return [copied(meeting) for meeting in sorted(found, key=lambda meeting: (meeting.start, meeting.id))]

    async def with_copies_on(self, connection_ids: Sequence[str]) -> list[Meeting]:
        found = [
            row.meeting
            for row in self._rows.values()
            if any(copy.connection_id in connection_ids for copy in row.meeting.copies)
        ]
        return [copied(meeting) for meeting in sorted(found, key=lambda meeting: (meeting.start, meeting.id))]

    async def save_erased(self, before: Meeting, after: Meeting, *, now: datetime) -> bool:
        row = self._rows.get(before.id)
        if row is None or row.meeting.version != before.version:
            return False
        if after.organizer_id != row.meeting.organizer_id:
            row.idempotency = None
        row.meeting = copied(after)
        row.sync_due_at = after.next_due(now)
        return True

    async def forget_idempotency_keys(self, organizer_id: str) -> int:
        forgotten = 0
        for row in self._rows.values():
            if row.idempotency is not None and row.meeting.organizer_id == organizer_id:
                row.idempotency = None
                forgotten += 1
        return forgotten

    def remove_over(self, before: datetime) -> int:
        """Meetings over (ended, or cancelled) at or before `before`: what the retention TTL index removes."""
        over = [id_ for id_, row in self._rows.items() if row.meeting.over_at <= before]
        for id_ in over:
            del self._rows[id_]
        return len(over)

    # OutboxRepository

    async def claim(
        self, *, owner: str, now: datetime, until: datetime, meeting_id: str | None = None
    ) -> Meeting | None:
        """Lease the most overdue meeting with calendar work (or that one meeting) to `owner`."""
        due = [
            row
            for row in self._rows.values()
            if row.sync_due_at is not None
            and row.sync_due_at <= now
            and _lease_free(row.lease_until, now)
            and (meeting_id is None or row.meeting.id == meeting_id)
        ]
        if not due:
            return None
        row = min(due, key=lambda row: row.sync_due_at)  # type: ignore[arg-type, return-value]
        row.lease_owner, row.lease_until = owner, until
        return copied(row.meeting)

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
        """Store the copies' sync state and give the lease back; if the meeting changed meanwhile its new
        version is due at once. False when `owner` had lost the lease (then nothing is written)."""
        row = self._rows.get(meeting_id)
        if row is None or row.lease_owner != owner:
            return False
        stored = list(row.meeting.copies)
        same_version = row.meeting.version == seen_version
        for i, outcome in copies.items():
            stored[i] = dataclasses.replace(stored[i], **{name: getattr(outcome, name) for name in SYNC_STATE})
            if outcome.removed and same_version:  # a withdrawn copy deleted (the store's removed-on-version)
                stored[i] = dataclasses.replace(stored[i], removed=True)
        row.sync_due_at = next_due if row.meeting.version == seen_version else now
        row.meeting = dataclasses.replace(row.meeting, copies=tuple(stored))
        row.lease_owner = row.lease_until = None
        return True

    async def outbox_stats(self) -> tuple[int, datetime | None]:
        due = [row.sync_due_at for row in self._rows.values() if row.sync_due_at is not None]
        return len(due), min(due, default=None)

    # for tests: what the ports do not show

    def all(self) -> list[Meeting]:
        return [copied(row.meeting) for row in self._rows.values()]

    def idempotency_keys(self) -> list[tuple[str, str]]:
        return [row.idempotency for row in self._rows.values() if row.idempotency is not None]

    def due_at(self, meeting_id: str) -> datetime | None:
        return self._rows[meeting_id].sync_due_at

    def lease_of(self, meeting_id: str) -> tuple[str | None, datetime | None]:
        row = self._rows[meeting_id]
        return row.lease_owner, row.lease_until


def _takes_part(meeting: Meeting, user_id: str) -> bool:
    return any(p.user_id == user_id for p in meeting.participants)


# --- revocations owed to Cronofy: RevocationRepository ----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class OwedRevocation:
    """A revocation as the store keeps it (for assertions)."""

    id: str
    refresh_token: Secret | None
    sub: str | None
    data_center: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None = None
    subject: str | None = None


class FakeRevocations:
    """Like `store.RevocationStore`: added already claimed by the caller; due once its lease or backoff ends."""

    def __init__(self) -> None:
        self._rows: dict[str, OwedRevocation] = {}

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
        owed = OwedRevocation(new_object_id(), refresh_token, sub, data_center, 1, now, lease_until, subject=subject)
        self._rows[owed.id] = owed
        return PendingRevocation(owed.id, refresh_token, sub, data_center, attempts=1, owed_at=now)

    async def claim_due(self, *, now: datetime, lease_until: datetime) -> PendingRevocation | None:
        due = [row for row in self._rows.values() if row.next_attempt_at <= now]
        if not due:
            return None
        row = min(due, key=lambda row: row.next_attempt_at)
        row = self._rows[row.id] = dataclasses.replace(row, next_attempt_at=lease_until, attempts=row.attempts + 1)
        return PendingRevocation(row.id, row.refresh_token, row.sub, row.data_center, row.attempts, row.created_at)

    async def done(self, revocation: PendingRevocation) -> None:
        self._rows.pop(revocation.id, None)

    async def retry_later(self, revocation: PendingRevocation, *, at: datetime, error: str) -> None:
        row = self._rows.get(revocation.id)
        if row is not None:
            self._rows[row.id] = dataclasses.replace(row, next_attempt_at=at, last_error=error)

    async def owed_by(self, subject: str) -> list[RevocationOwed]:
        rows = sorted((row for row in self._rows.values() if row.subject == subject), key=lambda row: row.created_at)
        return [RevocationOwed(row.created_at, row.attempts, row.next_attempt_at, row.last_error) for row in rows]

    def pending(self) -> list[OwedRevocation]:
        return list(self._rows.values())


# --- erasure records: ErasureRepository ----------------------------------------------------------------------


@dataclasses.dataclass
class _ErasureRow:
    erasure: Erasure
    next_attempt_at: datetime | None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    purge_at: datetime | None = None


class FakeErasures:
    """Like `store.ErasureStore`: one record per subject, leased while one process runs it."""

    def __init__(self) -> None:
        self._rows: dict[str, _ErasureRow] = {}

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
        row = self._rows.get(subject)
        if row is not None and not _lease_free(row.lease_until, now):
            return None
        if row is None:
            row = self._rows[subject] = _ErasureRow(
                Erasure(subject, ErasureStatus.IN_PROGRESS, started_at=now, calendars_until=calendars_until),
                next_attempt_at=lease_until,
            )
        earlier = row.erasure.calendars_until
        row.erasure = dataclasses.replace(
            row.erasure,
            status=ErasureStatus.IN_PROGRESS,
            user_id=user_id,
            finished_at=None,
            waiting_for=None,
            calendars_until=max(earlier, calendars_until) if earlier else calendars_until,
        )
        row.lease_owner, row.lease_until, row.next_attempt_at, row.purge_at = owner, lease_until, lease_until, None
        return copied(row.erasure)

    async def get(self, subject: str) -> Erasure | None:
        row = self._rows.get(subject)
        return copied(row.erasure) if row else None

    async def learned(
        self,
        subject: str,
        *,
        addresses: Iterable[str] = (),
        names: Iterable[str] = (),
        connections: Iterable[str] = (),
        withdrawals: Iterable[str] = (),
    ) -> None:
        row = self._rows.get(subject)
        if row is not None:
            row.erasure = dataclasses.replace(
                row.erasure,
                addresses=row.erasure.addresses | frozenset(addresses),
                names=row.erasure.names | frozenset(names),
                connections=tuple(dict.fromkeys([*row.erasure.connections, *sorted(connections)])),
                withdrawals=tuple(dict.fromkeys([*row.erasure.withdrawals, *sorted(withdrawals)])),
            )

    async def count(self, subject: str, counts: ErasureCounts) -> None:
        row = self._rows.get(subject)
        if row is not None:
            row.erasure = dataclasses.replace(row.erasure, counts=row.erasure.counts + counts)

    async def wait(self, subject: str, *, owner: str, until: datetime, waiting_for: str) -> None:
        row = self._rows.get(subject)
        if row is not None and row.lease_owner == owner:
            row.lease_owner = row.lease_until = None
            row.next_attempt_at = until
            row.erasure = dataclasses.replace(row.erasure, waiting_for=waiting_for)

    async def finish(self, subject: str, *, owner: str, now: datetime, purge_at: datetime) -> Erasure | None:
        row = self._rows.get(subject)
        if row is None or row.lease_owner != owner:
            return None
        row.erasure = dataclasses.replace(
            row.erasure,
            status=ErasureStatus.DONE,
            finished_at=now,
            waiting_for=None,
            user_id=None,
            addresses=frozenset(),
            names=frozenset(),
            connections=(),
            withdrawals=(),
        )
        row.lease_owner = row.lease_until = row.next_attempt_at = None
        row.purge_at = purge_at
        return copied(row.erasure)

    async def claim_due(self, *, owner: str, now: datetime, until: datetime) -> Erasure | None:
        due = [
            row
            for row in self._rows.values()
            if row.erasure.status is ErasureStatus.IN_PROGRESS
            and row.next_attempt_at is not None
            and row.next_attempt_at <= now
            and _lease_free(row.lease_until, now)
        ]
        if not due:
            return None
        row = min(due, key=lambda row: row.next_attempt_at)  # type: ignore[arg-type, return-value]
        row.lease_owner, row.lease_until, row.next_attempt_at = owner, until, until
        return copied(row.erasure)

    def remove_expired(self, now: datetime) -> int:
        """Finished receipts past `purge_at` (the TTL index on it)."""
        expired = [s for s, row in self._rows.items() if row.purge_at is not None and row.purge_at <= now]
        for subject in expired:
            del self._rows[subject]
        return len(expired)

    def all(self) -> list[Erasure]:
        return [copied(row.erasure) for row in self._rows.values()]

    def lease_of(self, subject: str) -> tuple[str | None, datetime | None]:
        row = self._rows[subject]
        return row.lease_owner, row.lease_until


class FakeRetention:
    """Like `store.RetentionStore`: removes what the TTL indexes remove, from the other fakes."""

    def __init__(self, store: FakeStore, *, meeting_retention_days: int) -> None:
        self._store = store
        self._days = meeting_retention_days

    async def remove_expired(self, *, now: datetime) -> dict[str, int]:
        removed = {
            "link_states": self._store.link_states.remove_expired(now),
            "erasures": self._store.erasures.remove_expired(now),
            "meetings": self._store.meetings.remove_over(now - timedelta(days=self._days)) if self._days > 0 else 0,
        }
        return {name: n for name, n in removed.items() if n}


# --- the change feed: ChangeFeed, ChangeStream --------------------------------------------------------------


class FakeChangeFeed:
    """The change feed, like `store.ChangeFeedStore`: changes numbered 1, 2, ... as published. `listen` gives a
    stream (as a replica set's change streams) when `streams` is set, else None (mongomock, a standalone server).
    `failing` makes publishing fail; `reserve` and `land` play a publisher caught between its two writes."""

    def __init__(self, *, streams: bool = False, clock: Callable[[], datetime] | None = None) -> None:
        self.changes: list[Change] = []
        self.streams = streams
        self.failing = False
        self.reads = 0
        self._clock = clock
        self._counter = 0
        self._listeners: list[FakeChangeStream] = []

    async def publish(self, changes: Sequence[Change]) -> None:
        if self.failing:
            raise ConnectionError("the feed is away")
        for number, change in zip(self.reserve(len(changes)), changes, strict=True):
            self.land(number, change)

    async def last_sequence(self) -> int:
        return self._counter

    async def read(self, *, after: int, missing: Sequence[int] = (), limit: int) -> list[Change]:
        self.reads += 1
        found = [c for c in self.changes if c.sequence > after or c.sequence in missing]
        return sorted(found, key=lambda c: c.sequence)[:limit]

    async def listen(self) -> FakeChangeStream | None:
        if not self.streams:
            return None
        stream = FakeChangeStream(self)
        self._listeners.append(stream)
        return stream

    def reserve(self, count: int = 1) -> list[int]:
        """Numbers given out and not stored yet (the counter's `$inc`, before the insert)."""
        self._counter += count
        return list(range(self._counter - count + 1, self._counter + 1))

    def land(self, number: int, change: Change) -> Change:
        """Store a change under a number reserved before."""
        stored = dataclasses.replace(change, sequence=number, published_at=self._clock() if self._clock else None)
        self.changes.append(stored)
        for listener in self._listeners:
            listener.queue.put_nowait(stored)
        return stored

    def published(self) -> list[tuple[str, str, str]]:
        """(topic, kind, subject) of every change, in order."""
        return [(c.topic.value, c.kind.value, c.subject) for c in sorted(self.changes, key=lambda c: c.sequence)]


class FakeChangeStream:
    WAIT = 0.05  # seconds `next` waits for a change before it answers None

    def __init__(self, feed: FakeChangeFeed) -> None:
        self.queue: asyncio.Queue[Change] = asyncio.Queue()
        self.closed = False
        self._feed = feed

    async def next(self) -> Change | None:
        try:
            return await asyncio.wait_for(self.queue.get(), self.WAIT)
        except TimeoutError:
            return None

    async def close(self) -> None:
        self.closed = True
        self._feed._listeners.remove(self)


class FakeUserRateLimit:
    """Like `store.MongoUserRateLimit`: a fixed window a minute per user."""

    def __init__(self, *, per_minute: int) -> None:
        self.per_minute = per_minute
        self._taken: dict[tuple[str, int], int] = {}

    async def take(self, user_id: str, count: int, *, now: datetime) -> float | None:
        if self.per_minute <= 0:
            return None
        window = int(now.timestamp() // 60)
        if self._taken.get((user_id, window), 0) + count > self.per_minute:
            return max(1.0, (window + 1) * 60 - now.timestamp())
        self._taken[(user_id, window)] = self._taken.get((user_id, window), 0) + count
        return None


# --- Cronofy: CalendarGateway ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Call:
    method: str
    args: dict[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.args[name]


@dataclasses.dataclass
class FakeAccount:
    """A calendar account at Cronofy: its calendars, and the changes a read of its managed events finds."""

    sub: str
    calendars: list[CronofyCalendar]
    provider_name: str | None = "google"
    profile_name: str | None = None
    changes: list[ManagedEvent] = dataclasses.field(default_factory=list)


_USUAL = object()  # no configured answer: the gateway answers as Cronofy would


@dataclasses.dataclass
class _Failure:
    error: BaseException
    times: int | None
    when: Callable[[dict[str, Any]], bool] | None


def calendar(
    calendar_id: str,
    name: str = "Calendar",
    *,
    primary: bool = True,
    readonly: bool = False,
    deleted: bool = False,
    profile_name: str | None = None,
) -> CronofyCalendar:
    return CronofyCalendar(calendar_id, name, primary, readonly, deleted, "google", profile_name)


class FakeGateway:
    """Cronofy as the services see it. Every call is recorded with its arguments (`calls`, `calls_to`);
    tokens, grants, calendars and changes come from the accounts you configure (`account`, `code_for`);
    `fail` makes a call raise a given Cronofy error (once, n times or always, optionally only when its
    arguments match); `before` runs a hook inside a call, before it answers (a concurrent process acting,
    a slow answer). Every call yields to the event loop once, as network I/O would.

    Refresh tokens behave as at Cronofy: a revoked one (by token or by account) or, with
    `rotate_refresh_tokens`, a superseded one is refused with InvalidGrant. Access tokens are not checked:
    tell the gateway to fail with CronofyUnauthorized instead."""

    def __init__(self, *, expires_in: int = 3600, rotate_refresh_tokens: bool = False) -> None:
        self.calls: list[Call] = []
        self.accounts: dict[str, FakeAccount] = {}
        self.events: dict[tuple[str, str], CalendarEvent] = {}  # what we wrote, by (calendar_id, event_id)
        self.deleted: list[tuple[str, str]] = []
        self.channels: dict[str, str] = {}  # channel id -> callback URL, while open
        self.expires_in = expires_in
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self._codes: dict[str, str] = {}
        self._token_owner: dict[str, str] = {}  # access or refresh token -> sub
        self._issued_refresh: collections.defaultdict[str, list[str]] = collections.defaultdict(list)
        self._dead_refresh: set[str] = set()
        self._failures: collections.defaultdict[str, list[_Failure]] = collections.defaultdict(list)
        self._hooks: collections.defaultdict[str, list[Callable[[dict[str, Any]], Awaitable[None]]]] = (
            collections.defaultdict(list)
        )
        self._answers: collections.defaultdict[str, list[Any]] = collections.defaultdict(list)
        self._serial = itertools.count(1)

    # configuring

    def account(
        self,
        sub: str,
        *,
        calendars: Sequence[CronofyCalendar] | None = None,
        provider_name: str | None = "google",
        profile_name: str | None = None,
    ) -> FakeAccount:
        """The account `sub` (created on first mention, with one primary writable calendar `cal_<sub>`)."""
        if sub not in self.accounts:
            self.accounts[sub] = FakeAccount(
                sub,
                list(calendars) if calendars is not None else [calendar(f"cal_{sub}", profile_name=profile_name)],
                provider_name,
                profile_name,
            )
        return self.accounts[sub]

    def code_for(self, sub: str) -> str:
        """A single-use authorization code for the account, as Cronofy hands it to the redirect URI."""
        self.account(sub)
        code = f"code-{next(self._serial)}"
        self._codes[code] = sub
        return code

    def grant_for(self, sub: str) -> TokenGrant:
        """A fresh grant for the account, as if a code had been exchanged."""
        account = self.account(sub)
        n = next(self._serial)
        access, refresh = Secret(f"access-{sub}-{n}"), Secret(f"refresh-{sub}-{n}")
        self._token_owner[access.reveal()] = self._token_owner[refresh.reveal()] = sub
        self._issued_refresh[sub].append(refresh.reveal())
        profile = LinkingProfile(account.provider_name, f"pro_{sub}", account.profile_name)
        return TokenGrant(
            access, refresh, self.expires_in, ("list_calendars", "create_event", "delete_event"), sub, profile
        )

    def fail(
        self,
        method: str,
        error: BaseException,
        *,
        times: int | None = 1,
        when: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """The next `times` calls of `method` (every one when None) whose arguments satisfy `when` raise `error`."""
        if not hasattr(self, method):
            raise AttributeError(method)
        self._failures[method].append(_Failure(error, times, when))

    def before(self, method: str, hook: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        """Run `hook(arguments)` inside every call of `method`, before it answers or fails."""
        self._hooks[method].append(hook)

    def answer(self, method: str, value: Any) -> None:
        """The next call of `method` answers `value` (a grant without `sub`, say) instead of the usual."""
        self._answers[method].append(value)

    def heal(self) -> None:
        """Cronofy is well again: no more planned failures."""
        self._failures.clear()

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def forget_calls(self) -> None:
        self.calls.clear()

    def sub_of(self, token: Secret) -> str | None:
        return self._token_owner.get(token.reveal())

    # the CalendarGateway port

    def authorization_url(
        self, *, redirect_uri: str, state: str, data_center: str | None = None, provider_name: str | None = None
    ) -> str:
        args = {
            "redirect_uri": redirect_uri,
            "state": state,
            "data_center": data_center,
            "provider_name": provider_name,
        }
        self.calls.append(Call("authorization_url", args))
        query = {name: value for name, value in args.items() if value is not None}
        return "https://app.cronofy.test/oauth/authorize?" + urlencode(query)

    async def exchange_code(self, *, code: str, redirect_uri: str, data_center: str | None = None) -> TokenGrant:
        if (
            given := await self._call("exchange_code", code=code, redirect_uri=redirect_uri, data_center=data_center)
        ) is not _USUAL:
            return given
        sub = self._codes.pop(code, None)
        if sub is None:
            raise InvalidGrant("unknown or used authorization code")
        return self.grant_for(sub)

    async def refresh(self, *, refresh_token: Secret, data_center: str | None = None) -> TokenGrant:
        if (given := await self._call("refresh", refresh_token=refresh_token, data_center=data_center)) is not _USUAL:
            return given
        value = refresh_token.reveal()
        if value in self._dead_refresh:
            raise InvalidGrant("refresh token revoked or superseded")
        sub = self._token_owner.get(value)
        n = next(self._serial)
        access = Secret(f"access-{sub}-{n}")
        renewed = Secret(f"refresh-{sub}-{n}") if self.rotate_refresh_tokens else refresh_token
        if sub is not None:
            self._token_owner[access.reveal()] = self._token_owner[renewed.reveal()] = sub
            self._issued_refresh[sub].append(renewed.reveal())
        if renewed != refresh_token:
            self._dead_refresh.add(value)
        return TokenGrant(access, renewed, self.expires_in, ("list_calendars", "create_event", "delete_event"), sub)

    async def revoke(
        self, *, refresh_token: Secret | None = None, sub: str | None = None, data_center: str | None = None
    ) -> None:
        if (refresh_token is None) == (sub is None):
            raise ValueError("revoke with a refresh token or a sub")  # as the real gateway
        await self._call("revoke", refresh_token=refresh_token, sub=sub, data_center=data_center)
        if refresh_token is not None:
            self._dead_refresh.add(refresh_token.reveal())
        else:
            self._dead_refresh.update(self._issued_refresh.get(sub or "", []))

    async def list_calendars(self, *, access_token: Secret, data_center: str | None = None) -> list[CronofyCalendar]:
        if (
            given := await self._call("list_calendars", access_token=access_token, data_center=data_center)
        ) is not _USUAL:
            return given
        account = self.accounts.get(self.sub_of(access_token) or "")
        return list(account.calendars) if account else []

    async def upsert_event(
        self, *, access_token: Secret, calendar_id: str, event: CalendarEvent, data_center: str | None = None
    ) -> None:
        await self._call(
            "upsert_event", access_token=access_token, calendar_id=calendar_id, event=event, data_center=data_center
        )
        self.events[(calendar_id, event.event_id)] = event

    async def delete_event(
        self, *, access_token: Secret, calendar_id: str, event_id: str, data_center: str | None = None
    ) -> None:
        await self._call(
            "delete_event",
            access_token=access_token,
            calendar_id=calendar_id,
            event_id=event_id,
            data_center=data_center,
        )
        self.events.pop((calendar_id, event_id), None)
        self.deleted.append((calendar_id, event_id))

    async def managed_events_since(
        self, *, access_token: Secret, since: datetime, data_center: str | None = None
    ) -> list[ManagedEvent]:
        """The account's configured changes last modified at or after `since` (those without a time too)."""
        given = await self._call(
            "managed_events_since", access_token=access_token, since=since, data_center=data_center
        )
        if given is not _USUAL:
            return given
        account = self.accounts.get(self.sub_of(access_token) or "")
        changes = account.changes if account else []
        return [event for event in changes if event.updated is None or event.updated >= since]

    async def create_channel(self, *, access_token: Secret, callback_url: str, data_center: str | None = None) -> str:
        await self._call(
            "create_channel", access_token=access_token, callback_url=callback_url, data_center=data_center
        )
        channel_id = f"chn_{next(self._serial)}"
        self.channels[channel_id] = callback_url
        return channel_id

    async def close_channel(self, *, access_token: Secret, channel_id: str, data_center: str | None = None) -> None:
        await self._call("close_channel", access_token=access_token, channel_id=channel_id, data_center=data_center)
        self.channels.pop(channel_id, None)

    async def _call(self, method: str, **args: Any) -> Any:
        self.calls.append(Call(method, args))
        await asyncio.sleep(0)  # a network call gives other tasks their turn
        for hook in list(self._hooks[method]):
            await hook(args)
        for failure in self._failures[method]:
            if failure.times == 0 or (failure.when is not None and not failure.when(args)):
                continue
            if failure.times is not None:
                failure.times -= 1
            raise failure.error
        return self._answers[method].pop(0) if self._answers[method] else _USUAL


# --- background tasks: BackgroundTasks ---------------------------------------------------------------------


class FakeBackground:
    """Deterministic background tasks. `run_soon` runs the work at once and returns its result (None when
    it failed, as the real one; the error is kept in `failures`). With `slow = True` the grace always runs
    out first: the work is queued instead and `run_soon` returns None. `spawn` queues the work; the test
    runs the queue with `run_pending()`."""

    def __init__(self) -> None:
        self.pending: list[Callable[[], Awaitable[Any]]] = []
        self.failures: list[BaseException] = []
        self.graces: list[float] = []
        self.slow = False

    async def run_soon(self, work: Callable[[], Awaitable[T]], *, grace: float) -> T | None:
        self.graces.append(grace)
        if self.slow:
            self.pending.append(work)
            return None
        try:
            return await work()
        except Exception as error:
            self.failures.append(error)
            return None

    def spawn(self, work: Callable[[], Awaitable[Any]]) -> None:
        self.pending.append(work)

    async def run_pending(self) -> list[Any]:
        """Run the queued work, and whatever it queues, until nothing is left; the results in order."""
        results = []
        while self.pending:
            work = self.pending.pop(0)
            try:
                results.append(await work())
            except Exception as error:
                self.failures.append(error)
                results.append(None)
        return results


# --- wiring ------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class FakeStore:
    """The repositories, shared by every process a test builds over them."""

    connections: FakeConnections = dataclasses.field(default_factory=FakeConnections)
    link_states: FakeLinkStates = dataclasses.field(default_factory=FakeLinkStates)
    meetings: FakeMeetings = dataclasses.field(default_factory=FakeMeetings)
    revocations: FakeRevocations = dataclasses.field(default_factory=FakeRevocations)
    user_limits: FakeUserRateLimit = dataclasses.field(default_factory=lambda: FakeUserRateLimit(per_minute=30))
    erasures: FakeErasures = dataclasses.field(default_factory=FakeErasures)
    feed: FakeChangeFeed = dataclasses.field(default_factory=FakeChangeFeed)


@dataclasses.dataclass
class App:
    """The real services over fakes, and the fakes, for a test to act and look."""

    services: Services
    settings: Settings
    store: FakeStore
    gateway: FakeGateway
    clock: FakeClock
    background: FakeBackground
    owner: str
    refreshes: list[str]  # what CalendarAccess reported for each refresh (the metrics' labels)
    sleeps: list[float]  # CalendarAccess's waits for another process's refresh lease
    expired: FakeRetention  # the retention sweep's port, over `store`

    @property
    def access(self) -> CalendarAccess:
        return self.services.access

    @property
    def linking(self) -> Linking:
        return self.services.linking

    @property
    def meetings(self) -> Meetings:
        return self.services.meetings

    @property
    def writes(self) -> CalendarWrites:
        return self.services.writes

    @property
    def changes(self) -> CalendarChanges:
        return self.services.changes

    @property
    def channels(self) -> PushChannels:
        return self.services.channels

    @property
    def revocations(self) -> Revocations:
        return self.services.revocations

    @property
    def erasures(self) -> Erasures:
        return self.services.erasures

    @property
    def exports(self) -> Exports:
        return self.services.exports

    @property
    def retention(self) -> Retention:
        return self.services.retention

    @property
    def live(self) -> LiveUpdates:
        return self.services.live


def services(
    *,
    store: FakeStore | None = None,
    gateway: FakeGateway | None = None,
    clock: FakeClock | None = None,
    background: FakeBackground | None = None,
    owner: str = OWNER,
    revocation_grace: float | None = None,
    **settings: Any,
) -> App:
    """The services wired as `gql_api.bootstrap.build_services` wires them, over fakes; `settings` override
    `Settings` fields (outbox_max_attempts=3, say). Pass another App's store, gateway and clock with another
    `owner` to get a second process sharing them. CalendarAccess's lease waits advance the fake clock."""
    config = Settings(**{**PRODUCTION_SHAPE, **settings})
    store = store or FakeStore()
    gateway = gateway or FakeGateway()
    clock = clock or FakeClock()
    background = background or FakeBackground()
    refreshes: list[str] = []
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds=seconds)
        await asyncio.sleep(0)

    expired = FakeRetention(store, meeting_retention_days=config.meeting_retention_days)
    repositories = Repositories(
        connections=store.connections,  # the fakes implement the same ports
        link_states=store.link_states,
        meetings=store.meetings,
        revocations=store.revocations,
        user_limits=store.user_limits,
        erasures=store.erasures,
        retention=expired,
        changes=store.feed,
    )
    wired = build_services(
        config,
        repositories,
        gateway,
        background,
        owner=owner,
        clock=clock,
        on_refresh=refreshes.append,
        sleep=sleep,
        **({"revocation_grace_seconds": revocation_grace} if revocation_grace is not None else {}),
    )
    return App(wired, config, store, gateway, clock, background, owner, refreshes, sleeps, expired)


def another_process(app: App, owner: str = "other-process") -> App:
    """A second process over the same database and Cronofy, with its own background tasks and locks."""
    return services(store=app.store, gateway=app.gateway, clock=app.clock, owner=owner)


# --- givens -----------------------------------------------------------------------------------------------

# Mentoring partners of each other (the `partners` claim); Mallory is nobody's.
CAST = frozenset({"alice", "bob", "carol", "dave", "erin"})
ALICE = User("alice", "alice@example.test", "Alice", partners=CAST - {"alice"})
BOB = User("bob", "bob@example.test", "Bob", partners=CAST - {"bob"})
CAROL = User("carol", "carol@example.test", "Carol", partners=CAST - {"carol"})
MALLORY = User("mallory", "mallory@example.test", "Mallory")

START = datetime(2027, 1, 12, 10, 0, tzinfo=UTC)
END = START + timedelta(hours=1)


def state_of(authorization_url: str) -> str:
    return parse_qs(urlsplit(authorization_url).query)["state"][0]


async def begin(app: App, user: User) -> str:
    """A link state for the user, as `beginCalendarLink` hands it out inside the authorization URL."""
    request = await app.linking.begin(user, redirect_uri=REDIRECT_URI, provider=None)
    return state_of(request.authorization_url)


async def link(
    app: App,
    user: User,
    *,
    sub: str | None = None,
    calendars: Sequence[CronofyCalendar] | None = None,
    provider_name: str | None = "google",
    profile_name: str | None = None,
) -> CalendarConnection:
    """The user links the Cronofy account `sub` (default `acc_<user id>`) through the real linking flow."""
    sub = sub or f"acc_{user.id}"
    app.gateway.account(
        sub,
        calendars=calendars,
        provider_name=provider_name,
        profile_name=user.email if profile_name is None else profile_name,
    )
    return await app.linking.link(user, code=app.gateway.code_for(sub), state=await begin(app, user))


def participant(who: User | str, *, display_name: str | None = None) -> ParticipantRequest:
    """A platform user (by id and e-mail), or an e-mail address alone."""
    if isinstance(who, User):
        return ParticipantRequest(email=who.email or "", user_id=who.id, display_name=display_name or who.name)
    return ParticipantRequest(email=who, display_name=display_name)


def meeting_request(*participants: User | str | ParticipantRequest, **details: Any) -> MeetingRequest:
    fields: dict[str, Any] = {
        "title": "Mentoring session",
        "start": START,
        "end": END,
        "time_zone": "Europe/London",
        "description": "Career plans",
        "location": "Video call",
        **details,
    }
    given = tuple(p if isinstance(p, ParticipantRequest) else participant(p) for p in participants)
    return MeetingRequest(participants=given, **fields)


async def schedule(
    app: App, organizer: User, *participants: User | str | ParticipantRequest, **details: Any
) -> Meeting:
    return await app.meetings.schedule(organizer, meeting_request(*participants, **details))


def person(meeting: Meeting, who: User | str) -> MeetingParticipant:
    """The participant who is that user, or has that e-mail address."""
    key = who.email if isinstance(who, User) else who
    return next(p for p in meeting.participants if p.email == key)


def copy_of(meeting: Meeting, who: User | str) -> CalendarCopy:
    index = person(meeting, who).copy
    assert index is not None, f"{who} has no calendar copy"
    return meeting.copies[index]


def sync_of(meeting: Meeting, who: User | str) -> SyncStatus:
    return meeting.sync_of(person(meeting, who)).status


def statuses(meeting: Meeting) -> dict[str, SyncStatus]:
    """Each participant's calendar status, by e-mail address."""
    return {p.email: meeting.sync_of(p).status for p in meeting.participants}


async def run_worker(app: App, *, limit: int = 50) -> int:
    """One pass of the worker's calendar writes: claim what is due, write it; how many meetings."""
    handled = 0
    for _ in range(limit):
        meeting = await app.writes.claim_due()
        if meeting is None:
            break
        await app.writes.write_due(meeting)
        handled += 1
    return handled


def written(app: App, meeting: Meeting, connection: CalendarConnection) -> CalendarEvent | None:
    """The event of this meeting in the connection's target calendar at (fake) Cronofy, if any."""
    assert connection.calendar is not None
    return app.gateway.events.get((connection.calendar.id, meeting.event_id))


def ids(items: Iterable[Any]) -> list[str]:
    return [item.id for item in items]
