"""HTTP only: parse the query, call the service, answer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypedDict

from fastapi import APIRouter, Depends, Query, Request, params
from starlette.responses import HTMLResponse, Response

from analytics import service
from analytics.cursors import Position
from analytics.errors import InvalidCursor
from analytics.filters import DEFAULT_DAILY_DAYS, Filters, check_filters, today_in
from analytics.lifetime import Held, Source
from analytics.owners import Owner, store_in_view
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
    UniqueCustomers,
)
from analytics.spreadsheets import AsCsv, csv_table
from db.health import check_database
from httpkit.authentication import BEARER
from httpkit.problems import PROBLEM
from httpkit.screens import SCREEN_OR_JSON, page, wants_html
from httpkit.settings import http_settings
from shop.rules import StoreId

router = APIRouter()


class DataRoute(TypedDict):
    """What every data view declares: the owner's key, and the problems it may answer."""

    dependencies: Sequence[params.Depends]
    responses: dict[int | str, dict[str, Any]]


DATA = DataRoute(dependencies=[BEARER], responses={c: PROBLEM for c in (401, 403, 422, 503)})
# A view whose table also comes as CSV (`?format=csv` or `Accept: text/csv`).
TABLE = DataRoute(
    dependencies=[BEARER],
    responses={
        200: {
            "description": "The view as JSON, or its table as CSV (UTF-8 with a byte order mark).",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **DATA["responses"],
    },
)

StoreFilter = Annotated[StoreId | None, Query(description="Only this store.")]
FromDay = Annotated[
    date | None, Query(alias="from", description="First day, inclusive: each store's local day.")
]
ToDay = Annotated[date | None, Query(description="Last day, inclusive: each store's local day.")]


SCREEN_FILES = Path(__file__).parent / "screen"


@router.get("/", responses=SCREEN_OR_JSON)
async def service_info(request: Request) -> Any:
    """The Analytics Dashboard for a browser; for a JSON client, what this service answers."""
    if wants_html(request):
        return page(SCREEN_FILES / "dashboard.html")
    base = (http_settings().public_url or "").rstrip("/")  # relative links unless configured
    return {
        "service": "analytics",
        "description": "What the sales say: customers, loyalty and best sellers.",
        "links": {
            "health": f"{base}/health",
            "unique_customers": f"{base}/unique-customers",
            "loyal_customers": f"{base}/loyal-customers?min_purchases=3&limit=100&offset=0",
            "top_products": f"{base}/top-products?limit=3",
            "returned_products": f"{base}/returned-products?limit=5",
            "daily_sales": f"{base}/sales/daily",
            "daily_totals": f"{base}/sales/daily-totals",
            "sales_by_store": f"{base}/sales/by-store",
            "supermarkets": f"{base}/supermarkets",
            "docs": f"{base}/docs",
            "dashboard": f"{base}/dashboard",
        },
    }


@router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
async def dashboard() -> Response:
    """The owners' dashboard: sign in with an owner's key, pick the days and the store."""
    return page(SCREEN_FILES / "dashboard.html")


@router.get("/health", responses={503: PROBLEM})
async def health(held: Held) -> dict[str, Any]:
    """Ready when the database the data answers come from answers; with a replica, also
    where the reads go now and the replica's lag (`replication_lag_seconds`)."""
    await check_database(held.reads.pool())
    return {"status": "ok", "database": "ok", **held.reads.facts()}


@router.get("/unique-customers", response_model_exclude_none=True, **DATA)
async def unique_customers(
    held: Held,
    source: Source,
    owner: Owner,
    supermarket_id: StoreFilter = None,
    from_: FromDay = None,
    to: ToDay = None,
) -> UniqueCustomers:
    """How many distinct customers have bought anything, in one store and/or over a range."""
    filters = check_filters(held.stores, store_in_view(owner, supermarket_id), from_, to)
    return UniqueCustomers(
        unique_customers=await service.unique_customers(
            source, filters, held.visitors, held.stores
        ),
        time_zones=held.time_zones(filters.supermarket_id) if filters.dated else None,
    )


@router.get("/loyal-customers", response_model=LoyalCustomers, **TABLE)
async def loyal_customers(
    held: Held,
    source: Source,
    owner: Owner,
    min_purchases: Annotated[int, Query(ge=1, le=1_000_000)] = 3,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[
        int,
        Query(
            ge=0,
            le=10_000_000,
            description="Rows to skip: kept for old clients, and slower the deeper it goes. "
            "Use `after` instead.",
        ),
    ] = 0,
    after: Annotated[
        str | None,
        Query(
            max_length=200,
            description="The `next` cursor of the previous page: the page after it, as fast "
            "however deep. Not with `offset`.",
        ),
    ] = None,
    supermarket_id: StoreFilter = None,
    as_csv: AsCsv = False,
) -> LoyalCustomers | Response:
    """Customers with at least `min_purchases` purchases (counted in one store when given),
    most purchases first, paginated: follow `next` (keyset), or give `offset`. Loyalty is over
    the whole history: no date range."""
    supermarket_id = store_in_view(owner, supermarket_id)
    check_filters(held.stores, supermarket_id, None, None)
    if after is not None and offset:
        raise InvalidCursor("after, offset: give one of them, not both")
    start = Position.of(after) if after is not None else offset
    answer = await service.loyal_customers(source, min_purchases, limit, start, supermarket_id)
    return csv_table(answer.customers, LoyalCustomer, "loyal-customers") if as_csv else answer


@router.get("/top-products", response_model_exclude_none=True, response_model=TopProducts, **TABLE)
async def top_products(
    held: Held,
    source: Source,
    owner: Owner,
    limit: Annotated[int, Query(ge=1, le=100)] = 3,
    supermarket_id: StoreFilter = None,
    from_: FromDay = None,
    to: ToDay = None,
    as_csv: AsCsv = False,
) -> TopProducts | Response:
    """Best sellers by units sold, in one store and/or over a range; products tied with the
    last place are all listed."""
    filters = check_filters(held.stores, store_in_view(owner, supermarket_id), from_, to)
    answer = await service.top_products(source, limit, filters)
    answer.time_zones = held.time_zones(filters.supermarket_id) if filters.dated else None
    return csv_table(answer.products, RankedProduct, "top-products") if as_csv else answer


@router.get(
    "/returned-products",
    response_model_exclude_none=True,
    response_model=ReturnedProducts,
    **TABLE,
)
async def returned_products(
    held: Held,
    source: Source,
    owner: Owner,
    limit: Annotated[int, Query(ge=1, le=100)] = 5,
    supermarket_id: StoreFilter = None,
    from_: FromDay = None,
    to: ToDay = None,
    as_csv: AsCsv = False,
) -> ReturnedProducts | Response:
    """The products most taken back by refunds, in units, with what their refunds gave back:
    at one store (where the refunds were taken) and/or over a range of the refunds' days."""
    filters = check_filters(held.stores, store_in_view(owner, supermarket_id), from_, to)
    answer = await service.returned_products(source, limit, filters)
    answer.time_zones = held.time_zones(filters.supermarket_id) if filters.dated else None
    if as_csv:
        return csv_table(answer.products, ReturnedProduct, "returned-products")
    return answer


def days_in_view(
    held: Held,
    owner: Owner,
    from_: FromDay = None,
    to: ToDay = None,
    supermarket_id: StoreFilter = None,
) -> Filters:
    """The days asked about (without a range, the last 30 up to today) in the store asked
    about or the owner's own: the filters of the day-by-day views."""
    return _recent_days(held, store_in_view(owner, supermarket_id), from_, to)


def _recent_days(held: Held, store: str | None, from_: date | None, to: date | None) -> Filters:
    """The range asked, or the last 30 days up to the latest local today of the stores."""
    return check_filters(
        held.stores,
        store,
        from_,
        to,
        default_days=DEFAULT_DAILY_DAYS,
        today=today_in(held.time_zones(store).values()),
    )


DaysInView = Annotated[Filters, Depends(days_in_view)]


@router.get("/sales/daily", response_model=DailySales, **TABLE)
async def daily_sales(
    held: Held, source: Source, filters: DaysInView, as_csv: AsCsv = False
) -> DailySales | Response:
    """Per day and store (the store's local days, `time_zones`): purchases, units, revenue
    and distinct customers. Without a range, the last 30 days up to today."""
    answer = await service.daily_sales(source, filters)
    answer.time_zones = held.time_zones(filters.supermarket_id)
    return csv_table(answer.days, StoreDay, "sales-daily") if as_csv else answer


@router.get("/sales/daily-totals", response_model=DailyTotals, **TABLE)
async def daily_totals(
    held: Held, source: Source, filters: DaysInView, as_csv: AsCsv = False
) -> DailyTotals | Response:
    """Every day of the range (days without sales as zeros; each store's local days) for all
    stores in view or one: purchases, units, revenue and distinct customers (one even if in
    two stores). Without a range, the last 30 days up to today."""
    answer = await service.daily_totals(source, filters, held.visitors, held.stores)
    answer.time_zones = held.time_zones(filters.supermarket_id)
    return csv_table(answer.days, Day, "sales-daily-totals") if as_csv else answer


@router.get("/sales/by-store", response_model=StoresInRange, **TABLE)
async def sales_by_store(
    held: Held,
    source: Source,
    owner: Owner,
    from_: FromDay = None,
    to: ToDay = None,
    as_csv: AsCsv = False,
) -> StoresInRange | Response:
    """Each store over the range (a store manager's key: its own only): purchases, units,
    revenue and distinct customers. Without a range, the last 30 days up to today."""
    own = store_in_view(owner, None)
    filters = _recent_days(held, own, from_, to)
    answer = await service.stores_between(source, filters, held.visitors)
    answer.time_zones = held.time_zones(own)
    return csv_table(answer.supermarkets, StoreInRange, "sales-by-store") if as_csv else answer


@router.get("/supermarkets", response_model=Supermarkets, **TABLE)
async def supermarkets(
    held: Held, source: Source, owner: Owner, as_csv: AsCsv = False
) -> Supermarkets | Response:
    """Each store with its purchases, units, revenue, distinct customers and trading days (a
    store manager's key: its own store only)."""
    answer = await service.supermarkets(source)
    own = store_in_view(owner, None)
    if own is not None:
        answer.supermarkets = [s for s in answer.supermarkets if s.supermarket_id == own]
    return csv_table(answer.supermarkets, StoreSummary, "supermarkets") if as_csv else answer
