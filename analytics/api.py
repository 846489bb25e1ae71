"""HTTP only: parse the query, call the service, answer."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Query, Request

from analytics import service
from analytics.filters import DEFAULT_DAILY_DAYS, check_filters
from analytics.models import DailySales, LoyalCustomers, Supermarkets, TopProducts, UniqueCustomers
from db.health import check_database

router = APIRouter()
PROBLEM = {"description": "Problem details (application/problem+json)"}


async def _pool(request: Request) -> asyncpg.Pool:
    return request.app.state.pool


async def _stores(request: Request) -> frozenset[str]:
    return request.app.state.catalog.current.supermarkets


Pool = Annotated[asyncpg.Pool, Depends(_pool)]
Stores = Annotated[frozenset[str], Depends(_stores)]
StoreFilter = Annotated[str | None, Query(max_length=64, description="Only this store.")]
FromDay = Annotated[date | None, Query(alias="from", description="First UTC day, inclusive.")]
ToDay = Annotated[date | None, Query(description="Last UTC day, inclusive.")]


@router.get("/")
async def service_info(request: Request) -> dict[str, Any]:
    """What this service answers, with links."""
    base = str(request.base_url).rstrip("/")
    return {
        "service": "analytics",
        "description": "What the sales say: customers, loyalty and best sellers.",
        "links": {
            "health": f"{base}/health",
            "unique_customers": f"{base}/unique-customers",
            "loyal_customers": f"{base}/loyal-customers?min_purchases=3&limit=100&offset=0",
            "top_products": f"{base}/top-products?limit=3",
            "daily_sales": f"{base}/sales/daily",
            "supermarkets": f"{base}/supermarkets",
            "docs": f"{base}/docs",
        },
    }


@router.get("/health", responses={503: PROBLEM})
async def health(pool: Pool) -> dict[str, str]:
    """Ready when the database answers."""
    await check_database(pool)
    return {"status": "ok", "database": "ok"}


@router.get("/unique-customers", responses={422: PROBLEM, 503: PROBLEM})
async def unique_customers(
    pool: Pool,
    stores: Stores,
    supermarket_id: StoreFilter = None,
    from_: FromDay = None,
    to: ToDay = None,
) -> UniqueCustomers:
    """How many distinct customers have bought anything, in one store and/or over a range."""
    filters = check_filters(stores, supermarket_id, from_, to)
    return UniqueCustomers(unique_customers=await service.unique_customers(pool, filters))


@router.get("/loyal-customers", responses={422: PROBLEM, 503: PROBLEM})
async def loyal_customers(
    pool: Pool,
    min_purchases: Annotated[int, Query(ge=1, le=1_000_000)] = 3,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    supermarket_id: StoreFilter = None,
    stores: Stores = frozenset(),
) -> LoyalCustomers:
    """Customers with at least `min_purchases` purchases (counted in one store when given),
    most purchases first, paginated. Loyalty is over the whole history: no date range."""
    check_filters(stores, supermarket_id, None, None)
    return await service.loyal_customers(pool, min_purchases, limit, offset, supermarket_id)


@router.get("/top-products", responses={422: PROBLEM, 503: PROBLEM})
async def top_products(
    pool: Pool,
    stores: Stores,
    limit: Annotated[int, Query(ge=1, le=100)] = 3,
    supermarket_id: StoreFilter = None,
    from_: FromDay = None,
    to: ToDay = None,
) -> TopProducts:
    """Best sellers by units sold, in one store and/or over a range; products tied with the
    last place are all listed."""
    filters = check_filters(stores, supermarket_id, from_, to)
    return await service.top_products(pool, limit, filters)


@router.get("/sales/daily", responses={422: PROBLEM, 503: PROBLEM})
async def daily_sales(
    pool: Pool,
    stores: Stores,
    from_: FromDay = None,
    to: ToDay = None,
    supermarket_id: StoreFilter = None,
) -> DailySales:
    """Per UTC day and store: purchases, units, revenue and distinct customers. Without a
    range, the last 30 days up to today."""
    filters = check_filters(stores, supermarket_id, from_, to, default_days=DEFAULT_DAILY_DAYS)
    return await service.daily_sales(pool, filters)


@router.get("/supermarkets", responses={503: PROBLEM})
async def supermarkets(pool: Pool) -> Supermarkets:
    """Each store with its purchases, units, revenue, distinct customers and trading days."""
    return await service.supermarkets(pool)
