"""Idempotency keys are kept for `IDEMPOTENCY_KEY_TTL_HOURS`, then deleted by this chore."""

from __future__ import annotations

import asyncpg

from cash_register import queries
from db.chores import PeriodicChore

EVERY_SECONDS = 600


async def expire_keys(pool: asyncpg.Pool, ttl_seconds: float) -> int:
    """Delete the keys older than `ttl_seconds`; returns how many."""
    status = await pool.execute(queries.EXPIRE_IDEMPOTENCY_KEYS, ttl_seconds)
    return int(status.split()[-1])


def key_expiry(pool: asyncpg.Pool, ttl_seconds: float) -> PeriodicChore:
    """Deletes expired keys every ten minutes."""
    return PeriodicChore(
        "idempotency-key-expiry", EVERY_SECONDS, lambda: expire_keys(pool, ttl_seconds)
    )
