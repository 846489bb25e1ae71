"""An import interrupted after its chunks, in the middle of folding its customers' visits:
the next import folds exactly what was left, nothing twice."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg

from loader.service import load_chain_data
from tests.conftest import SEED_DIR
from tests.rows import pairs

STORE = "SMKT001"


async def sell(connection: asyncpg.Connection, customer: uuid.UUID, times: int) -> None:
    """Purchases stored as an import's chunk stores them: visits left waiting for the fold."""
    async with connection.transaction():
        await connection.execute("SELECT set_config('shop.defer_customer_fold', 'on', true)")
        await connection.execute(
            """
            WITH p AS (
                INSERT INTO purchases (purchased_at, supermarket_id, customer_id, total_amount)
                SELECT $1, $2, $3, 1.50 FROM generate_series(1, $4)
                RETURNING id, purchased_at, supermarket_id
            )
            INSERT INTO purchase_items
                (purchase_id, purchased_at, supermarket_id, product_id, quantity, unit_price)
            SELECT id, purchased_at, supermarket_id, (SELECT min(id) FROM products), 1, 1.50
            FROM p
            """,
            datetime(2025, 6, 1, 12, tzinfo=UTC),
            STORE,
            customer,
            times,
        )


async def test_the_next_import_folds_what_an_interrupted_one_left(
    catalog: asyncpg.Connection,
) -> None:
    first, second = sorted([uuid.uuid4(), uuid.uuid4()])
    await sell(catalog, first, 2)
    await sell(catalog, second, 3)
    assert await catalog.fetchval("SELECT count(*) FROM customers") == 0, "visits wait"
    # The interrupted fold had done the first customer's slice: folded, and recorded as folded.
    await catalog.execute(
        "SELECT fold_customer_visits(ARRAY[$1], ARRAY[$2::uuid], ARRAY[2], ARRAY[now()], "
        "ARRAY[now()])",
        STORE,
        first,
    )
    await catalog.execute("INSERT INTO import_folded_slices VALUES ($1, $1)", first)

    await load_chain_data(catalog, SEED_DIR)

    counts = pairs(
        await catalog.fetch(
            "SELECT id, purchase_count FROM customers WHERE id = ANY($1)", [first, second]
        )
    )
    assert counts == {first: 2, second: 3}
    in_store = pairs(
        await catalog.fetch(
            "SELECT customer_id, purchase_count FROM store_customers WHERE customer_id = ANY($1)",
            [first, second],
        )
    )
    assert in_store == {first: 2, second: 3}
    assert await catalog.fetchval("SELECT count(*) FROM import_visits") == 0
    assert await catalog.fetchval("SELECT count(*) FROM import_folded_slices") == 0
