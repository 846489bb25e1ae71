"""The asyncpg connection pool (created once per process, in the app's lifespan) and single
connections for the loader and listeners, all with the same bounded wait for the database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol, TypeVar, cast

import asyncpg

from db.errors import (
    CONNECTION_ERRORS,
    DatabaseUnreachable,
    PoolExhausted,
    StatementTimedOut,
)
from db.settings import DatabaseSettings, database_tuning

log = logging.getLogger(__name__)
Opened = TypeVar("Opened")


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
                raise DatabaseUnreachable(
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


def _server_settings(
    settings: DatabaseSettings, session: Mapping[str, str] | None = None
) -> dict[str, str]:
    named = {"application_name": settings.application_name} if settings.application_name else {}
    return {**named, **(session or {})}


def _password(settings: DatabaseSettings) -> str | None:
    """A password given apart from the URL; None: the URL's own, if any."""
    return settings.database_password.get_secret_value() if settings.database_password else None


class ConnectionCheck(Protocol):
    """Run on every new pooled connection; raises to refuse it."""

    async def __call__(self, connection: asyncpg.Connection, /) -> None: ...


async def create_pool(
    settings: DatabaseSettings,
    opened_at_start: int | None = None,
    check: ConnectionCheck | None = None,
    session: Mapping[str, str] | None = None,
) -> asyncpg.Pool:
    """Open the process's pool, with `opened_at_start` connections (default: the pool's
    minimum size; 0 opens none, so the database need not be up yet); `check` runs on every
    new connection and may refuse it; `session` is server settings of every connection."""
    return await _wait_for_database(
        settings,
        lambda: asyncpg.create_pool(
            settings.dsn,
            min_size=settings.db_pool_min_size if opened_at_start is None else opened_at_start,
            max_size=settings.db_pool_max_size,
            timeout=settings.db_connect_timeout_seconds,
            command_timeout=settings.db_command_timeout_seconds,
            reset=_keep_session,
            server_settings=_server_settings(settings, session),
            password=_password(settings),
            init=check,
        ),
    )


async def connect(settings: DatabaseSettings) -> asyncpg.Connection:
    """One connection outside the pool (the loader, the catalog listener)."""
    return await _wait_for_database(
        settings,
        lambda: asyncpg.connect(
            settings.dsn,
            timeout=settings.db_connect_timeout_seconds,
            server_settings=_server_settings(settings),
            password=_password(settings),
        ),
    )


def _ignore(_: float) -> None:
    return None


@dataclass
class PoolWatch:
    """What a service wants told about its requests' connections (its metrics): how long each
    waited for one. Nothing by default, so the loader and admin, which have no metrics, pay
    nothing."""

    waited: Callable[[float], None] = _ignore


pool_watch = PoolWatch()


@asynccontextmanager
async def pooled_connection(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection from the pool, for one request's work; every failure says its cause.

    Bounded: the wait for a free connection ends after `DB_POOL_ACQUIRE_TIMEOUT_SECONDS`
    (`PoolExhausted` when every connection stayed busy, `DatabaseUnreachable` when none could
    be opened); a statement that outlives `DB_COMMAND_TIMEOUT_SECONDS`, or the server's own
    statement_timeout, is `StatementTimedOut`; a lost server is `DatabaseUnreachable`.
    """
    settings = database_tuning()
    wait = settings.db_pool_acquire_timeout_seconds
    asked = time.perf_counter()
    try:
        connection = await pool.acquire(timeout=wait)
    except TimeoutError as error:
        if pool.get_idle_size() == 0 and pool.get_size() >= pool.get_max_size():
            raise PoolExhausted(wait) from error
        raise DatabaseUnreachable(f"PostgreSQL did not accept a connection: {error}") from error
    except CONNECTION_ERRORS as error:
        raise DatabaseUnreachable(f"PostgreSQL did not answer: {error}") from error
    pool_watch.waited(time.perf_counter() - asked)
    try:
        yield cast(asyncpg.Connection, connection)  # a pool's proxy stands for its connection
    except (TimeoutError, asyncpg.QueryCanceledError) as error:
        raise StatementTimedOut(settings.db_command_timeout_seconds) from error
    except asyncpg.exceptions.InternalClientError as error:
        connection.terminate()  # released below as closed: the pool opens a new one
        raise DatabaseUnreachable(f"PostgreSQL's connection broke: {error}") from error
    except CONNECTION_ERRORS as error:
        raise DatabaseUnreachable(f"PostgreSQL did not answer: {error}") from error
    finally:
        with contextlib.suppress(*CONNECTION_ERRORS):
            await pool.release(connection)


def one_row(row: asyncpg.Record | None) -> asyncpg.Record:
    """The row of a statement that always answers one (an aggregate, a function call)."""
    if row is None:
        raise RuntimeError("a statement that always answers one row answered none")
    return row
