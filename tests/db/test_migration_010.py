"""Migration 010 on a database that already has sales: every store gets a zone (UTC, as its
days were), its daily rollups are recounted from the sales and come out as they were; moving a
store to another zone then recounts its days by the new local dates."""

from __future__ import annotations

import uuid
from collections import Counter
from zoneinfo import ZoneInfo

from tests.conftest import PostgresUnderTest
from tests.db.migrations import migrated_before

SALE = """
WITH p AS (
    INSERT INTO purchases (purchased_at, supermarket_id, customer_id, total_amount)
    VALUES ($1, $2, $3, 3.00) RETURNING id, purchased_at, supermarket_id
)
INSERT INTO purchase_items
    (purchase_id, purchased_at, supermarket_id, product_id, quantity, unit_price)
SELECT id, purchased_at, supermarket_id, 1, 2, 1.50 FROM p
"""
ROLLUPS = """
SELECT d.day, d.supermarket_id, sum(d.purchases) AS purchases, sum(d.units) AS units,
       sum(d.revenue) AS revenue, sum(d.customers) AS customers,
       (SELECT count(*) FROM daily_customers c
        WHERE c.day = d.day AND c.supermarket_id = d.supermarket_id) AS visitors,
       (SELECT sum(units) FROM daily_product_sales s
        WHERE s.day = d.day AND s.supermarket_id = d.supermarket_id) AS product_units
FROM daily_sales d GROUP BY d.day, d.supermarket_id ORDER BY d.day, d.supermarket_id
"""


async def test_the_rollups_survive_the_migration_and_follow_a_zone_change(
    postgres: PostgresUnderTest,
) -> None:
    async with migrated_before(postgres, "010") as (connection, migration):
        await connection.execute("INSERT INTO supermarkets VALUES ('SMKT001'), ('SMKT002')")
        await connection.execute("INSERT INTO products (name, unit_price) VALUES ('milk', 1.50)")
        customers = [uuid.uuid4() for _ in range(4)]
        start = await connection.fetchval("SELECT date_trunc('day', now()) - interval '3 days'")
        for hour in range(0, 72, 5):
            moment = await connection.fetchval(
                "SELECT $1::timestamptz + $2 * interval '1 hour'", start, hour
            )
            store = "SMKT001" if hour % 2 else "SMKT002"
            await connection.execute(SALE, moment, store, customers[hour % 4])
        before = await connection.fetch(ROLLUPS)
        await connection.execute(migration.read_text())
        assert await connection.fetch(ROLLUPS) == before
        assert {
            tuple(r) for r in await connection.fetch("SELECT DISTINCT time_zone FROM supermarkets")
        } == {("UTC",)}

        await connection.execute(
            "UPDATE supermarkets SET time_zone = 'Asia/Tokyo' WHERE id = 'SMKT001'"
        )
        sales = await connection.fetch(
            "SELECT purchased_at, customer_id FROM purchases WHERE supermarket_id = 'SMKT001'"
        )
        tokyo = Counter(
            row["purchased_at"].astimezone(ZoneInfo("Asia/Tokyo")).date() for row in sales
        )
        moved = await connection.fetch(
            "SELECT day, sum(purchases) AS purchases, sum(units) AS units FROM daily_sales "
            "WHERE supermarket_id = 'SMKT001' GROUP BY day"
        )
        assert {row["day"]: row["purchases"] for row in moved} == dict(tokyo)
        assert all(row["units"] == 2 * row["purchases"] for row in moved)
        unmoved = [
            row for row in await connection.fetch(ROLLUPS) if row["supermarket_id"] == "SMKT002"
        ]
        assert unmoved == [row for row in before if row["supermarket_id"] == "SMKT002"]
