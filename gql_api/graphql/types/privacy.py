"""Erasing a user (the platform's service token), and exports as JSON documents (README "Your users' data")."""

from __future__ import annotations

import dataclasses

import strawberry
from strawberry.scalars import JSON

from .common import UserError


@strawberry.input
class EraseUserInput:
    user_id: strawberry.ID = strawberry.field(description="The platform user id to erase (the `sub` of their tokens).")


@strawberry.type
class EraseUserPayload:
    receipt: JSON | None = strawberry.field(
        default=None,
        description='The erasure\'s receipt: {status: "DONE" | "IN_PROGRESS" | "NOTHING_TO_ERASE", subject, '
        'startedAt, finishedAt, waitingFor, counts: {...}}; see the README, "Your users\' data".',
    )
    user_errors: list[UserError] = dataclasses.field(default_factory=list)
