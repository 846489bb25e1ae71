"""Is the database there? Both services' `/health` asks this."""

from __future__ import annotations

import asyncpg

from db.pool import pooled_connection

HEALTH_TIMEOUT_SECONDS = 2.0


async def check_database(pool: asyncpg.Pool) -> None:
    """Run `SELECT 1` within a short timeout; raise `DatabaseUnavailable` if it fails."""
    async with pooled_connection(pool) as connection:
        await connection.fetchval("SELECT 1", timeout=HEALTH_TIMEOUT_SECONDS)
