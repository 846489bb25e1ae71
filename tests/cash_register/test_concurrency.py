"""Concurrent purchases leave exact counts: no lost update, no double count."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import asyncpg
import httpx

from tests.rollups import counted
from tests.rows import pairs

PRODUCTS = ["milk", "bread", "eggs", "cheese"]


async def test_100_concurrent_purchases_leave_exact_counts(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    customers = [str(uuid.uuid4()) for _ in range(10)]
    baskets = [
        {
            "supermarket_id": f"SMKT00{1 + n % 3}",
            "user_id": customers[n % 10],
            "items": [PRODUCTS[(n + k) % 4] for k in range(1 + n % 4)],
        }
        for n in range(100)
    ]
    responses = await asyncio.gather(
        *(cash_register.post("/purchase", json=basket) for basket in baskets)
    )
    assert [response.status_code for response in responses] == [201] * 100
    assert len({response.json()["purchase_id"] for response in responses}) == 100

    units = Counter(name for basket in baskets for name in basket["items"])
    await counted(catalog)
    stored_units = pairs(
        await catalog.fetch(
            "SELECT p.name, sum(s.units_sold)::int FROM product_sales s "
            "JOIN products p ON p.id = s.product_id GROUP BY p.name"
        )
    )
    assert stored_units == dict(units)
    counts = await catalog.fetch("SELECT id, purchase_count FROM customers")
    assert {str(row["id"]): row["purchase_count"] for row in counts} == dict.fromkeys(customers, 10)
    histogram = pairs(
        await catalog.fetch(
            "SELECT purchase_count, sum(customers)::int FROM customer_purchase_counts "
            "GROUP BY purchase_count HAVING sum(customers) <> 0"
        )
    )
    assert histogram == {10: 10}
    assert await catalog.fetchval("SELECT count(*) FROM purchases") == 100
