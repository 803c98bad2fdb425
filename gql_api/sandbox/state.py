"""The sandbox's in-memory Cronofy: one object holding the parts, for the HTTP handlers to talk to.

Plain Python with no HTTP in it. Handlers reach the parts directly:

    state.accounts     accounts and their calendars (`accounts.py`)
    state.calendars    the app's event writes and reads, every write remembered (`calendars.py`)
    state.pages        reads kept for their `next_page` links (`calendars.py`)
    state.user         the calendar's owner acting, and the pushes that causes (`calendars.py`)
    state.tokens       authorization codes, access and refresh tokens (`tokens.py`)
    state.channels     open push channels (`channels_state.py`)
    state.requests     the Cronofy-side requests received; state.pushes, push deliveries (`journal.py`)
    state.faults       faults queued to be served (`faults.py`); state.limits, the rate limits (`limits.py`)

What spans parts lives here: revoking (an account left with no authorization loses its channels),
the control API's snapshot, and `reset`, which starts every part afresh.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .accounts import Accounts
from .calendars import Calendars, Pages, User
from .channels_state import Channels
from .config import SandboxConfig
from .faults import FaultQueue
from .journal import MAX_PUSH_RECORDS, Journal, PushRecord, RecordedRequest
from .limits import RateLimiter
from .render import account_snapshot_json, token_snapshot_json
from .tokens import Tokens


class SandboxState:
    def __init__(self, config: SandboxConfig) -> None:
        self._initial_config = replace(config)
        self.config = replace(config)
        self.faults = FaultQueue()
        self._start_afresh()

    def _start_afresh(self) -> None:
        self.accounts = Accounts(self.now)
        self.calendars = Calendars(self.config)
        self.pages = Pages()
        self.tokens = Tokens(self.config)
        self.channels = Channels()
        self.user = User(self.accounts, self.calendars, self.channels, self.now)
        self.requests: Journal[RecordedRequest] = Journal()
        self.pushes: Journal[PushRecord] = Journal(MAX_PUSH_RECORDS)
        self.faults.clear()
        self.limits = RateLimiter()

    def reset(self) -> None:
        """Back to a freshly started sandbox, including the configuration."""
        self.config = replace(self._initial_config)
        self._start_afresh()

    def now(self) -> float:
        return self.config.clock()

    def revoke_token(self, token: str) -> None:
        """Revoke the authorization this token belongs to (see `Tokens.revoke_token`)."""
        self.channels.close_all(self.tokens.revoke_token(token))

    def revoke_account(self, sub: str) -> None:
        """Revoke every authorization of the account, which then loses its channels."""
        self.channels.close_all(self.tokens.revoke_account(sub))

    def snapshot(self) -> dict[str, Any]:
        """Everything the sandbox knows, for the control API (a dev tool: tokens included)."""
        now = self.now()
        return {
            "accounts": [account_snapshot_json(account, self.channels.of(account.sub)) for account in self.accounts],
            "tokens": [token_snapshot_json(issued, now) for issued in self.tokens],
            "codes_outstanding": self.tokens.codes_outstanding(),
        }
