"""Errors of the data layer that every deployable understands.

    DatabaseError
    └── DatabaseUnavailable   PostgreSQL cannot be reached or went away mid-request (HTTP 503)

Domain errors of the shop (an unknown product, an empty basket) live with the service that
raises them; this module holds only what is about the database itself.
"""

from __future__ import annotations

import asyncio

import asyncpg


class DatabaseError(Exception):
    """Base of the data layer's own errors."""


class DatabaseUnavailable(DatabaseError):
    """PostgreSQL did not answer: the caller may try again later."""

    retry_after_seconds = 2


# What asyncpg and the socket layer raise when the server is down, restarting or unreachable.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
)
