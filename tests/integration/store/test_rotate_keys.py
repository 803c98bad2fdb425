"""Key rotation: every stored token moves under the first key, in batches, and an interrupted run
simply continues; afterwards the old key can go."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from mongomock_motor import AsyncMongoMockClient

from gql_api.domain.connections import CalendarProvider, Credential
from gql_api.store import ConnectionStore, RevocationStore, prepare
from gql_api.vault import KeyRing, Secret, Vault

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def entry(kid: str) -> str:
    return f"{kid}:{base64.urlsafe_b64encode(os.urandom(32)).decode()}"


async def test_rotation_in_interrupted_batches_leaves_nothing_under_the_old_key():
    database = AsyncMongoMockClient(tz_aware=True)["rotation"]
    await prepare(database, where="test")
    old, new = entry("old"), entry("new")
    before = Vault(KeyRing.parse(old))
    for i in range(5):
        await ConnectionStore(database, before).save_link(
            user_id=f"user{i}",
            sub=f"acc_{i}",
            provider=CalendarProvider.GOOGLE,
            profile_name="p",
            scopes=(),
            calendar=None,
            data_center="us",
            now=NOW,
            credential=Credential(Secret(f"access-{i}"), Secret(f"refresh-{i}"), NOW + timedelta(hours=1)),
        )
    await RevocationStore(database, before).add_claimed(
        refresh_token=Secret("owed"), sub="acc_9", data_center="us", now=NOW, lease_until=NOW + timedelta(minutes=1)
    )
    after = Vault(KeyRing.parse(f"{new},{old}"))
    connections, revocations = ConnectionStore(database, after), RevocationStore(database, after)

    # an interrupted run: one batch of two, then the process stops
    assert await connections.rotate_keys(batch_size=2) == (2, 2)
    # the rerun picks up where it stopped
    assert await connections.rotate_keys(batch_size=2) == (2, 2)
    assert await connections.rotate_keys(batch_size=2) == (1, 1)
    assert await connections.rotate_keys(batch_size=2) == (0, 0)
    assert await revocations.rotate_keys(batch_size=2) == (1, 1)
    assert await revocations.rotate_keys(batch_size=2) == (0, 0)

    # then the new key alone reads everything
    only_new = Vault(KeyRing.parse(new))
    for i in range(5):
        connection = (await ConnectionStore(database, only_new).list_for_user(f"user{i}"))[0]
        _, credential = await ConnectionStore(database, only_new).with_credential(connection.id)
        assert credential.refresh_token == Secret(f"refresh-{i}")
    owed = await RevocationStore(database, only_new).claim_due(
        now=NOW + timedelta(minutes=2), lease_until=NOW + timedelta(minutes=3)
    )
    assert owed.refresh_token == Secret("owed")


def test_rotate_keys_needs_the_real_database_and_keys():
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "TOKEN_ENCRYPTION_KEYS")}
    result = subprocess.run(
        [sys.executable, "-m", "gql_api", "rotate-keys"], capture_output=True, text=True, env=env, timeout=30
    )
    assert result.returncode == 2 and "MONGODB_URI and TOKEN_ENCRYPTION_KEYS" in result.stderr
