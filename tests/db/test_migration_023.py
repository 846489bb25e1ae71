"""Migration 023 on a database where an import was interrupted while folding its customers'
visits: the old single watermark becomes the range of customers up to it, so the import,
rerun after the upgrade, folds exactly the customers beyond it, and a watermark never set
leaves every visit to fold."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from loader.queries import FOLD_QUEUE
from tests.conftest import PostgresUnderTest
from tests.db.migrations import migrated_before

CUSTOMERS = 6
WAITING_VISIT = """
INSERT INTO import_visits (supermarket_id, customer_id, purchases, first_at, last_at)
VALUES ($1, $2, 1, $3, $3)
"""


@pytest.mark.parametrize("folded", [3, None], ids=["halfway", "not-begun"])
async def test_an_interrupted_folds_watermark_becomes_its_range_of_customers(
    postgres: PostgresUnderTest, folded: int | None
) -> None:
    customers = sorted(uuid.uuid4() for _ in range(CUSTOMERS))
    at = datetime(2026, 5, 1, 12, tzinfo=UTC)
    async with migrated_before(postgres, "023") as (connection, migration):
        await connection.execute("INSERT INTO supermarkets VALUES ('SMKT001'), ('SMKT002')")
        for number, customer in enumerate(customers):
            await connection.execute(WAITING_VISIT, "SMKT001", customer, at)
            if number % 2:
                await connection.execute(WAITING_VISIT, "SMKT002", customer, at)
        watermark = customers[folded - 1] if folded else None
        await connection.execute("UPDATE import_fold_progress SET folded_through = $1", watermark)

        await connection.execute(migration.read_text())

        slices = await connection.fetch(
            "SELECT first_customer, last_customer FROM import_folded_slices"
        )
        assert [tuple(s) for s in slices] == ([(uuid.UUID(int=0), watermark)] if watermark else [])
        await connection.execute(FOLD_QUEUE, 100)
        left = await connection.fetch(
            "SELECT DISTINCT customer_id FROM import_work.fold_visit ORDER BY customer_id"
        )
        assert [row["customer_id"] for row in left] == customers[folded or 0 :]
        assert not await connection.fetchval(
            "SELECT to_regclass('import_fold_progress') IS NOT NULL"
        )
