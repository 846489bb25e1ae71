"""Monthly partitions created ahead, so date ranges stay pruned and no sale waits for one.

A sale in a month without a partition is still stored (in the default partition, emptied
when the month is created); this keeps that from happening in the first place.
"""

from __future__ import annotations

from datetime import date

import asyncpg

from db.chores import PeriodicChore
from db.locks import AdvisoryLock

# The last parameter is the advisory lock that serialises partition creation.
CREATE_MONTHS = "SELECT create_purchase_months($1::date, $2::date, $3)"
# The cash register's own: last month through three months ahead, and no other range.
CREATE_MONTHS_AROUND_NOW = """
SELECT create_coming_months($1)
"""


async def create_months_around_now(pool: asyncpg.Pool) -> int:
    """Create last month through three months ahead where missing; returns how many."""
    return int(await pool.fetchval(CREATE_MONTHS_AROUND_NOW, AdvisoryLock.PARTITIONS))


async def create_months(
    connection: asyncpg.Connection | asyncpg.Pool, first: date, last: date
) -> int:
    """Create the months from `first` through `last` where missing; returns how many."""
    return int(await connection.fetchval(CREATE_MONTHS, first, last, AdvisoryLock.PARTITIONS))


def month_keeper(pool: asyncpg.Pool, every_seconds: float) -> PeriodicChore:
    """Creates the coming months at start and then every `every_seconds`."""
    return PeriodicChore("month-keeper", every_seconds, lambda: create_months_around_now(pool))
