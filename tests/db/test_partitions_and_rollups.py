"""Monthly partitions, the integrity checks that replace row-level keys, and daily rollups."""

from __future__ import annotations

import asyncio
import csv
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

import asyncpg
import httpx
import pytest

from db.partitions import create_months
from tests.conftest import SEED_DIR, app_client
from tests.rollups import counted
from tests.rows import pairs


async def record(
    connection: asyncpg.Connection, store: str, moment: datetime, products: dict[int, int]
) -> None:
    """A purchase written the way the writers do: purchase and lines in one statement."""
    await connection.execute(
        """
        WITH p AS (
            INSERT INTO purchases (purchased_at, supermarket_id, customer_id, total_amount)
            VALUES ($1, $2, $3, 1.00) RETURNING id, purchased_at, supermarket_id
        )
        INSERT INTO purchase_items (purchase_id, purchased_at, supermarket_id, product_id,
                                    quantity, unit_price)
        SELECT p.id, p.purchased_at, p.supermarket_id, l.product_id, l.quantity, 1.00
        FROM p, unnest($4::int[], $5::int[]) AS l(product_id, quantity)
        """,
        moment,
        store,
        uuid.uuid4(),
        list(products),
        list(products.values()),
    )


async def test_a_sale_in_a_month_without_partition_is_kept_and_moved_later(
    catalog: asyncpg.Connection,
) -> None:
    far = datetime(2031, 7, 14, 12, tzinfo=UTC)
    await record(catalog, "SMKT001", far, {1: 2, 2: 1})
    assert await catalog.fetchval("SELECT count(*) FROM purchases_default") == 1
    units_before = await catalog.fetchval("SELECT sum(units_sold) FROM product_sales")

    assert await create_months(catalog, date(2031, 6, 1), date(2031, 8, 1)) == 3
    assert await catalog.fetchval("SELECT count(*) FROM purchases_default") == 0
    assert await catalog.fetchval("SELECT count(*) FROM purchase_items_default") == 0
    assert await catalog.fetchval("SELECT count(*) FROM purchases_y2031m07") == 1
    assert await catalog.fetchval("SELECT count(*) FROM purchase_items_y2031m07") == 2
    assert await catalog.fetchval("SELECT sum(units_sold) FROM product_sales") == units_before
    assert await create_months(catalog, date(2031, 6, 1), date(2031, 8, 1)) == 0


async def test_a_date_range_reads_only_its_months(catalog: asyncpg.Connection) -> None:
    await create_months(catalog, date(2030, 1, 1), date(2030, 12, 1))
    plan = "\n".join(
        row[0]
        for row in await catalog.fetch(
            "EXPLAIN SELECT count(*) FROM purchases "
            "WHERE purchased_at >= '2030-03-01' AND purchased_at < '2030-04-01'"
        )
    )
    assert "purchases_y2030m03" in plan
    assert "purchases_y2030m04" not in plan
    assert "purchases_default" not in plan


async def test_unknown_product_in_a_line_is_refused(catalog: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await record(catalog, "SMKT001", datetime.now(UTC), {999_999: 1})


async def test_stores_and_products_are_never_deleted(catalog: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.RestrictViolationError):
        await catalog.execute("DELETE FROM products WHERE name = 'milk'")
    with pytest.raises(asyncpg.RestrictViolationError):
        await catalog.execute("DELETE FROM supermarkets WHERE id = 'SMKT001'")


ORPHANS = """
SELECT (SELECT count(*) FROM purchase_items i WHERE NOT EXISTS (
            SELECT 1 FROM purchases p WHERE p.id = i.purchase_id
            AND p.purchased_at = i.purchased_at AND p.supermarket_id = i.supermarket_id))
     + (SELECT count(*) FROM purchases p WHERE NOT EXISTS (
            SELECT 1 FROM purchase_items i WHERE i.purchase_id = p.id))
     + (SELECT count(*) FROM purchases p WHERE NOT EXISTS (
            SELECT 1 FROM customers c WHERE c.id = p.customer_id))
"""


async def test_every_write_path_leaves_no_orphans(
    seeded: asyncpg.Connection, cash_register: httpx.AsyncClient
) -> None:
    for items in (["milk"], ["eggs", "eggs", "bread"]):
        response = await cash_register.post(
            "/purchase", json={"supermarket_id": "SMKT002", "items": items}
        )
        assert response.status_code == 201
    await counted(seeded)  # a till's customer is counted with its sale's fold
    assert await seeded.fetchval(ORPHANS) == 0


@dataclass
class SeedDay:
    purchases: int = 0
    units: int = 0
    revenue: Decimal = Decimal(0)
    customers: set[str] = field(default_factory=set)


def seed_days() -> dict[tuple[str, str], SeedDay]:
    """Per UTC day and store, counted from the CSV with the csv module."""
    days: dict[tuple[str, str], SeedDay] = defaultdict(SeedDay)
    with (SEED_DIR / "purchases.csv").open(encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            day = days[(row["timestamp"][:10], row["supermarket_id"])]
            day.purchases += 1
            day.units += len(row["items_list"].split(","))
            day.revenue += Decimal(row["total_amount"])
            day.customers.add(row["user_id"])
    return days


async def test_daily_rollups_match_the_csv(seeded: asyncpg.Connection) -> None:
    stored = await seeded.fetch(
        "SELECT day::text, supermarket_id, sum(purchases)::int AS purchases, "
        "sum(units)::int AS units, sum(revenue) AS revenue, sum(customers)::int AS customers "
        "FROM daily_sales GROUP BY 1, 2"
    )
    expected = seed_days()
    assert {(r["day"], r["supermarket_id"]) for r in stored} == set(expected)
    for row in stored:
        day = expected[(row["day"], row["supermarket_id"])]
        assert (row["purchases"], row["units"], row["revenue"], row["customers"]) == (
            day.purchases,
            day.units,
            day.revenue,
            len(day.customers),
        )


async def test_per_store_customer_counts_match_the_csv(seeded: asyncpg.Connection) -> None:
    with (SEED_DIR / "purchases.csv").open(encoding="utf-8-sig") as handle:
        visits = Counter((row["supermarket_id"], row["user_id"]) for row in csv.DictReader(handle))
    stored = await seeded.fetch(
        "SELECT supermarket_id, customer_id::text, purchase_count FROM store_customers"
    )
    assert {(r["supermarket_id"], r["customer_id"]): r["purchase_count"] for r in stored} == dict(
        visits
    )
    histogram = pairs(
        await seeded.fetch(
            "SELECT supermarket_id || ':' || purchase_count, sum(customers)::int "
            "FROM store_customer_purchase_counts GROUP BY 1 HAVING sum(customers) <> 0"
        )
    )
    assert histogram == dict(Counter(f"{store}:{count}" for (store, _), count in visits.items()))


async def test_the_cash_register_creates_the_coming_months_at_start(
    catalog: asyncpg.Connection, cash_register: httpx.AsyncClient
) -> None:
    """Drop next month's partitions; a starting cash register creates them again."""
    next_month = await catalog.fetchval(
        "SELECT to_char(date_trunc('month', now() + interval '1 month'), '\"y\"YYYY\"m\"MM')"
    )
    assert await catalog.fetchval("SELECT to_regclass($1) IS NOT NULL", f"purchases_{next_month}")
    await catalog.execute(f"DROP TABLE purchase_items_{next_month}, purchases_{next_month}")
    async for _ in app_client("cash_register.main"):
        for _attempt in range(100):
            if await catalog.fetchval(
                "SELECT to_regclass($1) IS NOT NULL", f"purchases_{next_month}"
            ):
                break
            await asyncio.sleep(0.05)
    assert await catalog.fetchval("SELECT to_regclass($1) IS NOT NULL", f"purchases_{next_month}")
