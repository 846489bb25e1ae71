"""Migration 005 on a database that already has offline sales: their ids leave the expiring
key table for offline_sales, live keys stay where they are."""

from __future__ import annotations

import uuid

from tests.conftest import PostgresUnderTest
from tests.db.migrations import migrated_before

SALE = """
WITH p AS (
    INSERT INTO purchases (purchased_at, supermarket_id, customer_id, total_amount)
    VALUES (coalesce($1, now()), 'SMKT001', $2, 1.50) RETURNING id, purchased_at
),
i AS (
    INSERT INTO purchase_items
        (purchase_id, purchased_at, supermarket_id, product_id, quantity, unit_price)
    SELECT id, purchased_at, 'SMKT001', 1, 1, 1.50 FROM p
)
INSERT INTO idempotency_keys (key, request_hash, purchase_id, purchased_at)
SELECT $3, '\\x00', id, purchased_at FROM p
"""


async def test_offline_ids_move_to_offline_sales(postgres: PostgresUnderTest) -> None:
    async with migrated_before(postgres, "005") as (connection, migration):
        await connection.execute("INSERT INTO supermarkets VALUES ('SMKT001')")
        await connection.execute("INSERT INTO products (name, unit_price) VALUES ('milk', 1.50)")
        # A live sale: its key claimed at the sale's own instant (both now()).
        await connection.execute(SALE, None, uuid.uuid4(), "live-1")
        # An offline sale: uploaded two days after it happened.
        two_days_ago = await connection.fetchval("SELECT now() - interval '2 days'")
        await connection.execute(SALE, two_days_ago, uuid.uuid4(), "till-1")
        await connection.execute(migration.read_text())
        assert await connection.fetchval("SELECT array_agg(key) FROM idempotency_keys") == [
            "live-1"
        ]
        moved = await connection.fetch(
            "SELECT supermarket_id, client_purchase_id FROM offline_sales"
        )
        assert [tuple(row) for row in moved] == [("SMKT001", "till-1")]
