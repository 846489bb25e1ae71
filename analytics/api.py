"""HTTP only: parse the query, call the service, answer."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from analytics import service
from analytics.filters import DEFAULT_DAILY_DAYS, check_filters
from analytics.lifetime import Held
from analytics.models import DailySales, LoyalCustomers, Supermarkets, TopProducts, UniqueCustomers
from analytics.owners import Owner, store_in_view
from db.health import check_database
from httpkit.access import BEARER
from httpkit.problems import PROBLEM
from shop.rules import StoreId

router = APIRouter()
DATA = {"dependencies": [BEARER], "responses": {c: PROBLEM for c in (401, 403, 422, 503)}}

StoreFilter = Annotated[StoreId | None, Query(description="Only this store.")]
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
async def health(held: Held) -> dict[str, str]:
    """Ready when the database answers."""
    await check_database(held.pool)
    return {"status": "ok", "database": "ok"}


@router.get("/unique-customers", **DATA)
async def unique_customers(
    held: Held,
    owner: Owner,
    supermarket_id: StoreFilter = None,
    from_: FromDay = None,
    to: ToDay = None,
) -> UniqueCustomers:
    """How many distinct customers have bought anything, in one store and/or over a range."""
    filters = check_filters(held.stores, store_in_view(owner, supermarket_id), from_, to)
    return UniqueCustomers(unique_customers=await service.unique_customers(held.pool, filters))


@router.get("/loyal-customers", **DATA)
async def loyal_customers(
    held: Held,
    owner: Owner,
    min_purchases: Annotated[int, Query(ge=1, le=1_000_000)] = 3,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    supermarket_id: StoreFilter = None,
) -> LoyalCustomers:
    """Customers with at least `min_purchases` purchases (counted in one store when given),
    most purchases first, paginated. Loyalty is over the whole history: no date range."""
    supermarket_id = store_in_view(owner, supermarket_id)
    check_filters(held.stores, supermarket_id, None, None)
    return await service.loyal_customers(held.pool, min_purchases, limit, offset, supermarket_id)


@router.get("/top-products", **DATA)
async def top_products(
    held: Held,
    owner: Owner,
    limit: Annotated[int, Query(ge=1, le=100)] = 3,
    supermarket_id: StoreFilter = None,
    from_: FromDay = None,
    to: ToDay = None,
) -> TopProducts:
    """Best sellers by units sold, in one store and/or over a range; products tied with the
    last place are all listed."""
    filters = check_filters(held.stores, store_in_view(owner, supermarket_id), from_, to)
    return await service.top_products(held.pool, limit, filters)


@router.get("/sales/daily", **DATA)
async def daily_sales(
    held: Held,
    owner: Owner,
    from_: FromDay = None,
    to: ToDay = None,
    supermarket_id: StoreFilter = None,
) -> DailySales:
    """Per UTC day and store: purchases, units, revenue and distinct customers. Without a
    range, the last 30 days up to today."""
    filters = check_filters(
        held.stores,
        store_in_view(owner, supermarket_id),
        from_,
        to,
        default_days=DEFAULT_DAILY_DAYS,
    )
    return await service.daily_sales(held.pool, filters)


@router.get("/supermarkets", **DATA)
async def supermarkets(held: Held, owner: Owner) -> Supermarkets:
    """Each store with its purchases, units, revenue, distinct customers and trading days (a
    store manager's key: its own store only)."""
    answer = await service.supermarkets(held.pool)
    own = store_in_view(owner, None)
    if own is not None:
        answer.supermarkets = [s for s in answer.supermarkets if s.supermarket_id == own]
    return answer
