"""Idempotency keys of live sales are kept for `IDEMPOTENCY_KEY_TTL_HOURS`, then deleted.

Offline sales' ids are not here: they live in `offline_sales` as long as the sales do.
"""

from __future__ import annotations

import asyncpg

from cash_register import queries
from db.chores import PeriodicChore


async def expire_keys(pool: asyncpg.Pool, ttl_seconds: float) -> int:
    """Delete the keys older than `ttl_seconds`; returns how many."""
    status = await pool.execute(queries.EXPIRE_IDEMPOTENCY_KEYS, ttl_seconds)
    return int(status.split()[-1])


def key_expiry(pool: asyncpg.Pool, ttl_seconds: float, every_seconds: float) -> PeriodicChore:
    """Deletes expired keys every `every_seconds`."""
    return PeriodicChore(
        "idempotency-key-expiry", every_seconds, lambda: expire_keys(pool, ttl_seconds)
    )
