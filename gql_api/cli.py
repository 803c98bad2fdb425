"""`gql-api`: serve, dev-token, export-schema, generate-key."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys

from .settings import ConfigError, Settings, describe_dev_defaults
from .store.mongo import describe_uri

log = logging.getLogger("gql_api")
MAX_STALLED_BATCHES = 10


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gql-api", description="Calendar-connection GraphQL API")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="start the HTTP server (embedded defaults when nothing is set)")
    serve.add_argument("--host", help="listen address (default HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default PORT or 8080)")
    serve.add_argument("--workers", type=int, default=1,
                       help="processes sharing the port (SO_REUSEPORT); more than one needs MONGODB_URI")
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)

    dev_token = commands.add_parser("dev-token", help="print a bearer token the dev server accepts")
    dev_token.add_argument("user_id")
    dev_token.add_argument("--email")
    dev_token.add_argument("--name")
    dev_token.add_argument("--ttl", type=int, default=12 * 3600, help="lifetime in seconds (default 12 h)")

    commands.add_parser("worker", help="run the background worker alone (calendar sync, revocations)")

    rotate = commands.add_parser("rotate-keys", help="re-encrypt every stored token under the first key of "
                                                     "TOKEN_ENCRYPTION_KEYS (safe to interrupt and run again)")
    rotate.add_argument("--batch-size", type=int, default=100)

    commands.add_parser("export-schema", help="print the GraphQL SDL")

    generate_key = commands.add_parser("generate-key", help="print a new TOKEN_ENCRYPTION_KEYS entry")
    generate_key.add_argument("--id", dest="key_id", help="key id (default: random)")

    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as error:
        print(f"gql-api: configuration error: {error}", file=sys.stderr)
        return 2


def _serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from .app import create_app
    from .observability import AccessLogger, configure_logging
    from .store import StoreUnavailable

    overrides = {key: value for key, value in (("host", args.host), ("port", args.port)) if value is not None}
    settings = Settings.from_env(**overrides)
    configure_logging(settings.log_format)
    if settings.uses_dev_auth and not _is_loopback(settings.host):
        raise ConfigError("dev auth accepts tokens anyone can mint: set AUTH_JWT_SECRET or AUTH_JWT_PUBLIC_KEY "
                          f"before listening on {settings.host}")
    if args.workers > 1:
        return _supervise(args, settings)
    for note in describe_dev_defaults(settings):
        log.warning("%s", note)
    _use_uvloop()
    app = create_app(settings)

    async def announce(app: web.Application) -> None:  # runs once the store answered
        log.info("GraphQL at %s/graphql (GraphiQL in a browser), health at /healthz and /readyz",
                 settings.base_url)

    app.on_startup.append(announce)
    try:
        # SIGTERM/SIGINT: stop accepting, let in-flight requests finish (bounded), then the cleanup
        # hands back outbox and refresh leases and closes the clients.
        web.run_app(app, host=settings.host, port=settings.port, access_log_class=AccessLogger, print=None,
                    shutdown_timeout=settings.shutdown_timeout_seconds, reuse_port=args.reuse_port or None)
    except StoreUnavailable as error:
        log.error("cannot start: %s", error)
        return 1
    return 0


def _use_uvloop() -> None:
    """uvloop's event loop when installed (the `speed` extra): a faster loop, same semantics."""
    try:
        import uvloop
    except ImportError:
        return
    uvloop.install()
    log.info("event loop: uvloop")


def _supervise(args: argparse.Namespace, settings: Settings) -> int:
    """`serve --workers N`: N processes on one port, the kernel spreading connections among them. They
    share state only through MongoDB, so the in-memory store and the in-process sandbox are refused."""
    import signal
    import subprocess

    if not settings.mongodb_uri or settings.uses_sandbox:
        raise ConfigError("--workers above 1 needs MONGODB_URI and a Cronofy (CRONOFY_CLIENT_ID): processes "
                          "share nothing but the database")
    command = [sys.executable, "-m", "gql_api", "serve", "--host", settings.host, "--port", str(settings.port),
               "--reuse-port"]
    children = [subprocess.Popen(command) for _ in range(args.workers)]
    log.info("serving with %d processes on %s:%d", len(children), settings.host, settings.port)

    def forward(signum: int, frame: object) -> None:
        for child in children:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    return max(child.wait() for child in children)


def _worker(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from .models import utc_now
    from .runtime import open_runtime, vault_for
    from .store import StoreUnavailable
    from .worker import Worker

    from .observability import configure_logging

    settings = Settings.from_env()
    configure_logging(settings.log_format)
    if not settings.mongodb_uri:
        raise ConfigError("a separate worker needs the server's database: set MONGODB_URI")
    vault = vault_for(settings)

    async def run() -> None:
        # SIGTERM (a container stopping) ends the loop the same way as Ctrl-C: the runtime's cleanup
        # then hands back this worker's leases so another one goes on at once.
        current = asyncio.current_task()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, current.cancel)
        async with open_runtime(settings, vault, clock=utc_now) as runtime:
            log.info("worker started on %s", settings.mongodb_database)
            try:
                await Worker(runtime.services, poll_seconds=settings.worker_poll_seconds).run_forever()
            except asyncio.CancelledError:
                log.info("worker stopping")

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        log.info("worker stopped")
    except StoreUnavailable as error:
        log.error("cannot start: %s", error)
        return 1
    return 0


def _rotate_keys(args: argparse.Namespace) -> int:
    import asyncio

    from .runtime import vault_for
    from .store import ConnectionStore, RevocationStore, StoreUnavailable, close_client, open_client, prepare
    from .vault import DecryptionError

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
    print(f"done: {total} token document(s) re-encrypted under key {vault.active_kid}; "
          "older keys can now be removed from TOKEN_ENCRYPTION_KEYS")
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _dev_token(args: argparse.Namespace) -> int:
    from .auth import mint_dev_token

    try:
        token = mint_dev_token(Settings.from_env(), args.user_id, email=args.email, name=args.name,
                               ttl_seconds=args.ttl)
    except ValueError as error:
        print(f"gql-api: {error}", file=sys.stderr)
        return 2
    print(token)
    return 0


def _export_schema(args: argparse.Namespace) -> int:
    from .schema import export_schema

    sys.stdout.write(export_schema())
    return 0


def _generate_key(args: argparse.Namespace) -> int:
    from .vault import KeyRingError, generate_key_entry

    try:
        print(generate_key_entry(args.key_id))
    except KeyRingError as error:
        print(f"gql-api: {error}", file=sys.stderr)
        return 2
    return 0


COMMANDS = {"serve": _serve, "worker": _worker, "rotate-keys": _rotate_keys, "dev-token": _dev_token, "export-schema": _export_schema,
            "generate-key": _generate_key}
