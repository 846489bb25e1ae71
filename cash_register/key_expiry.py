"""Idempotency keys are kept for `IDEMPOTENCY_KEY_TTL_HOURS`, then deleted by this task."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from cash_register import queries
from db.errors import CONNECTION_ERRORS

log = logging.getLogger(__name__)
EVERY_SECONDS = 600


async def expire_keys(pool: asyncpg.Pool, ttl_seconds: float) -> int:
    """Delete the keys older than `ttl_seconds`; returns how many."""
    status = await pool.execute(queries.EXPIRE_IDEMPOTENCY_KEYS, ttl_seconds)
    return int(status.split()[-1])


class KeyExpiry:
    def __init__(self, pool: asyncpg.Pool, ttl_seconds: float) -> None:
        self._pool = pool
        self._ttl_seconds = ttl_seconds
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="idempotency-key-expiry")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await expire_keys(self._pool, self._ttl_seconds)
            except (*CONNECTION_ERRORS, asyncpg.PostgresError) as error:
                log.warning("could not expire idempotency keys, retrying: %s", error)
            await asyncio.sleep(EVERY_SECONDS)
