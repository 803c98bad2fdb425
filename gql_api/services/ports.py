"""The small interfaces services depend on. MongoDB repositories (`gql_api.store`), the Cronofy gateway
(`gql_api.cronofy`) and the worker's background tasks implement them; unit tests use in-memory fakes
(`tests/support/fakes.py`). Nothing here imports a driver or a framework."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from ..cronofy.models import CalendarEvent, CronofyCalendar, ManagedEvent, TokenGrant
from ..domain.changes import Change
from ..domain.connections import (
    CalendarConnection,
    CalendarProvider,
    ChangeReading,
    Credential,
    LinkState,
    PendingRevocation,
    ReadReason,
    TargetCalendar,
)
from ..domain.erasure import Erasure, ErasureCounts
from ..domain.meetings import CalendarCopy, Meeting, MeetingStatus, ParticipantResponse
from ..domain.secrets import Secret
from ..domain.user_data import OwedRevocation

T = TypeVar("T")


class ConnectionRepository(Protocol):
    """Linked accounts as users see them: listing, linking, unlinking."""

    async def list_for_user(self, user_id: str) -> list[CalendarConnection]: ...
    async def get_for_user(self, user_id: str, connection_id: str) -> CalendarConnection | None: ...
    async def sub_linked_by_another_user(self, sub: str, user_id: str) -> bool: ...
    async def grants_of_account(self, sub: str) -> list[tuple[datetime | None, Secret | None]]: ...
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
    ) -> CalendarConnection: ...
    async def calendars_for_users(self, user_ids: Sequence[str]) -> dict[str, CalendarConnection]: ...
    async def refresh_token_of(self, connection_id: str) -> Secret | None: ...
    async def refresh_token_of_account(self, user_id: str, sub: str) -> Secret | None: ...
    async def delete_for_user(self, user_id: str, connection_id: str) -> bool: ...
    async def held_since(self, user_id: str) -> dict[str, datetime | None]: ...


class CredentialRepository(Protocol):
    """Using a connection's credential: reading it, storing refreshed ones under a lease, relink marks."""

    async def with_credential(self, connection_id: str) -> tuple[CalendarConnection, Credential] | None:
        """Raises CredentialUnreadable when the stored credential cannot be decrypted."""

    async def store_credential(self, connection_id: str, credential: Credential, *, now: datetime) -> None: ...
    async def take_refresh_lease(self, connection_id: str, *, owner: str, now: datetime, until: datetime) -> bool: ...
    async def release_refresh_lease(self, connection_id: str, *, owner: str) -> None: ...
    async def mark_needs_relink(self, connection_id: str, *, now: datetime) -> bool: ...
    async def owner_of(self, connection_id: str) -> str | None: ...
    async def owing_relink_consequences(self, *, limit: int) -> list[str]: ...
    async def relink_consequences_done(self, connection_id: str) -> None: ...


class ChangeReadRepository(Protocol):
    """Push channels and the reads of calendar changes they (or reconciliation) make due."""

    async def by_channel_token(self, token: str) -> CalendarConnection | None: ...
    async def prepare_channel(self, connection_id: str, token: str) -> None: ...
    async def channel_open(self, connection_id: str, channel_id: str, *, now: datetime) -> None: ...
    async def note_changes(
        self, connection_id: str, *, since: datetime | None, now: datetime, reason: ReadReason = ReadReason.PUSH
    ) -> None: ...
    async def follow(self, connection_ids: Sequence[str], *, reconcile_at: datetime) -> None: ...
    async def followed(self) -> int: ...
    async def overdue_for_reconciliation(self, *, now: datetime) -> int: ...
    async def due_for_reconciliation(self, *, now: datetime, limit: int) -> int: ...
    async def claim_sync(
        self, *, owner: str, now: datetime, until: datetime, connection_id: str | None = None
    ) -> tuple[CalendarConnection, ChangeReading] | None: ...
    async def finish_sync(
        self,
        connection_id: str,
        *,
        owner: str,
        requests_seen: int,
        synced_at: datetime | None,
        retry_at: datetime | None,
        reconcile_at: datetime | None = None,
    ) -> bool: ...


class LinkStateRepository(Protocol):
    async def create(
        self, *, user_id: str, redirect_uri: str, data_center: str, now: datetime, expires_at: datetime
    ) -> str: ...
    async def consume(self, state: str, *, user_id: str, now: datetime) -> LinkState | None: ...
    async def of_user(self, user_id: str) -> list[LinkState]: ...
    async def delete_for_user(self, user_id: str) -> int: ...


class MeetingRepository(Protocol):
    """Meetings as participants see and change them, and as calendars change them back."""

    def new_id(self) -> str: ...
    async def has_upcoming_on(self, connection_id: str, *, now: datetime) -> bool: ...
    async def insert(self, meeting: Meeting, *, idempotency_key: str | None, now: datetime) -> Meeting | None: ...
    async def by_idempotency_key(self, organizer_id: str, key: str) -> Meeting | None: ...
    async def for_participant(self, user_id: str, meeting_id: str) -> Meeting | None: ...
    async def for_participant_many(self, user_id: str, meeting_ids: Sequence[str]) -> list[Meeting]: ...
    async def get(self, meeting_id: str) -> Meeting | None: ...
    async def change(self, meeting: Meeting, fields: dict[str, Any], *, now: datetime) -> Meeting | None: ...
    async def save_answer(self, before: Meeting, after: Meeting, *, now: datetime) -> bool: ...
    async def page_for_participant(
        self,
        user_id: str,
        *,
        limit: int,
        after: tuple[datetime, str] | None,
        status: MeetingStatus | None,
        ends_from: datetime | None,
        starts_before: datetime | None,
    ) -> list[Meeting]: ...
    async def take_calendar_change(
        self, meeting: Meeting, *, copy_index: int, fields: dict[str, Any], changed_at: datetime, now: datetime
    ) -> bool: ...
    async def cancel_from_calendar(self, meeting: Meeting, *, copy_index: int, now: datetime) -> bool: ...
    async def copy_removed(self, meeting: Meeting, *, copy_index: int, decliners: Sequence[int]) -> bool: ...
    async def set_responses(self, meeting: Meeting, responses: dict[int, ParticipantResponse]) -> None: ...
    async def fail_copies_on(self, connection_id: str, *, reason: str, now: datetime) -> int: ...
    async def retry_failed_on(self, connection_id: str, *, now: datetime) -> int: ...
    async def of_person(self, user_id: str, addresses: Sequence[str] = ()) -> list[Meeting]: ...
    async def with_copies_on(self, connection_ids: Sequence[str]) -> list[Meeting]: ...
    async def save_erased(self, before: Meeting, after: Meeting, *, now: datetime) -> bool: ...
    async def forget_idempotency_keys(self, organizer_id: str) -> int: ...


class OutboxRepository(Protocol):
    """Calendar work waiting on meetings: claimed under a lease, finished in one write."""

    async def claim(
        self, *, owner: str, now: datetime, until: datetime, meeting_id: str | None = None
    ) -> Meeting | None: ...
    async def finish(
        self,
        meeting_id: str,
        copies: dict[int, CalendarCopy],
        *,
        owner: str,
        seen_version: int,
        next_due: datetime | None,
        now: datetime,
    ) -> bool: ...
    async def outbox_stats(self) -> tuple[int, datetime | None]: ...


class RevocationRepository(Protocol):
    async def add_claimed(
        self,
        *,
        refresh_token: Secret | None,
        data_center: str,
        sub: str | None = None,
        now: datetime,
        lease_until: datetime,
        subject: str | None = None,
    ) -> PendingRevocation: ...
    async def claim_due(self, *, now: datetime, lease_until: datetime) -> PendingRevocation | None: ...
    async def done(self, revocation: PendingRevocation) -> None: ...
    async def retry_later(self, revocation: PendingRevocation, *, at: datetime, error: str) -> None: ...
    async def owed_by(self, subject: str) -> list[OwedRevocation]: ...


class ErasureRepository(Protocol):
    """Erasure records (`gql_api.store.erasures`): one per erased user, leased while one process runs it."""

    async def begin(
        self,
        *,
        subject: str,
        user_id: str,
        now: datetime,
        calendars_until: datetime,
        owner: str,
        lease_until: datetime,
    ) -> Erasure | None: ...
    async def get(self, subject: str) -> Erasure | None: ...
    async def learned(
        self,
        subject: str,
        *,
        addresses: Iterable[str] = (),
        names: Iterable[str] = (),
        connections: Iterable[str] = (),
        withdrawals: Iterable[str] = (),
    ) -> None: ...
    async def count(self, subject: str, counts: ErasureCounts) -> None: ...
    async def wait(self, subject: str, *, owner: str, until: datetime, waiting_for: str) -> None: ...
    async def finish(self, subject: str, *, owner: str, now: datetime, purge_at: datetime) -> Erasure | None: ...
    async def claim_due(self, *, owner: str, now: datetime, until: datetime) -> Erasure | None: ...


class ExpiredRecords(Protocol):
    """What TTL indexes remove, removed by the worker too (`gql_api.store.retention`)."""

    async def remove_expired(self, *, now: datetime) -> dict[str, int]: ...


class CalendarGateway(Protocol):
    """Cronofy, as the services use it (`gql_api.cronofy.CronofyGateway`)."""

    def authorization_url(
        self, *, redirect_uri: str, state: str, data_center: str | None = None, provider_name: str | None = None
    ) -> str: ...
    async def exchange_code(self, *, code: str, redirect_uri: str, data_center: str | None = None) -> TokenGrant: ...
    async def refresh(self, *, refresh_token: Secret, data_center: str | None = None) -> TokenGrant: ...
    async def revoke(
        self, *, refresh_token: Secret | None = None, sub: str | None = None, data_center: str | None = None
    ) -> None: ...
    async def list_calendars(
        self, *, access_token: Secret, data_center: str | None = None
    ) -> list[CronofyCalendar]: ...
    async def upsert_event(
        self, *, access_token: Secret, calendar_id: str, event: CalendarEvent, data_center: str | None = None
    ) -> None: ...
    async def delete_event(
        self, *, access_token: Secret, calendar_id: str, event_id: str, data_center: str | None = None
    ) -> None: ...
    async def managed_events_since(
        self, *, access_token: Secret, since: datetime, data_center: str | None = None
    ) -> list[ManagedEvent]: ...
    async def create_channel(
        self, *, access_token: Secret, callback_url: str, data_center: str | None = None
    ) -> str: ...
    async def close_channel(self, *, access_token: Secret, channel_id: str, data_center: str | None = None) -> None: ...


class ChangeFeed(Protocol):
    """Changes (domain/changes.py) in the order they were published, numbered from 1, kept a few minutes
    (`gql_api.store.change_feed`): every process publishes, each server process follows it for its
    subscribers (services/live.py)."""

    async def publish(self, changes: Sequence[Change]) -> None:
        """Number the changes (consecutively, after every number given out before) and store them."""

    async def last_sequence(self) -> int:
        """The last number given out (0 before any)."""

    async def read(self, *, after: int, missing: Sequence[int] = (), limit: int) -> list[Change]:
        """Stored changes numbered above `after`, and those of `missing`, by number, at most `limit`."""

    async def listen(self) -> ChangeStream | None:
        """A stream of the changes stored from now on, when the database can push them (a replica set's
        change streams); None where it cannot, and the feed is read every so often instead."""


class ChangeStream(Protocol):
    async def next(self) -> Change | None:
        """The next change stored, or None when none came for a moment (about a second)."""

    async def close(self) -> None: ...


class UserRateLimit(Protocol):
    async def take(self, user_id: str, count: int, *, now: datetime) -> float | None:
        """Admit `count` more changes: None when they fit, else seconds to wait (nothing taken then)."""


class BackgroundTasks(Protocol):
    """Work that outlives the request that started it (`gql_api.worker.background`)."""

    async def run_soon(self, work: Callable[[], Awaitable[T]], *, grace: float) -> T | None:
        """Start `work` now and wait at most `grace` seconds for its result (None after that, or when it
        failed); it goes on in the background and is never cancelled halfway but at shutdown."""

    def spawn(self, work: Callable[[], Awaitable[Any]]) -> None:
        """Start `work` in the background without waiting."""
