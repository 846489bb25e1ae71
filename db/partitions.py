"""Monthly partitions created ahead, so date ranges stay pruned and no sale waits for one.

A sale in a month without a partition is still stored (in the default partition, emptied
when the month is created); this keeps that from happening in the first place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from db.errors import CONNECTION_ERRORS

log = logging.getLogger(__name__)

CREATE_MONTHS_AROUND_NOW = """
SELECT create_purchase_months((now() - interval '1 month')::date,
                              (now() + interval '3 months')::date)
"""
EVERY_SECONDS = 12 * 3600


async def create_months_around_now(pool: asyncpg.Pool) -> int:
    """Create last month through three months ahead where missing; returns how many."""
    return await pool.fetchval(CREATE_MONTHS_AROUND_NOW)


class MonthKeeper:
    """Creates upcoming months at start and twice a day, for the life of a service."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="month-keeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                created = await create_months_around_now(self._pool)
                if created:
                    log.info("created %d monthly partition(s)", created)
                await asyncio.sleep(EVERY_SECONDS)
            except asyncio.CancelledError:
                raise
            except (*CONNECTION_ERRORS, asyncpg.PostgresError) as error:
                log.warning("could not create monthly partitions, retrying: %s", error)
                await asyncio.sleep(60)
