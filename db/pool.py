"""The asyncpg connection pool (created once per process, in the app's lifespan) and single
connections for the loader and listeners, all with the same bounded wait for the database."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import asyncpg

from db.errors import CONNECTION_ERRORS, DatabaseUnavailable
from db.settings import DatabaseSettings

log = logging.getLogger(__name__)
Opened = TypeVar("Opened")
POOL_ACQUIRE_TIMEOUT_SECONDS = 5.0


async def _wait_for_database(
    settings: DatabaseSettings, open_it: Callable[[], Awaitable[Opened]]
) -> Opened:
    """Call `open_it` until PostgreSQL answers or `db_startup_wait_seconds` have passed.

    A process that starts a moment before PostgreSQL (a container restart, a reboot) should
    wait, not crash; one whose database never comes says so clearly.
    """
    deadline = time.monotonic() + settings.db_startup_wait_seconds
    while True:
        try:
            return await open_it()
        except CONNECTION_ERRORS as error:
            if time.monotonic() >= deadline:
                raise DatabaseUnavailable(
                    f"PostgreSQL did not accept connections within "
                    f"{settings.db_startup_wait_seconds:g} s: {error}"
                ) from error
            log.warning("waiting for PostgreSQL: %s", error)
            await asyncio.sleep(0.5)


async def _keep_session(_: asyncpg.Connection) -> None:
    """Release a connection to the pool as it is.

    asyncpg's default reset sends `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`
    on every release: a second round trip per request. Pooled connections here never change
    session state (LISTEN, advisory locks and SET happen on connections of their own), so there
    is nothing to reset.
    """


async def create_pool(settings: DatabaseSettings) -> asyncpg.Pool:
    """Open the process's pool."""
    return await _wait_for_database(
        settings,
        lambda: asyncpg.create_pool(
            settings.dsn,
            min_size=settings.db_pool_min_size,
            max_size=settings.db_pool_max_size,
            timeout=settings.db_connect_timeout_seconds,
            command_timeout=settings.db_command_timeout_seconds,
            reset=_keep_session,
        ),
    )


async def connect(settings: DatabaseSettings) -> asyncpg.Connection:
    """One connection outside the pool (the loader, the catalog listener)."""
    return await _wait_for_database(
        settings,
        lambda: asyncpg.connect(settings.dsn, timeout=settings.db_connect_timeout_seconds),
    )


@asynccontextmanager
async def pooled_connection(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection from the pool; a database that cannot be reached is `DatabaseUnavailable`.

    Bounded: waiting for a free connection, or for a lost server, ends after
    `POOL_ACQUIRE_TIMEOUT_SECONDS` instead of hanging the request.
    """
    try:
        async with pool.acquire(timeout=POOL_ACQUIRE_TIMEOUT_SECONDS) as connection:
            yield connection
    except CONNECTION_ERRORS as error:
        raise DatabaseUnavailable(f"PostgreSQL did not answer: {error}") from error
