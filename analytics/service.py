"""The owners' questions, answered from the maintained aggregates."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from analytics import queries
from analytics.models import LoyalCustomer, LoyalCustomers, RankedProduct, TopProducts
from db.pool import pooled_connection

Answer = TypeVar("Answer")


async def _ask(
    pool: asyncpg.Pool, question: Callable[[asyncpg.Connection], Awaitable[Answer]]
) -> Answer:
    """Run one read on a pooled connection."""
    async with pooled_connection(pool) as connection:
        return await question(connection)


async def unique_customers(pool: asyncpg.Pool) -> int:
    """How many distinct customers have bought anything."""
    return await _ask(pool, lambda connection: connection.fetchval(queries.UNIQUE_CUSTOMERS))


async def loyal_customers(
    pool: asyncpg.Pool, min_purchases: int, limit: int, offset: int
) -> LoyalCustomers:
    """Customers with at least `min_purchases` purchases, most first, one page."""
    rows = await _ask(
        pool,
        lambda connection: connection.fetch(queries.LOYAL_CUSTOMERS, min_purchases, limit, offset),
    )
    return LoyalCustomers(
        min_purchases=min_purchases,
        count=rows[0]["total"],
        limit=limit,
        offset=offset,
        customers=[
            LoyalCustomer(user_id=row["customer_id"], purchases=row["purchase_count"])
            for row in rows
            if row["customer_id"] is not None
        ],
    )


async def top_products(pool: asyncpg.Pool, limit: int) -> TopProducts:
    """The best sellers by units, ties with the last place included."""
    rows = await _ask(pool, lambda connection: connection.fetch(queries.TOP_PRODUCTS, limit))
    return TopProducts(
        products=[
            RankedProduct(rank=row["rank"], product=row["name"], units_sold=row["units_sold"])
            for row in rows
        ]
    )
