"""`gql-api dev-token`: a bearer token the dev server (or an AUTH_JWT_SECRET server) accepts."""

from __future__ import annotations

import argparse
import sys

from ..settings import Settings


def dev_token(args: argparse.Namespace) -> int:
    from ..auth import mint_dev_token

    try:
        token = mint_dev_token(
            Settings.from_env(),
            args.user_id,
            email=args.email,
            name=args.name,
            ttl_seconds=args.ttl,
            partners=args.partner,
            calendar_integration=args.calendar_integration,
            roles=args.role,
        )
    except ValueError as error:
        print(f"gql-api: {error}", file=sys.stderr)
        return 2
    print(token)
    return 0
