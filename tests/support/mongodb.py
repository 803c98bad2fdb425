"""A database of its own on the real MongoDB server named by TEST_MONGODB_URI, dropped afterwards; the test is
skipped visibly (with `why`) when the variable is unset. No server runs on these machines: CI skips these."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest


@contextlib.asynccontextmanager
async def real_database(prefix: str, *, why: str) -> AsyncIterator[Any]:
    uri = os.environ.get("TEST_MONGODB_URI", "").strip()
    if not uri:
        pytest.skip(f"TEST_MONGODB_URI not set: {why}")
    from motor.motor_asyncio import AsyncIOMotorClient

    client = AsyncIOMotorClient(uri, tz_aware=True, serverSelectionTimeoutMS=3000)
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    try:
        yield client[name]
    finally:
        try:
            await client.drop_database(name)
        finally:
            client.close()
