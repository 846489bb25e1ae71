"""Batches of the purchase statement racing for one till's head, each with one sale of that
till (the common batch, whose append locks, numbers and moves the head in one statement):
every one waits for the head a batch holds open, then numbers from the head as that batch
left it. A batch with two sales of the till, and one with tills on their first sale, race
with them too."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import asyncpg

from cash_register.queries import RECORD_PURCHASES, ArrivingLine, ArrivingSale
from db.sales_fold import FOLD_SALES_LATER
from tests.conftest import PostgresUnderTest
from tests.ledger.chains import check_with_hashlib, exported

TILL = "racing-till"
NEW_TILL = "first-sale-till"
WAITING_BATCHES = 8


def _sale(till: str, product_id: int, quantity: int) -> ArrivingSale:
    return ArrivingSale(
        "SMKT001", uuid.uuid4(), None, till, None, None, None, None, None,
        [ArrivingLine(product_id, quantity)],
    )  # fmt: skip


async def _connect(postgres: PostgresUnderTest) -> asyncpg.Connection:
    return await asyncpg.connect(postgres.database_url, server_settings=FOLD_SALES_LATER)


async def test_batches_waiting_for_a_held_head_number_after_it_and_chain_in_order(
    catalog: asyncpg.Connection, postgres: PostgresUnderTest
) -> None:
    products = [row["id"] for row in await catalog.fetch("SELECT id FROM products ORDER BY id")]
    holder = await _connect(postgres)
    waiting = [await _connect(postgres) for _ in range(WAITING_BATCHES)]
    try:
        await holder.fetch(RECORD_PURCHASES, [_sale(TILL, products[0], 1)])  # the till's head
        holding = holder.transaction()
        await holding.start()
        await holder.fetch(RECORD_PURCHASES, [_sale(TILL, products[1], 2)])
        sales = [[_sale(TILL, products[n % len(products)], 1)] for n in range(WAITING_BATCHES - 2)]
        sales.append([_sale(TILL, products[0], 3), _sale(TILL, products[2], 1)])  # two of one till
        sales.append([_sale(TILL, products[1], 1), _sale(NEW_TILL, products[0], 1)])
        batches = [
            asyncio.create_task(connection.fetch(RECORD_PURCHASES, batch))
            for connection, batch in zip(waiting, sales, strict=True)
        ]
        await asyncio.sleep(0.5)
        assert not any(batch.done() for batch in batches), "a batch passed a held head"
        await holding.commit()
        answered = [
            (sale.till_id, row)
            for batch, rows in zip(sales, await asyncio.gather(*batches), strict=True)
            for sale, row in zip(batch, rows, strict=True)
        ]
    finally:
        for connection in [holder, *waiting]:
            await connection.close()

    entries = exported(postgres.database_url, TILL)
    assert len(entries) == 2 + (WAITING_BATCHES - 2) + 2 + 1
    numbers = sorted(row["receipt_number"] for till, row in answered if till == TILL)
    assert numbers == list(range(3, len(entries) + 1))
    assert [row["receipt_number"] for till, row in answered if till == NEW_TILL] == [1]
    check_with_hashlib(TILL, entries)
    check_with_hashlib(NEW_TILL, exported(postgres.database_url, NEW_TILL))
    head = await catalog.fetchrow(
        "SELECT entries, grand_total FROM till_ledgers WHERE till_id = $1", TILL
    )
    stored_total = await catalog.fetchval(
        "SELECT sum(total_amount) FROM purchases WHERE till_id = $1", TILL
    )
    assert head is not None
    assert head["entries"] == len(entries)
    assert head["grand_total"] == stored_total
    assert isinstance(stored_total, Decimal)
