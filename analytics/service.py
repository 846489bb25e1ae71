"""The owners' questions, answered from the maintained aggregates."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from analytics import queries
from analytics.cursors import Position
from analytics.filters import Filters
from analytics.schemas import (
    DailySales,
    DailyTotals,
    Day,
    LoyalCustomer,
    LoyalCustomers,
    RankedProduct,
    ReturnedProduct,
    ReturnedProducts,
    StoreDay,
    StoreInRange,
    StoresInRange,
    StoreSummary,
    Supermarkets,
    TopProducts,
)
from analytics.visitors import Visitors
from db.pool import pooled_connection

Answer = TypeVar("Answer")


async def _ask(
    pool: asyncpg.Pool, question: Callable[[asyncpg.Connection], Awaitable[Answer]]
) -> Answer:
    """Run one read on a pooled connection."""
    async with pooled_connection(pool) as connection:
        return await question(connection)


def _stores_in_view(filters: Filters, stores: frozenset[str]) -> list[str]:
    """The one store asked about, or every store."""
    return [filters.supermarket_id] if filters.supermarket_id else sorted(stores)


async def unique_customers(
    pool: asyncpg.Pool, filters: Filters, visitors: Visitors, stores: frozenset[str]
) -> int:
    """How many distinct customers have bought anything (in a store, over a range): over a
    range from the bitmaps, caught up first; else from the maintained histograms."""
    if filters.dated:
        first, last = filters.days()
        await visitors.catch_up(pool)
        in_view = _stores_in_view(filters, stores)
        return visitors.distinct(in_view, first, last)
    if filters.supermarket_id is not None:
        return await _ask(
            pool, lambda c: c.fetchval(queries.UNIQUE_CUSTOMERS_IN_STORE, filters.supermarket_id)
        )
    return await _ask(pool, lambda c: c.fetchval(queries.UNIQUE_CUSTOMERS))


async def loyal_customers(
    pool: asyncpg.Pool,
    min_purchases: int,
    limit: int,
    start: int | Position,
    supermarket_id: str | None,
) -> LoyalCustomers:
    """Customers with at least `min_purchases` purchases (in one store), most first, a page
    from an offset or after a cursor's position; with the cursor of the page after it."""
    rows = await _ask(
        pool, lambda c: c.fetch(*_loyal_page(min_purchases, limit + 1, start, supermarket_id))
    )
    shown = [row for row in rows if row["customer_id"] is not None]
    following = None
    if len(shown) > limit:
        shown = shown[:limit]
        following = Position(shown[-1]["purchase_count"], shown[-1]["customer_id"]).cursor()
    return LoyalCustomers(
        min_purchases=min_purchases,
        count=rows[0]["total"],
        limit=limit,
        offset=start if isinstance(start, int) else None,
        customers=[
            LoyalCustomer(user_id=row["customer_id"], purchases=row["purchase_count"])
            for row in shown
        ],
        next=following,
    )


def _loyal_page(
    min_purchases: int, rows: int, start: int | Position, supermarket_id: str | None
) -> tuple[str, *tuple[object, ...]]:
    """The statement and its arguments for one page (one more row than shown: is there more?)."""
    if isinstance(start, Position):
        after = (start.purchases, start.customer_id)
        if supermarket_id is None:
            return (queries.LOYAL_CUSTOMERS_AFTER, min_purchases, rows, *after)
        return (queries.LOYAL_CUSTOMERS_IN_STORE_AFTER, min_purchases, rows, *after, supermarket_id)
    if supermarket_id is None:
        return (queries.LOYAL_CUSTOMERS, min_purchases, rows, start)
    return (queries.LOYAL_CUSTOMERS_IN_STORE, min_purchases, rows, start, supermarket_id)


async def top_products(pool: asyncpg.Pool, limit: int, filters: Filters) -> TopProducts:
    """The best sellers by units (in a store, over a range), ties with the last place included."""
    if filters.dated:
        rows = await _ask(
            pool,
            lambda c: c.fetch(
                queries.TOP_PRODUCTS_BETWEEN,
                limit,
                filters.from_,
                filters.to,
                filters.supermarket_id,
            ),
        )
    else:
        rows = await _ask(
            pool, lambda c: c.fetch(queries.TOP_PRODUCTS, limit, filters.supermarket_id)
        )
    return TopProducts(
        products=[
            RankedProduct(
                rank=row["rank"],
                product=row["name"],
                units_sold=row["units_sold"],
                units_returned=row["units_returned"],
            )
            for row in rows
        ]
    )


async def daily_sales(pool: asyncpg.Pool, filters: Filters) -> DailySales:
    """Per day and store: purchases, units, revenue, distinct customers."""
    rows = await _ask(
        pool,
        lambda c: c.fetch(queries.DAILY_SALES, filters.from_, filters.to, filters.supermarket_id),
    )
    return DailySales(
        from_=filters.from_,
        to=filters.to,
        supermarket_id=filters.supermarket_id,
        days=[StoreDay(**dict(row)) for row in rows],
    )


async def supermarkets(pool: asyncpg.Pool) -> Supermarkets:
    """Each store's totals."""
    rows = await _ask(pool, lambda c: c.fetch(queries.SUPERMARKETS))
    return Supermarkets(supermarkets=[StoreSummary(**dict(row)) for row in rows])


async def daily_totals(
    pool: asyncpg.Pool, filters: Filters, visitors: Visitors, stores: frozenset[str]
) -> DailyTotals:
    """Every day of the range for the stores in view, days without sales as zeros."""
    rows = await _ask(
        pool,
        lambda c: c.fetch(queries.DAILY_TOTALS, filters.from_, filters.to, filters.supermarket_id),
    )
    await visitors.catch_up(pool)
    in_view = _stores_in_view(filters, stores)
    return DailyTotals(
        from_=filters.from_,
        to=filters.to,
        supermarket_id=filters.supermarket_id,
        days=[
            Day(**dict(row), customers=visitors.distinct(in_view, row["day"], row["day"]))
            for row in rows
        ],
    )


async def stores_between(pool: asyncpg.Pool, filters: Filters, visitors: Visitors) -> StoresInRange:
    """Each store in view over the range, with its distinct customers."""
    first, last = filters.days()
    rows = await _ask(
        pool,
        lambda c: c.fetch(
            queries.STORES_BETWEEN, filters.from_, filters.to, filters.supermarket_id
        ),
    )
    await visitors.catch_up(pool)
    return StoresInRange(
        from_=filters.from_,
        to=filters.to,
        supermarkets=[
            StoreInRange(
                **dict(row),
                customers=visitors.distinct([row["supermarket_id"]], first, last),
            )
            for row in rows
        ],
    )


async def returned_products(pool: asyncpg.Pool, limit: int, filters: Filters) -> ReturnedProducts:
    """The products most taken back (in a store, over a range of the refunds' days)."""
    rows = await _ask(
        pool,
        lambda c: c.fetch(
            queries.RETURNED_PRODUCTS, limit, filters.from_, filters.to, filters.supermarket_id
        ),
    )
    return ReturnedProducts(
        products=[
            ReturnedProduct(
                product=row["name"],
                units_returned=row["units_returned"],
                refunded=row["refunded"],
            )
            for row in rows
        ]
    )
