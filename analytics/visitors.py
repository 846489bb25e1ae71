"""Who shopped in which store on which day, as compressed bitmaps of customer numbers: exact
distinct customers over any range in a few milliseconds, at any number of sales.

`count(DISTINCT customer_id)` over a range reads one row per customer, store and day in it:
it grows with traffic. Here each worker holds one roaring bitmap per (store, local day) of the
customers' dense numbers (migration 011) and answers a range with the size of the union of its
days' bitmaps.

They stay exact under concurrent sales and imports by following the transactions that wrote
the rows (`daily_customers.written_by`). A read remembers the oldest transaction still running
when it read (`pg_snapshot_xmin` of its snapshot): every row written by an older one was
already visible to it. The next read takes every row from that transaction on, again: a
bitmap takes a number twice without harm, and a transaction that was still running is read
once it has committed. Every answer first catches up this way, so a sale is counted as soon as
its 201 is sent, as everywhere else. The catching up is one statement, which returns only the
rows of the last moments. When rows are removed (a store's days recounted after a zone
change), `rollup_generation` changes and everything is read again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from datetime import date, timedelta

import asyncpg
from pyroaring import BitMap

from db.errors import DatabaseUnavailable
from db.pool import pooled_connection
from db.replica import Reads

log = logging.getLogger(__name__)

# The rows of daily_customers that `rows_wanted` selects, per store and day, with the horizon
# and generation of the same snapshot (always one row, numbers NULL when nothing matched).
_READ = """
WITH seen AS (
    SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon,
           (SELECT generation FROM rollup_generation) AS generation
)
SELECT seen.horizon, seen.generation, d.supermarket_id, d.day, d.numbers
FROM seen
LEFT JOIN LATERAL (
    SELECT supermarket_id, day, array_agg(number) AS numbers
    FROM daily_customers {rows_wanted}
    GROUP BY supermarket_id, day
) d ON true
"""
# Everything.
READ_ALL = _READ.format(rows_wanted="")
# What transactions from the horizon $1 on wrote.
READ_SINCE = _READ.format(rows_wanted="WHERE written_by >= $1::text::xid8")


class Visitors:
    """One worker's bitmaps, caught up before each answer. As a part of the service, it reads
    them all in the background at start, so the first owner does not wait for it."""

    def __init__(self, reads: Reads) -> None:
        self._reads = reads
        self._warming: asyncio.Task[None] | None = None
        self._days: dict[tuple[str, date], BitMap] = {}
        # The union of each store's days of a month (keyed by the month's first day): a long
        # range unions its whole months from these, and only its partial months day by day.
        self._months: dict[tuple[str, date], BitMap] = {}
        self._horizon: str | None = None
        self._generation: int | None = None
        self._source: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()
        self._last_started = -1.0  # monotonic start of the last read that completed

    async def start(self) -> None:
        self._warming = asyncio.create_task(self._warm_up(), name="visitors-warm-up")

    async def stop(self) -> None:
        if self._warming is not None:
            self._warming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._warming

    async def _warm_up(self) -> None:
        try:
            await self.catch_up(self._reads.pool())
        except DatabaseUnavailable as error:  # the first answer reads them instead
            log.warning("visitors not read at start: %s", error.explanation)

    async def catch_up(self, pool: asyncpg.Pool) -> None:
        """Read what was written since the last read (everything, the first time, after a
        recount, or when the reads moved between the primary and the replica)."""
        asked = time.monotonic()
        async with self._lock:
            if self._last_started >= asked and self._source is pool:
                return  # a read that began after this call was made has just finished
            started = time.monotonic()
            whole = self._horizon is None or self._source is not pool
            async with pooled_connection(pool) as connection:
                rows = await (
                    connection.fetch(READ_ALL)
                    if whole
                    else connection.fetch(READ_SINCE, self._horizon)
                )
            if not whole and rows[0]["generation"] != self._generation:
                async with pooled_connection(pool) as connection:
                    rows = await connection.fetch(READ_ALL)
                whole = True
            self._take(rows, whole)
            self._source = pool
            self._last_started = started

    def _take(self, rows: list[asyncpg.Record], whole: bool) -> None:
        days = {} if whole else self._days
        months = {} if whole else self._months
        for row in rows:
            if row["numbers"] is None:
                continue
            store, day = row["supermarket_id"], row["day"]
            for held, key in ((days, (store, day)), (months, (store, day.replace(day=1)))):
                if key in held:
                    held[key].update(row["numbers"])
                else:
                    held[key] = BitMap(row["numbers"])
        self._days, self._months = days, months
        self._horizon = rows[0]["horizon"]
        self._generation = rows[0]["generation"]

    def distinct(self, stores: Iterable[str], first: date, last: date) -> int:
        """How many customers shopped in any of `stores` on any day from `first` to `last`."""
        wanted = []
        for store in stores:
            day = first
            while day <= last:
                month_end = _next_month(day) - timedelta(days=1)
                if day.day == 1 and month_end <= last:
                    held = self._months.get((store, day))
                    day = month_end + timedelta(days=1)
                else:
                    held = self._days.get((store, day))
                    day += timedelta(days=1)
                if held is not None:
                    wanted.append(held)
        if not wanted:
            return 0
        return len(BitMap.union(*wanted)) if len(wanted) > 1 else len(wanted[0])

    def memory_bytes(self) -> int:
        """What the bitmaps' containers take (the figure the owners' guide gives)."""
        total = 0
        for held in [*self._days.values(), *self._months.values()]:
            stats = held.get_statistics()
            total += (
                stats["n_bytes_array_containers"]
                + stats["n_bytes_run_containers"]
                + stats["n_bytes_bitset_containers"]
            )
        return total

    @property
    def days_held(self) -> int:
        return len(self._days)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)
