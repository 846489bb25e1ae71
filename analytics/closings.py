"""The tills' days as the owners see them: closings (Z) over a range, each till's open period.

Read from the closings as the tills made them (they never change) and from each till's head,
never recomputed from the sales: an owner sees what the till printed.
"""

from __future__ import annotations

import json

import asyncpg

from analytics import queries
from analytics.filters import Filters
from analytics.schemas import Closing, TillDay, UnitsClosed
from db.pool import pooled_connection

MAX_CLOSINGS = 10_000


async def closings(
    pool: asyncpg.Pool, filters: Filters, till_id: str | None, limit: int
) -> list[Closing]:
    """The closings of the range's local days, in a store and/or of a till."""
    first, last = filters.days()
    async with pooled_connection(pool) as connection:
        rows = await connection.fetch(
            queries.CLOSINGS, first, last, filters.supermarket_id, till_id, limit
        )
    return [
        Closing(
            **{**dict(row), "units": [UnitsClosed(**unit) for unit in json.loads(row["units"])]}
        )
        for row in rows
    ]


async def till_days(pool: asyncpg.Pool, supermarket_id: str | None) -> list[TillDay]:
    """Every till in view with its open period and its last closing."""
    async with pooled_connection(pool) as connection:
        rows = await connection.fetch(queries.TILL_DAYS, supermarket_id)
    return [TillDay(**dict(row)) for row in rows]
