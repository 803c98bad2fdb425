"""`gql-api erase-user` and `gql-api export-user`: a user's rights from the command line, on the server's
database (README "Your users' data"). Each prints one JSON document: the erasure's receipt, or the export.

The command functions (`erase_user`, `export_user`) take the database to use, so tests run them on an
in-memory one; the commands themselves refuse to run without MONGODB_URI (the in-memory store of a command
would hold nothing).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..domain.time import Clock, utc_now
from ..settings import ConfigError, Settings

ERASURE_IN_PROGRESS = 3  # exit status: the worker (or a rerun) finishes what Cronofy did not let it do now


def erase(args: argparse.Namespace) -> int:
    import asyncio

    settings = _settings("erase-user")
    if (problem := _user_id_problem(args.user_id)) is not None:
        print(f"gql-api: {problem}", file=sys.stderr)
        return 2
    receipt = asyncio.run(_guarded(erase_user(settings, args.user_id)))
    if receipt is None:
        return 1
    _print(receipt)
    if receipt["status"] == "IN_PROGRESS":
        print(
            "gql-api: the erasure waits for Cronofy; the worker finishes it (or run this again later)", file=sys.stderr
        )
        return ERASURE_IN_PROGRESS
    return 0


def export(args: argparse.Namespace) -> int:
    import asyncio

    settings = _settings("export-user")
    if (problem := _user_id_problem(args.user_id)) is not None:
        print(f"gql-api: {problem}", file=sys.stderr)
        return 2
    data = asyncio.run(_guarded(export_user(settings, args.user_id)))
    if data is None:
        return 1
    _print(data)
    return 0


async def erase_user(
    settings: Settings, user_id: str, *, database: Any = None, clock: Clock = utc_now
) -> dict[str, Any]:
    """Erase the user as `eraseUser` does, waiting for all Cronofy lets it do now; the receipt."""
    from ..bootstrap import open_runtime, vault_for
    from ..graphql.user_data import receipt_json

    async with open_runtime(settings, vault_for(settings), clock=clock, database=database) as runtime:
        return receipt_json(await runtime.services.erasures.erase(user_id))


async def export_user(
    settings: Settings, user_id: str, *, database: Any = None, clock: Clock = utc_now
) -> dict[str, Any]:
    """What `exportUserData` answers."""
    from ..bootstrap import open_runtime, vault_for
    from ..graphql.user_data import user_data_json

    async with open_runtime(settings, vault_for(settings), clock=clock, database=database) as runtime:
        return user_data_json(await runtime.services.exports.export(user_id))


def _settings(command: str) -> Settings:
    settings = Settings.from_env()
    if not settings.mongodb_uri:
        raise ConfigError(f"{command} works on the server's database: set MONGODB_URI (and TOKEN_ENCRYPTION_KEYS)")
    return settings


def _user_id_problem(user_id: str) -> str | None:
    from ..domain.validation import check_user_id

    errors = check_user_id(user_id)
    return f"USER_ID: {errors[0].message}" if errors else None


async def _guarded(work: Any) -> Any:
    """The command's result; None (after saying why) when the store cannot be used."""
    from ..store import StoreUnavailable

    try:
        return await work
    except StoreUnavailable as error:
        print(f"gql-api: {error}", file=sys.stderr)
        return None


def _print(document: dict[str, Any]) -> None:
    print(json.dumps(document, indent=2, ensure_ascii=False))
