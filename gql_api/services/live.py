"""Live updates: the changes services announce, carried between processes by a feed in MongoDB, and handed
to this process's subscribers (GraphQL subscriptions, `gql_api.graphql.live`).

Publishing. A service that changed a calendar connection or a meeting announces it (`Announcer`) after the
write, as one small event: the object's id, what happened, and who may see it (pseudonyms of user ids). A
failing announcement is logged and never fails the write it follows.

Following. Each server process follows the feed with one task (`LiveUpdates.follow`) while anyone in the
process is subscribed: by a change stream where MongoDB offers them (a replica set or sharded cluster), else
by reading the feed every `poll_seconds` (the in-memory store, a standalone server), and at once after the
process published changes itself. Changes are numbered in
the feed; a number seen missing (a publisher between its two writes) is looked for again for GAP_WAIT
seconds, so a change that lands late is still delivered. A change goes only to the subscriptions of its
audience, and each loads the object as its own user may see it when it is delivered: a subscriber never
receives another user's data, only ever the current state, and reads nothing for changes that are not theirs.

Limits: `per_user` sockets and `per_user` subscriptions per user, `per_process` of each in the process.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar

from ..domain.changes import (
    Change,
    ConnectionChangeKind,
    MeetingChangeKind,
    Topic,
    audience_key,
)
from ..domain.connections import CalendarConnection
from ..domain.identity import User
from ..domain.meetings import Meeting
from .ports import ChangeFeed, ChangeStream, ConnectionRepository, MeetingRepository

log = logging.getLogger(__name__)

U = TypeVar("U")

MAX_PENDING = 100  # changes a subscription keeps for a reader that is behind; beyond, the oldest go
GAP_WAIT = 5.0  # seconds a missing number of the feed is looked for again
MAX_MISSING = 1000  # missing numbers looked for at once
READ_LIMIT = 500  # changes one read of the feed takes
RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)  # waits after the feed failed, one after the other


class SubscriptionLimitReached(Exception):
    """Beyond SUBSCRIPTIONS_PER_USER or SUBSCRIPTIONS_PER_PROCESS; the message is safe to show the client."""

    def __init__(self, message: str, *, scope: str, limit: int) -> None:
        super().__init__(message)
        self.scope = scope  # "user" or "process"
        self.limit = limit


# --- publishing ----------------------------------------------------------------------------------------


class Announcer:
    """What services call after a write: `await self._announce(change, ...)`. Without a feed (services
    built for a test that does not follow changes) it says nothing. `published` is told after each
    publication (this process's LiveUpdates reads the feed at once, rather than at its next poll)."""

    def __init__(self, feed: ChangeFeed | None = None, *, published: Callable[[], None] = lambda: None) -> None:
        self._feed = feed
        self._published = published

    async def __call__(self, *changes: Change) -> None:
        heard = [change for change in changes if change.audience]
        if not heard or self._feed is None:
            return
        try:
            await self._feed.publish(heard)
        except Exception as exc:  # the write it follows stands; subscribers miss this one change
            log.warning("could not publish %d live update(s): %s", len(heard), type(exc).__name__)
            return
        self._published()


SILENT = Announcer()


# --- what subscribers receive ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ConnectionUpdate:
    kind: ConnectionChangeKind
    connection_id: str
    connection: CalendarConnection | None  # None once it is gone (unlinked)


@dataclasses.dataclass(frozen=True)
class MeetingUpdate:
    kind: MeetingChangeKind
    meeting_id: str
    meeting: Meeting | None  # None when the subscriber is no longer in it (an erasure took them out)


class Watch(Generic[U]):
    """One subscription: an async iterator of updates for one user, on one topic (and perhaps one object).
    `aclose` ends it; so does the end of its socket."""

    def __init__(
        self,
        live: LiveUpdates,
        user: User,
        topic: Topic,
        subject: str | None,
        load: Callable[[User, Change], Awaitable[U]],
        socket: Socket | None,
    ) -> None:
        self.user = user
        self.key = audience_key(user.id)
        self.topic = topic
        self.subject = subject
        self.dropped = 0
        self._live = live
        self._load = load
        self._socket = socket
        self._pending: collections.OrderedDict[tuple[str, str], Change] = collections.OrderedDict()
        self._ready = asyncio.Event()
        self._closed = False

    def offer(self, change: Change) -> None:
        """Keep the change for the reader. One that says the same as a change still waiting (same object, same
        kind) takes its place at the end: every update carries the object as it is when read, so the reader
        loses nothing, and sees the latest change last."""
        if change.topic is not self.topic or (self.subject is not None and change.subject != self.subject):
            return
        if self._closed:
            return
        if change.key in self._pending:
            del self._pending[change.key]
        elif len(self._pending) >= MAX_PENDING:
            self._pending.popitem(last=False)
            self.dropped += 1
        self._pending[change.key] = change
        self._ready.set()

    @property
    def waiting(self) -> int:
        """Changes kept for the reader, not read yet."""
        return len(self._pending)

    def __aiter__(self) -> Watch[U]:
        return self

    async def __anext__(self) -> U:
        while not self._closed:
            if self._pending:
                _, change = self._pending.popitem(last=False)
                return await self._load(self.user, change)
            self._ready.clear()
            await self._ready.wait()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        self.end()

    def end(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pending.clear()
        self._ready.set()
        self._live._forget(self)
        if self._socket is not None:
            self._socket.watches.discard(self)


class Socket:
    """One authenticated WebSocket, counted against the limits until `end`; its subscriptions end with it."""

    def __init__(self, live: LiveUpdates, user: User) -> None:
        self.user = user
        self.key = audience_key(user.id)
        self.watches: set[Watch[Any]] = set()
        self._live = live
        self._ended = False

    def end(self) -> None:
        if self._ended:
            return
        self._ended = True
        for watch in list(self.watches):
            watch.end()
        self._live._disconnected(self)


# --- following the feed ----------------------------------------------------------------------------------


class FeedCursor:
    """Where this process stands in the feed: the highest number seen, and the numbers below it not seen yet
    (looked for again until GAP_WAIT after they were found missing). Changes seen before are passed over, so
    a change read twice (a change stream and a read overlapping) is delivered once."""

    def __init__(self, high: int, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.high = high
        self._missing: dict[int, float] = {}
        self._monotonic = monotonic

    def missing(self) -> list[int]:
        now = self._monotonic()
        for number, since in list(self._missing.items()):
            if now - since > GAP_WAIT:
                del self._missing[number]
                log.info("live updates: change %d of the feed never arrived; going on without it", number)
        return sorted(self._missing)

    def take(self, changes: Iterable[Change]) -> list[Change]:
        """The changes among these not seen before, in order."""
        fresh = []
        now = self._monotonic()
        for change in sorted(changes, key=lambda c: c.sequence):
            number = change.sequence
            if number > self.high:
                for gap in range(max(self.high + 1, number - MAX_MISSING), number):
                    self._missing[gap] = now
                self.high = number
                fresh.append(change)
            elif self._missing.pop(number, None) is not None:
                fresh.append(change)
        while len(self._missing) > MAX_MISSING:
            del self._missing[min(self._missing)]
        return fresh


class LiveUpdates:
    """This process's subscriptions and sockets, the limits on them, and the task that follows the feed."""

    def __init__(
        self,
        *,
        feed: ChangeFeed,
        meetings: MeetingRepository,
        connections: ConnectionRepository,
        per_user: int,
        per_process: int,
        poll_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._feed = feed
        self._meetings = meetings
        self._connections = connections
        self.per_user = per_user
        self.per_process = per_process
        self.poll_seconds = poll_seconds
        self._monotonic = monotonic
        self._sleep = sleep
        self._watches: dict[str, set[Watch[Any]]] = {}  # by the user's audience key
        self._watching = 0
        self._sockets: collections.Counter[str] = collections.Counter()
        self._cursor: FeedCursor | None = None
        self._stream: ChangeStream | None = None
        self._caught_up = False
        self._lock = asyncio.Lock()
        self._watched = asyncio.Event()
        self._nudged = asyncio.Event()

    # --- what the GraphQL layer calls --------------------------------------------------------------

    @property
    def sockets(self) -> int:
        return sum(self._sockets.values())

    @property
    def subscriptions(self) -> int:
        return self._watching

    def subscriptions_of(self, user_id: str) -> int:
        return len(self._watches.get(audience_key(user_id), ()))

    def connect(self, user: User) -> Socket:
        """Count a socket of `user` (SubscriptionLimitReached beyond the limits); `Socket.end` uncounts it."""
        key = audience_key(user.id)
        if self.sockets >= self.per_process:
            raise SubscriptionLimitReached(
                "This server has as many live connections as it takes; try again shortly.",
                scope="process",
                limit=self.per_process,
            )
        if self._sockets[key] >= self.per_user:
            raise SubscriptionLimitReached(
                f"You have {self.per_user} live connections open already: close one first.",
                scope="user",
                limit=self.per_user,
            )
        self._sockets[key] += 1
        return Socket(self, user)

    async def connections(self, user: User, *, socket: Socket | None = None) -> Watch[ConnectionUpdate]:
        """Changes to the user's calendar connections."""
        return await self._watch(user, Topic.CONNECTION, None, self._load_connection, socket)

    async def meetings(
        self, user: User, meeting_id: str | None = None, *, socket: Socket | None = None
    ) -> Watch[MeetingUpdate]:
        """Changes to the meetings the user takes part in (or to that one meeting, if it is theirs)."""
        return await self._watch(user, Topic.MEETING, meeting_id, self._load_meeting, socket)

    async def _load_connection(self, user: User, change: Change) -> ConnectionUpdate:
        assert isinstance(change.kind, ConnectionChangeKind)
        connection = await self._connections.get_for_user(user.id, change.subject)
        return ConnectionUpdate(change.kind, change.subject, connection)

    async def _load_meeting(self, user: User, change: Change) -> MeetingUpdate:
        assert isinstance(change.kind, MeetingChangeKind)
        meeting = await self._meetings.for_participant(user.id, change.subject)
        return MeetingUpdate(change.kind, change.subject, meeting)

    async def _watch(
        self,
        user: User,
        topic: Topic,
        subject: str | None,
        load: Callable[[User, Change], Awaitable[U]],
        socket: Socket | None,
    ) -> Watch[U]:
        watch: Watch[U] = Watch(self, user, topic, subject, load, socket)
        self._admit(watch.key)
        async with self._lock:
            # Where the feed stands is read (and a change stream opened) before the subscription counts: it
            # receives every change published from then on.
            await self._start()
            self._admit(watch.key)
            self._watches.setdefault(watch.key, set()).add(watch)
            self._watching += 1
        if socket is not None:
            socket.watches.add(watch)
        return watch

    def _admit(self, key: str) -> None:
        if self._watching >= self.per_process:
            raise SubscriptionLimitReached(
                "This server has as many subscriptions as it takes; try again shortly.",
                scope="process",
                limit=self.per_process,
            )
        if len(self._watches.get(key, ())) >= self.per_user:
            raise SubscriptionLimitReached(
                f"You have {self.per_user} subscriptions already: complete one first.",
                scope="user",
                limit=self.per_user,
            )

    def _forget(self, watch: Watch[U]) -> None:
        mine = self._watches.get(watch.key)
        if mine is not None and watch in mine:
            mine.discard(watch)
            self._watching -= 1
            if not mine:
                del self._watches[watch.key]

    def _disconnected(self, socket: Socket) -> None:
        self._sockets[socket.key] -= 1
        if self._sockets[socket.key] <= 0:
            del self._sockets[socket.key]

    def nudge(self) -> None:
        """This process published changes: where the feed is read every `poll_seconds`, read it now."""
        self._nudged.set()

    def dispatch(self, changes: Iterable[Change]) -> None:
        """Hand each change to the subscriptions of its audience (they load it when their reader is ready)."""
        for change in changes:
            for key in change.audience:
                for watch in list(self._watches.get(key, ())):
                    watch.offer(change)

    # --- the task that follows the feed ----------------------------------------------------------------

    async def follow(self) -> None:
        """Runs for the life of the server process: follows the feed while anyone here is subscribed."""
        failures = 0
        while True:
            await self._watched.wait()
            try:
                await self._follow_while_watched()
                failures = 0
            except Exception as exc:  # the store is away: try again, from where we stood
                wait = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                log.warning("live updates: following the feed failed (%s); again in %.0f s", type(exc).__name__, wait)
                await self._close_stream()
                await self._sleep(wait)
                async with self._lock:
                    if self._cursor is not None:
                        await self._open_stream()

    async def _start(self) -> None:
        """(Under the lock.) Start following from where the feed stands now, unless following already."""
        if self._cursor is None:
            self._cursor = FeedCursor(await self._feed.last_sequence(), monotonic=self._monotonic)
            await self._open_stream()
        self._watched.set()

    async def _open_stream(self) -> None:
        """A change stream where the database has them; then one read of the feed catches what was published
        between the last number seen and the stream's start."""
        try:
            self._stream = await self._feed.listen()
        except Exception as exc:
            log.warning("live updates: no change stream (%s); reading the feed instead", type(exc).__name__)
            self._stream = None
        self._caught_up = False

    async def _follow_while_watched(self) -> None:
        while True:
            async with self._lock:
                if not self._watching:  # nobody here listens: stop reading until somebody does
                    await self._close_stream()
                    self._cursor = None
                    self._watched.clear()
                    return
                cursor = self._cursor
            assert cursor is not None
            if self._stream is not None and self._caught_up:
                change = await self._stream.next()
                self.dispatch(cursor.take([change] if change is not None else []))
                cursor.missing()  # a late change comes through the stream: this only forgets what never came
                continue
            self._nudged.clear()  # a change published from here on wakes the wait below
            changes = await self._feed.read(after=cursor.high, missing=cursor.missing(), limit=READ_LIMIT)
            self.dispatch(cursor.take(changes))
            if len(changes) >= READ_LIMIT:
                continue  # more to read at once
            self._caught_up = True
            if self._stream is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._nudged.wait(), self.poll_seconds)

    async def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                await stream.close()
            except Exception as exc:
                log.info("live updates: closing the change stream failed: %s", type(exc).__name__)
