"""HTTP only: parse the query, call the service, answer."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Query, Request

from analytics import service
from analytics.models import LoyalCustomers, TopProducts, UniqueCustomers
from db.health import check_database

router = APIRouter()
PROBLEM = {"description": "Problem details (application/problem+json)"}


async def _pool(request: Request) -> asyncpg.Pool:
    return request.app.state.pool


Pool = Annotated[asyncpg.Pool, Depends(_pool)]


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
            "docs": f"{base}/docs",
        },
    }


@router.get("/health", responses={503: PROBLEM})
async def health(pool: Pool) -> dict[str, str]:
    """Ready when the database answers."""
    await check_database(pool)
    return {"status": "ok", "database": "ok"}


@router.get("/unique-customers", responses={503: PROBLEM})
async def unique_customers(pool: Pool) -> UniqueCustomers:
    """How many distinct customers have bought anything."""
    return UniqueCustomers(unique_customers=await service.unique_customers(pool))


@router.get("/loyal-customers", responses={422: PROBLEM, 503: PROBLEM})
async def loyal_customers(
    pool: Pool,
    min_purchases: Annotated[int, Query(ge=1, le=1_000_000)] = 3,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> LoyalCustomers:
    """Customers with at least `min_purchases` purchases, most purchases first, paginated."""
    return await service.loyal_customers(pool, min_purchases, limit, offset)


@router.get("/top-products", responses={422: PROBLEM, 503: PROBLEM})
async def top_products(pool: Pool, limit: Annotated[int, Query(ge=1, le=100)] = 3) -> TopProducts:
    """Best sellers by units sold; products tied with the last place are all listed."""
    return await service.top_products(pool, limit)
