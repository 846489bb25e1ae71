"""Which offline uploads are taken now: one in progress per till, paid for by its items.

A till's uploads are the one kind of request whose work grows with its size (up to 1,000
sales of 100 items), so counting requests cannot make them fair. Two rules do:

- One upload in progress per till, across every worker and every cash register: a claim in
  the database (`claim_upload`), taken before the body is read, given back once it is
  answered; a claim whose worker died lapses after UPLOAD_CLAIM_SECONDS, and one its worker
  could not give back (the database away at that moment) that worker takes again. A second
  upload meanwhile is a 429 `UploadInProgress`.
- A budget of items per till (TILL_UPLOAD_ITEMS_PER_SECOND, per worker process), refilled
  at that rate up to one largest upload. An upload is taken while the budget is not spent,
  checked before its body is read (so a refusal costs nothing), and its items are paid once
  it is parsed, which may spend the budget below zero: the next upload waits until that
  debt is paid (429 `UploadBudgetSpent`, with the seconds to wait). A normal backlog passes
  at once; a till uploading flat out gets its items' worth per second, no more.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from cash_register.errors import UploadBudgetSpent, UploadInProgress
from db.errors import DatabaseUnavailable
from db.pool import pooled_connection
from shop.rules import MAX_ITEMS_PER_PURCHASE, MAX_SALES_PER_UPLOAD

log = logging.getLogger(__name__)

CLAIM = "SELECT claim_upload($1, $2, $3)"
END = "SELECT end_upload($1, $2)"
# The largest upload's items: what a full budget holds.
LARGEST_UPLOAD_ITEMS = MAX_SALES_PER_UPLOAD * MAX_ITEMS_PER_PURCHASE
# An upload in progress is answered within seconds; a till told to wait retries after this.
IN_PROGRESS_RETRY_SECONDS = 2


@dataclass
class _Budget:
    items: float
    at: float


class UploadAdmission:
    """The claims and the item budgets of one worker process's tills."""

    def __init__(self, pool: asyncpg.Pool, items_per_second: float, claim_seconds: float) -> None:
        self._pool = pool
        self._items_per_second = items_per_second
        self._claim = timedelta(seconds=claim_seconds)
        self._budgets: dict[str, _Budget] = {}
        self._here: set[str] = set()  # tills with an upload in progress in this process
        self._holder = uuid.uuid4()  # this process, as the holder of its claims

    @asynccontextmanager
    async def admit(self, till: str) -> AsyncIterator[None]:
        """Take the till's upload, unless its budget is spent or it has one in progress, and
        hold its one upload in progress for the body of the `with`."""
        self.check_budget(till)
        if till in self._here:  # known here: refused without asking the database
            raise UploadInProgress(till, IN_PROGRESS_RETRY_SECONDS)
        self._here.add(till)
        try:
            async with pooled_connection(self._pool) as connection:
                claimed = await connection.fetchval(CLAIM, till, self._holder, self._claim)
            if not claimed:
                raise UploadInProgress(till, IN_PROGRESS_RETRY_SECONDS)
            try:
                yield
            finally:
                await self._give_back(till)
        finally:
            self._here.discard(till)

    async def _give_back(self, till: str) -> None:
        """End the claim. If the database is away, the upload's answer stands (what it stored
        is stored) and the claim stays until it lapses or this worker takes it again."""
        try:
            async with pooled_connection(self._pool) as connection:
                await connection.execute(END, till, self._holder)
        except DatabaseUnavailable as error:
            log.warning("the upload claim of %s could not be given back: %s", till, error)

    def check_budget(self, till: str) -> None:
        """Refuse the till's upload, before its body is read, while its budget is spent."""
        budget = self._refilled(till)
        if budget is not None and budget.items <= 0:
            wait = math.ceil((1 - budget.items) / self._items_per_second)
            raise UploadBudgetSpent(till, self._items_per_second, wait)

    def pay(self, till: str, items: int) -> None:
        """Take the upload's `items` from the till's budget (it may go below zero)."""
        budget = self._refilled(till)
        if budget is not None:
            budget.items -= items

    def _refilled(self, till: str) -> _Budget | None:
        """The till's budget as of now (None: uploads are not limited)."""
        rate = self._items_per_second
        if rate <= 0:
            return None
        now = time.monotonic()
        budget = self._budgets.setdefault(till, _Budget(LARGEST_UPLOAD_ITEMS, now))
        budget.items = min(LARGEST_UPLOAD_ITEMS, budget.items + (now - budget.at) * rate)
        budget.at = now
        return budget
