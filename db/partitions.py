"""Monthly partitions created ahead, so date ranges stay pruned and no sale waits for one.

A sale in a month without a partition is still stored (in the default partition, emptied
when the month is created); this keeps that from happening in the first place.
"""

from __future__ import annotations

import asyncpg

from db.chores import PeriodicChore

CREATE_MONTHS_AROUND_NOW = """
SELECT create_purchase_months((now() - interval '1 month')::date,
                              (now() + interval '3 months')::date)
"""
EVERY_SECONDS = 12 * 3600


async def create_months_around_now(pool: asyncpg.Pool) -> int:
    """Create last month through three months ahead where missing; returns how many."""
    return await pool.fetchval(CREATE_MONTHS_AROUND_NOW)


def month_keeper(pool: asyncpg.Pool) -> PeriodicChore:
    """Creates the coming months at start and twice a day."""
    return PeriodicChore("month-keeper", EVERY_SECONDS, lambda: create_months_around_now(pool))
