"""`gql-api`: one sub-command per module (serve, worker, keys, tokens, privacy, documents); the argument table
is here."""

from __future__ import annotations

import argparse
import sys

from ..settings import ConfigError
from . import documents, keys, privacy, serve, tokens, worker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gql-api", description="Calendar-connection GraphQL API")
    commands = parser.add_subparsers(dest="command", required=True)

    serving = commands.add_parser("serve", help="start the HTTP server (embedded defaults when nothing is set)")
    serving.add_argument("--host", help="listen address (default HOST or 127.0.0.1)")
    serving.add_argument("--port", type=int, help="listen port (default PORT or 8080)")
    serving.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes sharing the port (SO_REUSEPORT); more than one needs MONGODB_URI",
    )
    serving.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    serving.set_defaults(run=serve.run)

    dev_token = commands.add_parser("dev-token", help="print a bearer token the dev server accepts")
    dev_token.add_argument("user_id")
    dev_token.add_argument("--email")
    dev_token.add_argument("--name")
    dev_token.add_argument("--ttl", type=int, default=12 * 3600, help="lifetime in seconds (default 12 h)")
    dev_token.add_argument(
        "--partner",
        action="append",
        default=[],
        metavar="USER_ID",
        help="a user this user may meet (the partners claim); repeat for several",
    )
    dev_token.add_argument(
        "--no-calendar-integration",
        dest="calendar_integration",
        action="store_const",
        const=False,
        default=None,
        help="say the user's program has the calendar integration off (linking is then refused)",
    )
    dev_token.add_argument("--role", action="append", default=[], help="a role (the roles claim); repeat for several")
    dev_token.set_defaults(run=tokens.dev_token)

    commands.add_parser("worker", help="run the background worker alone (calendar sync, revocations)").set_defaults(
        run=worker.run
    )

    rotate = commands.add_parser(
        "rotate-keys",
        help="re-encrypt every stored token under the first key of "
        "TOKEN_ENCRYPTION_KEYS (safe to interrupt and run again)",
    )
    rotate.add_argument("--batch-size", type=int, default=100)
    rotate.set_defaults(run=keys.rotate)

    erase_user = commands.add_parser(
        "erase-user",
        help="erase a user who left the platform, as the eraseUser mutation does (idempotent; needs MONGODB_URI); "
        "prints the receipt as JSON; exit status 3 while it waits for Cronofy",
    )
    erase_user.add_argument("user_id", metavar="USER_ID")
    erase_user.set_defaults(run=privacy.erase)

    export_user = commands.add_parser(
        "export-user", help="print everything held about a user as JSON, as exportUserData does (needs MONGODB_URI)"
    )
    export_user.add_argument("user_id", metavar="USER_ID")
    export_user.set_defaults(run=privacy.export)

    commands.add_parser("export-schema", help="print the GraphQL SDL").set_defaults(run=_export_schema)

    check_documents = commands.add_parser(
        "check-documents",
        help="check a trusted-documents manifest against the schema and the query limits (exit 1 on a problem)",
    )
    check_documents.add_argument("manifest", help="JSON {id: document}, or an Apollo persisted query manifest")
    check_documents.set_defaults(run=documents.check)

    generate_key = commands.add_parser("generate-key", help="print a new TOKEN_ENCRYPTION_KEYS entry")
    generate_key.add_argument("--id", dest="key_id", help="key id (default: random)")
    generate_key.set_defaults(run=keys.generate)

    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except ConfigError as error:
        print(f"gql-api: configuration error: {error}", file=sys.stderr)
        return 2


def _export_schema(args: argparse.Namespace) -> int:
    from ..graphql.schema import export_schema

    sys.stdout.write(export_schema())
    return 0
