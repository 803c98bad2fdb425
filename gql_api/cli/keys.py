"""`gql-api rotate-keys` and `gql-api generate-key`: the encryption keys of tokens at rest."""

from __future__ import annotations

import argparse
import sys

from ..settings import ConfigError, Settings
from ..store.mongo import describe_uri

MAX_STALLED_BATCHES = 10


def rotate(args: argparse.Namespace) -> int:
    import asyncio

    from ..bootstrap import vault_for
    from ..store import ConnectionStore, RevocationStore, StoreUnavailable, close_client, open_client, prepare
    from ..vault import DecryptionError

    settings = Settings.from_env()
    if not settings.mongodb_uri or not settings.token_encryption_keys:
        raise ConfigError("rotate-keys works on the server's database: set MONGODB_URI and TOKEN_ENCRYPTION_KEYS")
    if args.batch_size < 1:
        raise ConfigError("--batch-size must be at least 1")
    vault = vault_for(settings)

    async def run() -> int:
        client = open_client(settings)
        try:
            database = client[settings.mongodb_database]
            await prepare(database, where=describe_uri(settings.mongodb_uri))
            total = 0
            for store in (ConnectionStore(database, vault), RevocationStore(database, vault)):
                stalled = 0
                while True:  # until no document under an older key is left (a lost race is rewritten anyway)
                    seen, rotated = await store.rotate_keys(batch_size=args.batch_size)
                    if not seen:
                        break
                    stalled = 0 if rotated else stalled + 1
                    if stalled >= MAX_STALLED_BATCHES:
                        raise StoreUnavailable("rotate-keys made no progress: documents keep changing under it")
                    total += rotated
                    print(f"re-encrypted {total} so far", flush=True)
            return total
        finally:
            await close_client(client)

    try:
        total = asyncio.run(run())
    except (StoreUnavailable, DecryptionError) as error:
        print(f"gql-api: {error}", file=sys.stderr)
        return 1
    print(
        f"done: {total} token document(s) re-encrypted under key {vault.active_kid}; "
        "older keys can now be removed from TOKEN_ENCRYPTION_KEYS"
    )
    return 0


def generate(args: argparse.Namespace) -> int:
    from ..vault import KeyRingError, generate_key_entry

    try:
        print(generate_key_entry(args.key_id))
    except KeyRingError as error:
        print(f"gql-api: {error}", file=sys.stderr)
        return 2
    return 0
