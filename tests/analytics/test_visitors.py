"""Distinct customers over a range from the analytics' bitmaps (analytics/visitors.py): equal to
a recount of the raw purchases for any range and store, a sale counted as soon as its 201 is
sent, a transaction still open during a read counted once it commits, and a recount of a
store's days (zone change) read again whole."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from tests.conftest import PostgresUnderTest
from tests.rows import one, pairs

SALE = """
WITH p AS (
    INSERT INTO purchases (purchased_at, supermarket_id, customer_id, total_amount)
    VALUES ($1, $2, $3, 1.50) RETURNING id, purchased_at, supermarket_id
)
INSERT INTO purchase_items
    (purchase_id, purchased_at, supermarket_id, product_id, quantity, unit_price)
SELECT p.id, p.purchased_at, p.supermarket_id, m.id, 1, 1.50
FROM p, (SELECT id FROM products WHERE name = 'milk') m
"""


async def recount(db: asyncpg.Connection, first: date, last: date, store: str | None) -> int:
    """Distinct customers with a purchase on a local day of the range, from the raw rows."""
    zones = pairs(await db.fetch("SELECT id, time_zone FROM supermarkets"))
    customers = set()
    for row in await db.fetch("SELECT supermarket_id, purchased_at, customer_id FROM purchases"):
        day = row["purchased_at"].astimezone(ZoneInfo(zones[row["supermarket_id"]])).date()
        if first <= day <= last and store in (None, row["supermarket_id"]):
            customers.add(row["customer_id"])
    return len(customers)


async def answer(analytics: httpx.AsyncClient, first: date, last: date, store: str | None) -> int:
    params: dict[str, str] = {"from": first.isoformat(), "to": last.isoformat()}
    if store:
        params["supermarket_id"] = store
    response = await analytics.get("/unique-customers", params=params)
    assert response.status_code == 200, response.text
    return int(response.json()["unique_customers"])


async def test_any_range_and_store_equals_a_recount(
    seeded: asyncpg.Connection, analytics: httpx.AsyncClient
) -> None:
    first_day, last_day = one(
        await seeded.fetchrow(
            "SELECT min(purchased_at)::date, max(purchased_at)::date FROM purchases"
        )
    )
    rng = random.Random(14)
    span = (last_day - first_day).days
    for _ in range(25):
        start = first_day + timedelta(days=rng.randint(-3, span))
        end = start + timedelta(days=rng.randint(0, 400))
        store = rng.choice([None, "SMKT001", "SMKT002", "SMKT003"])
        assert await answer(analytics, start, end, store) == await recount(
            seeded, start, end, store
        ), (start, end, store)


async def test_a_sale_counts_as_soon_as_its_201_is_sent(
    seeded: asyncpg.Connection, cash_register: httpx.AsyncClient, analytics: httpx.AsyncClient
) -> None:
    today = datetime.now(UTC).date()
    week = today - timedelta(days=6)
    before = await answer(analytics, week, today, None)
    for _ in range(3):
        sold = await cash_register.post(
            "/purchase",
            json={"supermarket_id": "SMKT002", "user_id": str(uuid.uuid4()), "items": ["milk"]},
        )
        assert sold.status_code == 201
        assert await answer(analytics, week, today, None) == before + 1
        before += 1
    assert before == await recount(seeded, week, today, None)


async def test_a_transaction_open_during_a_read_is_counted_once_it_commits(
    seeded: asyncpg.Connection, analytics: httpx.AsyncClient, postgres: PostgresUnderTest
) -> None:
    day = date(2025, 1, 7)
    moment = datetime(2025, 1, 7, 12, tzinfo=UTC)
    before = await answer(analytics, day, day, None)
    slow = await asyncpg.connect(postgres.database_url)
    try:
        transaction = slow.transaction()
        await transaction.start()
        await slow.execute(SALE, moment, "SMKT001", uuid.uuid4())
        # Reads while it is open: they cannot see it, and must not skip it later.
        assert await answer(analytics, day, day, None) == before
        await seeded.execute(SALE, moment, "SMKT003", uuid.uuid4())  # a later one commits first
        assert await answer(analytics, day, day, None) == before + 1
        await transaction.commit()
    finally:
        await slow.close()
    assert await answer(analytics, day, day, None) == before + 2
    assert before + 2 == await recount(seeded, day, day, None)


async def test_many_owners_at_once_get_the_exact_figure(
    seeded: asyncpg.Connection, cash_register: httpx.AsyncClient, analytics: httpx.AsyncClient
) -> None:
    last = datetime.now(UTC).date()
    first = last - timedelta(days=700)

    async def sell() -> None:
        for _ in range(10):
            sold = await cash_register.post(
                "/purchase",
                json={"supermarket_id": "SMKT001", "user_id": str(uuid.uuid4()), "items": ["eggs"]},
            )
            assert sold.status_code == 201

    selling = asyncio.create_task(sell())
    counts = await asyncio.gather(*(answer(analytics, first, last, None) for _ in range(32)))
    await selling
    expected = await recount(seeded, first, last, None)
    assert all(expected - 10 <= count <= expected for count in counts)
    assert await answer(analytics, first, last, None) == expected


async def test_a_store_moved_to_another_zone_is_read_again_whole(
    seeded: asyncpg.Connection, analytics: httpx.AsyncClient
) -> None:
    first_day = await seeded.fetchval("SELECT min(purchased_at)::date FROM purchases")
    week = (first_day, first_day + timedelta(days=6))
    await answer(analytics, *week, "SMKT002")  # the bitmaps are read
    await seeded.execute(
        "UPDATE supermarkets SET time_zone = 'Pacific/Kiritimati' WHERE id = 'SMKT002'"
    )
    assert await answer(analytics, *week, "SMKT002") == await recount(seeded, *week, "SMKT002")
    assert await answer(analytics, *week, None) == await recount(seeded, *week, None)
