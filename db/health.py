"""Is the database there? Both services' `/health` asks this."""

from __future__ import annotations

import asyncpg

from db.errors import StatementTimedOut
from db.pool import pooled_connection
from db.settings import database_tuning


async def check_database(pool: asyncpg.Pool) -> None:
    """Run `SELECT 1` within a short timeout; raise a `DatabaseUnavailable` saying why not."""
    limit = database_tuning().db_health_timeout_seconds
    try:
        async with pooled_connection(pool) as connection:
            await connection.fetchval("SELECT 1", timeout=limit)
    except StatementTimedOut as error:
        raise StatementTimedOut(limit) from error
