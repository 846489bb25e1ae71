"""Group commit: concurrent purchases share one transaction, each answered after it commits.

A commit costs a WAL flush whatever it holds, so under load one commit for many purchases is
what lets the till service outrun one-transaction-per-purchase. Baskets arrive already checked
(so a bad purchase never reaches a batch); they wait at most `max_wait` for company, a batch
holds at most `max_size`, and at most `max_in_flight` batches commit at once. While all are in
flight, newcomers queue, so batches grow with the load by themselves. If the database refuses
a batch, it is split in halves, tried one after the other in the same slot, down to single
purchases, so only the faulty one fails and the cap on transactions in flight still holds.

Offline uploads wait in a queue of their own, so a till's backlog cannot starve the live
sales: a free slot goes to the live sales first, offline batches may hold all slots but one
(`max_in_flight - 1`, at least one), and an offline batch carries at most
`max_offline_lines` lines, so it holds its slot, and the aggregates' rows it updates, briefly.
After each offline batch the offline queue rests `offline_rest` times as long as the batch
took: what a live sale waits for under a backlog is the WAL the backlog writes (every commit
waits for the flush of all WAL before it), so the backlog's share of it is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

import asyncpg

from cash_register.errors import InvalidPurchase
from cash_register.service import Basket, RecordedPurchase, record_purchases
from httpkit.problems import ShuttingDown
from telemetry.metrics import instruments

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchLimits:
    max_size: int = 200
    max_wait_seconds: float = 0.0
    max_in_flight: int = 2
    max_offline_lines: int = 100
    offline_rest: float = 9.0  # after an offline batch, rest this many times its time

    @property
    def offline_in_flight(self) -> int:
        """Slots offline batches may hold at once: all but one, so a live sale always has one."""
        return max(1, self.max_in_flight - 1)


@dataclass
class BatchStats:
    """What the batcher has done, for operators and tests."""

    batches: int = 0
    purchases: int = 0
    largest_batch: int = 0
    refused_batches: int = 0
    offline_batches: int = 0


@dataclass
class _Waiting:
    basket: Basket
    answer: asyncio.Future[RecordedPurchase]


class PurchaseBatcher:
    """Gathers purchases into shared transactions for the life of one worker process."""

    def __init__(self, pool: asyncpg.Pool, limits: BatchLimits) -> None:
        self._pool = pool
        self._limits = limits
        self._waiting: list[_Waiting] = []
        self._offline: list[_Waiting] = []
        self._offline_in_flight = 0
        self._offline_resume = 0.0
        self._arrived = asyncio.Event()
        self._full = asyncio.Event()
        self._slots = asyncio.Semaphore(limits.max_in_flight)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._closing = False
        self.stats = BatchStats()
        self._metrics = instruments()
        self._runner: asyncio.Task[None] | None = None

    @property
    def closing(self) -> bool:
        """Stopping: taking no new purchases."""
        return self._closing

    async def start(self) -> None:
        """Begin gathering purchases into batches."""
        self._runner = asyncio.create_task(self._run(), name="purchase-batcher")

    async def record(self, basket: Basket) -> RecordedPurchase:
        """Store `basket` in the next batch; returns once that batch has committed."""
        return await self._queue(basket, self._waiting)

    async def record_offline(self, basket: Basket) -> RecordedPurchase:
        """Store a sale of an offline upload, in a batch that yields to the live sales."""
        return await self._queue(basket, self._offline)

    async def _queue(self, basket: Basket, queue: list[_Waiting]) -> RecordedPurchase:
        if self._closing or self._runner is None:
            raise ShuttingDown("cash register")
        answer: asyncio.Future[RecordedPurchase] = asyncio.get_running_loop().create_future()
        queue.append(_Waiting(basket, answer))
        self._arrived.set()
        if len(self._waiting) >= self._limits.max_size:
            self._full.set()
        return await answer

    async def stop(self) -> None:
        """Take no new purchases, commit those already taken, wait for every batch."""
        self._closing = True
        self._arrived.set()
        self._full.set()
        if self._runner is not None:
            await self._runner
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            self._arrived.clear()
            # One look at the clock for both questions: with two, a rest that ended between
            # them read "resting" then "not resting", and the loop waited for an arrival
            # that never came while the backlog sat (seen after a failover's fast failures).
            resting = self._offline_resting()
            if not self._waiting and not self._offline_may_go(resting):
                if self._closing and not self._offline:
                    return
                if resting:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._arrived.wait(), resting)
                else:
                    await self._arrived.wait()
                continue
            if self._waiting and not self._closing and len(self._waiting) < self._limits.max_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self._limits.max_wait_seconds)
            asked = time.perf_counter()
            await self._slots.acquire()
            self._metrics.batch_slot_wait.observe(time.perf_counter() - asked)
            if self._waiting:  # a free slot goes to the live sales first
                batch = self._waiting[: self._limits.max_size]
                del self._waiting[: self._limits.max_size]
                if len(self._waiting) < self._limits.max_size and not self._closing:
                    self._full.clear()
                offline = False
            elif self._offline_may_go(self._offline_resting()):
                batch = self._offline_batch()
                self._offline_in_flight += 1
                offline = True
            else:
                self._slots.release()
                continue
            task = asyncio.create_task(self._commit(batch, offline))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    def _offline_may_go(self, resting: float) -> bool:
        """Whether an offline batch may go now, `resting` being `_offline_resting()`."""
        return (
            bool(self._offline)
            and self._offline_in_flight < self._limits.offline_in_flight
            and not resting
        )

    def _offline_resting(self) -> float:
        """Seconds until offline batches may go on (0: now): after each, the offline queue
        rests `offline_rest` times as long as that batch took, so a backlog has at most
        1/(1 + offline_rest) of the database's time and the live sales the rest."""
        if not self._offline:
            return 0.0
        return max(0.0, self._offline_resume - time.monotonic())

    def _offline_batch(self) -> list[_Waiting]:
        """The oldest offline sales, up to `max_offline_lines` lines (at least one sale)."""
        lines = 0
        taken = 0
        for item in self._offline[: self._limits.max_size]:
            lines += len(item.basket.lines)
            if taken and lines > self._limits.max_offline_lines:
                break
            taken += 1
        batch = self._offline[:taken]
        del self._offline[:taken]
        return batch

    async def _commit(self, batch: list[_Waiting], offline: bool) -> None:
        started = time.monotonic()
        try:
            await self._store(batch)
        finally:
            self._slots.release()
            if offline:
                now = time.monotonic()
                self._offline_resume = now + (now - started) * self._limits.offline_rest
                self._offline_in_flight -= 1
                self.stats.offline_batches += 1
            self._arrived.set()  # a slot is free: offline sales may be waiting for one

    async def _store(self, batch: list[_Waiting], retrying: bool = False) -> None:
        """Commit `batch`; if the database refuses it, its halves in turn (not at once: the
        batch's slot is the only one it may use), so the faulty purchase ends alone."""
        try:
            recorded = await record_purchases(self._pool, [item.basket for item in batch])
        except (InvalidPurchase, asyncpg.PostgresError) as error:
            if len(batch) == 1:
                _answer_error(batch[0], error)
                return
            if not retrying:
                self.stats.refused_batches += 1
                log.warning("batch of %d refused (%s); storing it in halves", len(batch), error)
            middle = len(batch) // 2
            await self._store(batch[:middle], retrying=True)
            await self._store(batch[middle:], retrying=True)
            return
        except Exception as error:  # the database unavailable above all: every waiter hears it
            for item in batch:
                _answer_error(item, error)
            return
        self._metrics.batch_size.observe(len(batch))
        self.stats.batches += 1
        self.stats.purchases += len(batch)
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
        for item, outcome in zip(batch, recorded, strict=True):
            if isinstance(outcome, Exception):
                _answer_error(item, outcome)
            elif not item.answer.done():
                item.answer.set_result(outcome)


def _answer_error(item: _Waiting, error: BaseException) -> None:
    if not item.answer.done():
        item.answer.set_exception(error)
