"""`gql-api worker`: the background worker alone, on the server's database."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from ..settings import ConfigError, Settings

log = logging.getLogger("gql_api")


def run(args: argparse.Namespace) -> int:
    from ..bootstrap import open_runtime, vault_for
    from ..domain.time import utc_now
    from ..observability.logging import configure_logging
    from ..store import StoreUnavailable

    settings = Settings.from_env()
    configure_logging(settings.log_format)
    if not settings.mongodb_uri:
        raise ConfigError("a separate worker needs the server's database: set MONGODB_URI")
    vault = vault_for(settings)

    async def work() -> None:
        # SIGTERM (a container stopping) ends the loop the same way as Ctrl-C: the runtime's cleanup
        # then hands back this worker's leases so another one goes on at once.
        current = asyncio.current_task()
        assert current is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, current.cancel)
        async with open_runtime(settings, vault, clock=utc_now) as runtime:
            log.info("worker started on %s", settings.mongodb_database)
            try:
                await runtime.worker.run_forever()
            except asyncio.CancelledError:
                log.info("worker stopping")

    try:
        asyncio.run(work())
    except KeyboardInterrupt:
        log.info("worker stopped")
    except StoreUnavailable as error:
        log.error("cannot start: %s", error)
        return 1
    return 0
