"""The worker's table of jobs: what it claims, what it runs on each claim, and how many per pass.

Every job's claim takes a lease in MongoDB (or the equivalent), so any number of processes can run
the same table at once; `run` is the same unit of work the request path uses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from ..services import Services


@dataclasses.dataclass(frozen=True)
class Job:
    name: str
    claim: Callable[[], Awaitable[Any]]  # one item of due work, or None when there is none
    run: Callable[[Any], Awaitable[Any]]  # False ends the pass (the Cronofy budget's share is spent for now)
    limit: int = 50  # items per pass, so one kind of work cannot starve the others


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A pass over many records at once that makes work due (no claim of its own)."""

    name: str
    run: Callable[[], Awaitable[Any]]


def standard(services: Services) -> list[Job | Sweep]:
    """In this order on every pass: settle relinks first (they fail copies the writes would retry),
    then write calendars, read changes, and pay revocations; then go on with erasures (after the writes
    they wait for) and remove what is kept no longer."""
    return [
        Job("relinks", claim=services.access.next_relink_owed, run=services.access.settle_relink),
        Job("calendar writes", claim=services.writes.claim_due, run=services.writes.write_due),
        Sweep("reconciliation", run=services.changes.mark_reconciliation_due),
        Job("calendar changes", claim=services.changes.claim_due, run=services.changes.read_due),
        Job("revocations", claim=services.revocations.claim_due, run=services.revocations.attempt, limit=100),
        Job("erasures", claim=services.erasures.claim_due, run=services.erasures.resume, limit=10),
        Sweep("retention", run=services.retention.sweep),
    ]
