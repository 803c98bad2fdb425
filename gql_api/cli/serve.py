"""`gql-api serve`: the HTTP server, alone or as N processes sharing one port."""

from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys

from ..settings import ConfigError, Settings, describe_dev_defaults

log = logging.getLogger("gql_api")


def run(args: argparse.Namespace) -> int:
    from aiohttp import web

    from ..app import create_app
    from ..observability.access_log import AccessLogger
    from ..observability.logging import configure_logging
    from ..store import StoreUnavailable

    overrides = {key: value for key, value in (("host", args.host), ("port", args.port)) if value is not None}
    settings = Settings.from_env(**overrides)  # refuses every unsafe shape (settings.RULES)
    configure_logging(settings.log_format)
    if args.workers > 1:
        return _supervise(args, settings)
    for note in describe_dev_defaults(settings):
        log.warning("%s", note)
    use_uvloop()
    app = create_app(settings)

    async def announce(app: web.Application) -> None:  # runs once the store answered
        log.info("%s", startup_line(settings))

    app.on_startup.append(announce)
    try:
        # SIGTERM/SIGINT: stop accepting, let in-flight requests finish (bounded), then the cleanup
        # hands back outbox and refresh leases and closes the clients.
        web.run_app(
            app,
            host=settings.host,
            port=settings.port,
            access_log_class=AccessLogger,
            print=None,
            shutdown_timeout=settings.shutdown_timeout_seconds,
            reuse_port=args.reuse_port or None,
        )
    except StoreUnavailable as error:
        log.error("cannot start: %s", error)
        return 1
    return 0


def use_uvloop() -> None:
    """uvloop's event loop when installed (the `speed` extra): a faster loop, same semantics."""
    try:
        import uvloop
    except ImportError:
        return
    uvloop.install()
    log.info("event loop: uvloop")


def startup_line(settings: Settings) -> str:
    """Where to go: GraphiQL is mentioned only when it is served."""
    graphiql = " (GraphiQL in a browser)" if settings.graphiql else ""
    return f"GraphQL at {settings.base_url}/graphql{graphiql}, health at /healthz and /readyz"


def _supervise(args: argparse.Namespace, settings: Settings) -> int:
    """`serve --workers N`: N processes on one port, the kernel spreading connections among them. They
    share state only through MongoDB, so the in-memory store and the in-process sandbox are refused."""
    if not settings.mongodb_uri or settings.uses_sandbox:
        raise ConfigError(
            "--workers above 1 needs MONGODB_URI and a Cronofy (CRONOFY_CLIENT_ID): processes "
            "share nothing but the database"
        )
    command = [
        sys.executable,
        "-m",
        "gql_api",
        "serve",
        "--host",
        settings.host,
        "--port",
        str(settings.port),
        "--reuse-port",
    ]
    children = [subprocess.Popen(command) for _ in range(args.workers)]
    log.info("serving with %d processes on %s:%d", len(children), settings.host, settings.port)

    def forward(signum: int, frame: object) -> None:
        for child in children:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    return max(child.wait() for child in children)
