"""The sales the tills stored and the rollups have not counted yet, counted before each answer.

A cash register's sale is queued for the rollups and folded a moment later (db/sales_fold.py);
an answer that read the rollups without folding first could miss a sale already acknowledged.
So each data answer folds on the primary first, and then reads wherever the reads go. With
the primary away and the replica answering, the answer is what the replica has, and its
`X-Data-As-Of` is no later than the last fold this worker made.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from db.errors import DatabaseUnavailable
from db.sales_fold import fold_before_reading


class SalesCounted:
    def __init__(self, primary: asyncpg.Pool) -> None:
        self._primary = primary
        self._last_counted_through: datetime | None = None

    async def before_answer(self, from_replica: bool) -> datetime:
        """Fold the waiting sales; the instant every sale committed before is counted by.
        Raises DatabaseUnavailable when the primary cannot fold and there is no replica to
        answer, or this worker never folded (it cannot say as of when the answer is)."""
        try:
            self._last_counted_through = await fold_before_reading(self._primary)
        except DatabaseUnavailable:
            if not from_replica or self._last_counted_through is None:
                raise
        assert self._last_counted_through is not None
        return self._last_counted_through
