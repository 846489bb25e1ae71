"""Errors of the data layer that every deployable understands.

    DatabaseError
    └── DatabaseUnavailable     the request could not be served now; try again (HTTP 503)
        ├── DatabaseUnreachable PostgreSQL cannot be reached, or went away mid-request
        ├── PoolExhausted       every connection of this process stayed busy too long
        └── StatementTimedOut   PostgreSQL did not finish the statement in time

Each says its own cause, so an operator reading a 503 knows which of these it was. Domain
errors of the shop (an unknown product, an empty basket) live with the service that raises
them; this module holds only what is about the database itself.
"""

from __future__ import annotations

import asyncio

import asyncpg


class DatabaseError(Exception):
    """Base of the data layer's own errors."""


class DatabaseUnavailable(DatabaseError):
    """The database could not serve the request now: the caller may try again shortly."""

    cause = "database_unavailable"
    explanation = "The database could not serve the request right now; try again shortly."


class DatabaseUnreachable(DatabaseUnavailable):
    cause = "database_unreachable"
    explanation = "The database is not reachable right now; try again shortly."


class PoolExhausted(DatabaseUnavailable):
    cause = "pool_exhausted"

    def __init__(self, waited_seconds: float) -> None:
        super().__init__(f"no free database connection within {waited_seconds:g} s")
        self.explanation = (
            f"Every database connection of this service stayed busy for {waited_seconds:g} s; "
            "try again shortly."
        )


class StatementTimedOut(DatabaseUnavailable):
    cause = "statement_timeout"

    def __init__(self, limit_seconds: float | None = None) -> None:
        within = f" within {limit_seconds:g} s" if limit_seconds else " in time"
        super().__init__(f"the database did not answer{within}")
        self.explanation = f"The database did not answer{within}; try again shortly."


# What asyncpg and the socket layer raise when the server is down, restarting or unreachable.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    # asyncpg's state machine after its server vanished mid-transaction (a failover): the
    # connection is corrupt and must be closed, not reused (pooled_connection does).
    asyncpg.exceptions.InternalClientError,
)
# A connection lost or refused, or a statement the server refused: what a background chore
# logs and retries.
DATABASE_ERRORS: tuple[type[Exception], ...] = (*CONNECTION_ERRORS, asyncpg.PostgresError)
# Everything a database outage can raise, as asyncpg's own errors or ours from the pool.
OUTAGE_ERRORS: tuple[type[Exception], ...] = (*DATABASE_ERRORS, DatabaseUnavailable)
