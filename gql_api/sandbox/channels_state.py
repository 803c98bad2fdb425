"""Open push notification channels, and which of them hear of what happens to an account.

Channels are created and closed through `/v1/channels` (§7.1); an account that loses its last
authorization loses them all. What happens to an account becomes a list of `Push`es (one
notification for one channel) that `push.Pusher` delivers: a `change` for the channels whose
filters cover a changed event, a `profile_disconnected` for every channel of the account.
The app's own writes never come here: Cronofy does not notify an app of its own changes.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence

from .model import (
    CHANGE,
    MAX_CHANNELS,
    Channel,
    EventChange,
    NotFound,
    Notification,
    Push,
    TooManyChannels,
)
from .render import time_json


class Channels:
    def __init__(self) -> None:
        self._open: dict[str, Channel] = {}  # by channel_id

    def of(self, sub: str) -> list[Channel]:
        """The account's open channels, oldest first."""
        return [channel for channel in self._open.values() if channel.sub == sub]

    def find(self, channel_id: str) -> Channel:
        channel = self._open.get(channel_id)
        if channel is None:
            raise NotFound(f"no open channel {channel_id!r}")
        return channel

    def create(
        self, sub: str, callback_url: str, calendar_ids: tuple[str, ...] | None, only_managed: bool
    ) -> tuple[Channel, bool]:
        """The channel, and whether it is new: an identical request gives the existing one."""
        mine = self.of(sub)
        for channel in mine:
            if channel.same_request(callback_url, calendar_ids, only_managed):
                return channel, False
        if len(mine) >= MAX_CHANNELS:
            raise TooManyChannels()
        channel = Channel("chn_" + secrets.token_hex(12), sub, callback_url, calendar_ids, only_managed)
        self._open[channel.channel_id] = channel
        return channel, True

    def close(self, sub: str, channel_id: str) -> bool:
        """Close one of the account's channels; False when it has no such open channel."""
        channel = self._open.get(channel_id)
        if channel is None or channel.sub != sub:
            return False
        del self._open[channel_id]
        return True

    def silence(self, sub: str) -> list[str]:
        """The account's open channels lose their pushes from now on; their ids."""
        mine = self.of(sub)
        for channel in mine:
            channel.silent = True
        return [channel.channel_id for channel in mine]

    def close_all(self, subs: Iterable[str]) -> None:
        for sub in subs:
            for channel in self.of(sub):
                del self._open[channel.channel_id]

    def tell(self, sub: str, notification: Notification) -> list[Push]:
        """The same notification for every open channel of the account."""
        return [Push(channel, notification) for channel in self.of(sub)]

    def tell_changes(self, sub: str, changes: Sequence[EventChange]) -> list[Push]:
        """One `change` notification, since the first of these changes, for each channel covering any."""
        if not changes:
            return []
        notification = Notification(CHANGE, time_json(min(change.at for change in changes)))
        return [
            Push(channel, notification)
            for channel in self.of(sub)
            if any(channel.covers(change.calendar_id, change.managed) for change in changes)
        ]
