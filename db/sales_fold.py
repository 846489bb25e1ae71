"""The tills' sales, counted into the rollups by a fold a moment after they are stored.

A cash register's sale only queues its rows for the rollups (its pool sets
`FOLD_SALES_LATER`); a fold counts a whole queue in one set-based pass and deletes it in the
same transaction, so each sale is counted exactly once, also across crashes (migration 021).
Each cash register folds in the background every `SALES_FOLD_EVERY_SECONDS`, skipping a turn
while another process folds; a reader that must count every sale acknowledged before its
question folds first and waits for a fold in progress.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

import asyncpg

from db.chores import PeriodicChore
from db.errors import OUTAGE_ERRORS
from db.locks import AdvisoryLock
from db.pool import pooled_connection

log = logging.getLogger(__name__)

# The session setting that makes the triggers queue a sale's rows instead of counting them.
FOLD_SALES_LATER = {"shop.fold_sales_later": "on"}

FOLD_WAITING_SALES = "SELECT fold_waiting_sales($1, $2)"


async def fold_waiting_sales(
    pool: asyncpg.Pool | asyncpg.Connection, wait: bool
) -> datetime | None:
    """Count the queued sales. With `wait`, after any fold in progress; answers the instant
    every sale committed before it is counted by (None: another fold was running and `wait`
    was not asked)."""
    counted_through: datetime | None = await pool.fetchval(
        FOLD_WAITING_SALES, AdvisoryLock.SALES_FOLD, wait
    )
    return counted_through


class SalesFolder:
    """A cash register's background fold: at start, every `every_seconds`, and once more at
    shutdown after the last batch is stored, so a stopped process leaves nothing of its own
    waiting (another process, or the next question, folds it if the database is away then)."""

    def __init__(
        self, pool: asyncpg.Pool, every_seconds: float, took: Callable[[float], None]
    ) -> None:
        self._pool = pool
        self._took = took
        self._chore = PeriodicChore("sales-fold", every_seconds, self._fold)

    async def _fold(self) -> None:
        """One turn: fold unless another process is folding; `took` hears how long a fold
        that ran took (the folds are what the tills' slowest sales wait behind: they take a
        core of the database for tens of milliseconds)."""
        started = time.perf_counter()
        if await fold_waiting_sales(self._pool, wait=False) is not None:
            self._took(time.perf_counter() - started)

    async def start(self) -> None:
        await self._chore.start()

    async def stop(self) -> None:
        await self._chore.stop()
        try:
            await fold_waiting_sales(self._pool, wait=True)
        except OUTAGE_ERRORS as error:
            log.warning("the last fold of the waiting sales failed, left to the next: %s", error)


async def fold_before_reading(pool: asyncpg.Pool) -> datetime:
    """Count every sale waiting, after any fold in progress, before a question is read: from a
    reader's connection, read-only by default, in a transaction opened read-write for this
    one function (the reader's role may write nothing else). Answers the database's instant
    every sale committed before it is counted by."""
    async with pooled_connection(pool) as connection, connection.transaction():
        await connection.execute("SET TRANSACTION READ WRITE")
        counted_through: datetime = await connection.fetchval(
            FOLD_WAITING_SALES, AdvisoryLock.SALES_FOLD, True
        )
        return counted_through
