"""An import interrupted after its chunks, in the middle of folding its customers' visits, or
in the middle of its chunks by one of its connections failing: the next import stores and
folds exactly what was left, nothing twice."""

from __future__ import annotations

import csv
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from loader import queries
from loader.generate import generate
from loader.service import load_chain_data
from loader.settings import LoaderSettings
from tests.conftest import SEED_DIR, PostgresUnderTest
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


def file_facts(folder: Path) -> tuple[Counter[str], dict[tuple[str, str], int]]:
    """From the CSV alone: each customer's purchases, and each store's purchases by UTC day
    (exact repeats of a row are one purchase, as the loader stores them)."""
    with (folder / "purchases.csv").open(encoding="utf-8-sig") as handle:
        rows = {tuple(row.values()) for row in csv.DictReader(handle)}
    customers = Counter(row[2] for row in rows)
    days = Counter((row[0], datetime.fromisoformat(row[1]).date().isoformat()) for row in rows)
    return customers, dict(days)


class LostOnItsThirdChunk(asyncpg.Connection):
    """A storing connection that dies as it starts its third chunk (the server's end closed)."""

    chunks = 0

    async def execute(
        self,
        query: str,
        *args: object,
        timeout: float | None = None,  # noqa: ASYNC109 (asyncpg's own signature)
    ) -> str:
        if query == queries.DEFER_CUSTOMER_FOLD:
            self.chunks += 1
            if self.chunks == 3:
                self.terminate()
        return await super().execute(query, *args, timeout=timeout)


async def test_a_connection_lost_stops_the_import_and_the_next_run_stores_the_rest(
    db: asyncpg.Connection, postgres: PostgresUnderTest, tmp_path: Path
) -> None:
    folder = tmp_path / "history"
    generate(folder, purchases=3_000, stores=3, days=40, seed=5)
    settings = LoaderSettings(loader_chunk_purchases=150, loader_workers=2)

    async def doomed() -> asyncpg.Connection:
        return await asyncpg.connect(postgres.database_url, connection_class=LostOnItsThirdChunk)

    with pytest.raises(asyncpg.InterfaceError):
        await load_chain_data(db, folder, settings, open_connection=doomed)
    interrupted = await db.fetchval("SELECT count(*) FROM purchases")
    assert 0 < interrupted < 3_000, "whole chunks were stored before the connection was lost"
    held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
    assert await db.fetchval(held) == 0, "the loader's lock is let go"

    report = await load_chain_data(
        db, folder, settings, open_connection=lambda: asyncpg.connect(postgres.database_url)
    )

    customers, days = file_facts(folder)
    assert interrupted + report.purchases_stored == sum(customers.values())
    assert await db.fetchval("SELECT count(*) FROM purchases") == sum(customers.values())
    stored = pairs(await db.fetch("SELECT id::text, purchase_count FROM customers"))
    assert stored == dict(customers)
    daily = await db.fetch(
        "SELECT supermarket_id, day::text, sum(purchases)::int AS purchases FROM daily_sales "
        "GROUP BY 1, 2 HAVING sum(purchases) > 0"
    )
    assert {(row["supermarket_id"], row["day"]): row["purchases"] for row in daily} == days
    assert await db.fetchval("SELECT count(*) FROM import_visits") == 0
