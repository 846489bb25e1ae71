"""Group commit: shared transactions, answers matched to their requests, faults isolated."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from cash_register.batcher import BatchLimits, PurchaseBatcher
from cash_register.errors import InvalidPurchase
from cash_register.service import Basket, BasketLine, RecordedPurchase, make_basket
from db.catalog import Catalog, Product, read_catalog
from db.errors import DatabaseUnavailable
from httpkit.problems import ShuttingDown

GATHER_ALL = BatchLimits(max_size=1000, max_wait_seconds=0.2, max_in_flight=2)
STORES = ("SMKT001", "SMKT002", "SMKT003")


def varied_baskets(catalog: Catalog, count: int) -> list[Basket]:
    """Baskets that differ in customer, store and lines, so a mix-up would show."""
    names = catalog.product_names()
    return [
        make_basket(
            catalog,
            STORES[n % 3],
            uuid.uuid4(),
            [names[(n + k) % len(names)] for k in range(1 + n % 4)] + [names[n % 7]],
        )
        for n in range(count)
    ]


def expected_total(basket: Basket) -> Decimal:
    return sum((line.product.unit_price * line.quantity for line in basket.lines), Decimal(0))


async def test_concurrent_purchases_share_a_transaction_and_get_their_own_answers(
    pool: asyncpg.Pool,
) -> None:
    catalog = await read_catalog(pool)
    baskets = varied_baskets(catalog, 300)
    batcher = PurchaseBatcher(pool, GATHER_ALL)
    await batcher.start()
    results = await asyncio.gather(*(batcher.record(basket) for basket in baskets))
    await batcher.stop()

    assert batcher.stats.purchases == 300
    assert batcher.stats.batches < 10  # gathered, not one commit each
    assert len({result.purchase_id for result in results}) == 300
    for basket, result in zip(baskets, results, strict=True):
        assert result.basket is basket
        assert result.total_amount == expected_total(basket)
    stored = await pool.fetch(
        "SELECT id, customer_id, supermarket_id, total_amount FROM purchases WHERE id = ANY($1)",
        [result.purchase_id for result in results],
    )
    by_id = {row["id"]: row for row in stored}
    for basket, result in zip(baskets, results, strict=True):
        row = by_id[result.purchase_id]
        assert (row["customer_id"], row["supermarket_id"], row["total_amount"]) == (
            basket.customer_id,
            basket.supermarket_id,
            expected_total(basket),
        )


async def test_a_purchase_the_database_refuses_fails_alone(pool: asyncpg.Pool) -> None:
    """A product gone from the catalog after the check: the batch fails in the database and
    is retried one by one, so only that purchase fails."""
    catalog = await read_catalog(pool)
    good = varied_baskets(catalog, 20)
    vanished = Product(id=987_654, name="discontinued", unit_price=Decimal("1.00"))
    bad = Basket("SMKT001", uuid.uuid4(), (BasketLine(vanished, 1),))
    batcher = PurchaseBatcher(pool, GATHER_ALL)
    await batcher.start()
    outcomes = await asyncio.gather(
        *(batcher.record(basket) for basket in [*good[:10], bad, *good[10:]]),
        return_exceptions=True,
    )
    await batcher.stop()

    assert isinstance(outcomes[10], InvalidPurchase)
    stored = [outcome for outcome in outcomes if isinstance(outcome, RecordedPurchase)]
    assert [outcome.basket for outcome in stored] == good
    assert batcher.stats.refused_batches == 1
    assert await pool.fetchval("SELECT count(*) FROM purchases") == 20
    assert await pool.fetchval("SELECT count(*) FROM customers WHERE id = $1", bad.customer_id) == 0


async def test_an_unreachable_database_fails_every_waiter_with_503_not_a_hang(
    pool: asyncpg.Pool,
) -> None:
    catalog = await read_catalog(pool)
    await pool.close()
    batcher = PurchaseBatcher(pool, GATHER_ALL)
    await batcher.start()
    outcomes = await asyncio.wait_for(
        asyncio.gather(
            *(batcher.record(b) for b in varied_baskets(catalog, 5)), return_exceptions=True
        ),
        timeout=10,
    )
    await batcher.stop()
    assert all(isinstance(outcome, DatabaseUnavailable) for outcome in outcomes)


async def test_close_commits_what_was_taken_and_refuses_the_rest(pool: asyncpg.Pool) -> None:
    catalog = await read_catalog(pool)
    batcher = PurchaseBatcher(pool, BatchLimits(max_size=5, max_wait_seconds=0.05, max_in_flight=1))
    await batcher.start()
    taken = [asyncio.create_task(batcher.record(b)) for b in varied_baskets(catalog, 23)]
    await asyncio.sleep(0)  # every task has handed its basket over
    await batcher.stop()
    results = [task.result() for task in taken]
    assert len({result.purchase_id for result in results}) == 23
    assert await pool.fetchval("SELECT count(*) FROM purchases") == 23
    with pytest.raises(ShuttingDown):
        await batcher.record(varied_baskets(catalog, 1)[0])


async def test_batches_respect_the_maximum_size(pool: asyncpg.Pool) -> None:
    catalog = await read_catalog(pool)
    batcher = PurchaseBatcher(pool, BatchLimits(max_size=7, max_wait_seconds=0.05, max_in_flight=1))
    await batcher.start()
    await asyncio.gather(*(batcher.record(b) for b in varied_baskets(catalog, 50)))
    await batcher.stop()
    assert batcher.stats.largest_batch == 7
    assert batcher.stats.purchases == 50


class CountingPool:
    """The pool, counting the connections taken at once (the batcher's transactions)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.taken = 0
        self.most_taken = 0

    async def acquire(self, *, timeout: float | None = None) -> Any:  # noqa: ASYNC109
        connection = await self._pool.acquire(timeout=timeout)
        self.taken += 1
        self.most_taken = max(self.most_taken, self.taken)
        return connection

    async def release(self, connection: Any) -> None:
        self.taken -= 1
        await self._pool.release(connection)

    def __getattr__(self, name: str) -> object:
        return getattr(self._pool, name)


async def test_refused_batches_are_retried_within_the_cap_on_batches_in_flight(
    pool: asyncpg.Pool,
) -> None:
    """Every batch holds a faulty purchase; the retries of each still use only its own slot,
    so no more than `max_in_flight` transactions are ever open at once."""
    catalog = await read_catalog(pool)
    vanished = Product(id=987_654, name="discontinued", unit_price=Decimal("1.00"))
    limits = BatchLimits(max_size=25, max_wait_seconds=0.05, max_in_flight=2)
    good = varied_baskets(catalog, 96)
    bad = [Basket("SMKT001", uuid.uuid4(), (BasketLine(vanished, 1),)) for _ in range(4)]
    baskets = [*good[:24], bad[0], *good[24:48], bad[1], *good[48:72], bad[2], *good[72:], bad[3]]
    counting = CountingPool(pool)
    batcher = PurchaseBatcher(counting, limits)  # type: ignore[arg-type]
    await batcher.start()
    outcomes = await asyncio.gather(*(batcher.record(b) for b in baskets), return_exceptions=True)
    await batcher.stop()

    refused = [o for o in outcomes if isinstance(o, InvalidPurchase)]
    assert len(refused) == 4
    assert batcher.stats.refused_batches >= 4
    assert await pool.fetchval("SELECT count(*) FROM purchases") == 96
    assert 1 <= counting.most_taken <= limits.max_in_flight


async def test_a_live_sale_does_not_wait_for_an_offline_backlog(pool: asyncpg.Pool) -> None:
    """A backlog queued first is stored in small batches behind the live sales: a live sale
    sent after it is answered while most of the backlog still waits."""
    catalog = await read_catalog(pool)
    limits = BatchLimits(max_size=200, max_in_flight=2, max_offline_lines=20, offline_rest=0)
    batcher = PurchaseBatcher(pool, limits)
    await batcher.start()
    backlog = varied_baskets(catalog, 300)
    offline = [asyncio.create_task(batcher.record_offline(basket)) for basket in backlog]
    await asyncio.sleep(0)  # every offline sale queued
    live = await batcher.record(varied_baskets(catalog, 1)[0])
    still_waiting = sum(not task.done() for task in offline)
    stored = await asyncio.gather(*offline)
    await batcher.stop()
    assert live.purchase_id not in {sale.purchase_id for sale in stored}
    assert still_waiting > 250
    lines = sum(len(basket.lines) for basket in backlog)
    assert batcher.stats.offline_batches >= lines / 20  # none above the lines' cap
    assert len({sale.purchase_id for sale in stored}) == 300


async def test_a_backlog_goes_on_when_its_rest_ends_between_two_looks_at_the_clock(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The offline queue's rest ends at some instant; if the batcher looked at the clock twice
    (once to ask whether a batch may go, once to ask how long to rest) and the rest ended in
    between, it waited for an arrival that never came, and the backlog was never stored: an
    upload hung for good after a failover. Here the rest ends exactly between two looks."""
    catalog = await read_catalog(pool)
    limits = BatchLimits(max_size=200, max_in_flight=2, max_offline_lines=1, offline_rest=0)
    batcher = PurchaseBatcher(pool, limits)
    looks = iter([0.05])  # resting at the first look after the first batch, then never again
    real = batcher._offline_resting

    def resting() -> float:
        left = real()
        return next(looks, 0.0) if batcher.stats.offline_batches == 1 else left

    monkeypatch.setattr(batcher, "_offline_resting", resting)
    await batcher.start()
    try:
        backlog = [
            asyncio.create_task(batcher.record_offline(b)) for b in varied_baskets(catalog, 3)
        ]
        stored = await asyncio.wait_for(asyncio.gather(*backlog), 10)
    finally:
        await batcher.stop()
    assert len({sale.purchase_id for sale in stored}) == 3
