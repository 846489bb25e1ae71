"""Filtered views, daily sales and store summaries on generated data, checked against sums
taken from the generated CSV with the csv module, before and after new sales at the till."""

from __future__ import annotations

import csv
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import pytest

from loader.generate import generate
from loader.service import load_chain_data
from loader.settings import LoaderSettings
from tests.analytics.test_seed_answers import competition_ranking
from tests.conftest import PostgresUnderTest

TODAY = datetime.now(UTC).date()
WINDOW = (TODAY - timedelta(days=29), TODAY)


@dataclass
class Sale:
    day: date
    store: str
    customer: str
    items: list[str]
    total: Decimal


@dataclass
class Ledger:
    """Every sale, kept by the test itself; the answer key."""

    sales: list[Sale] = field(default_factory=list)

    def between(self, first: date, last: date, store: str | None = None) -> list[Sale]:
        return [
            s for s in self.sales if first <= s.day <= last and (store is None or s.store == store)
        ]

    def in_store(self, store: str | None) -> list[Sale]:
        return [s for s in self.sales if store is None or s.store == store]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("generated")
    generate(
        folder,
        purchases=4000,
        stores=3,
        days=90,
        end=datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1),
        seed=7,
    )
    return folder


def read_ledger(folder: Path) -> Ledger:
    with (folder / "purchases.csv").open(encoding="utf-8-sig") as handle:
        return Ledger(
            [
                Sale(
                    datetime.fromisoformat(row["timestamp"]).date(),
                    row["supermarket_id"],
                    row["user_id"],
                    row["items_list"].split(","),
                    Decimal(row["total_amount"]),
                )
                for row in csv.DictReader(handle)
            ]
        )


@pytest.fixture
async def ledger(db: asyncpg.Connection, generated: Path, postgres: PostgresUnderTest) -> Ledger:
    """The generated file loaded as a large import is: many chunks, two connections storing
    them at once, each in a shard of its own."""
    await load_chain_data(
        db,
        generated,
        LoaderSettings(loader_chunk_purchases=300, loader_workers=2),
        open_connection=lambda: asyncpg.connect(postgres.database_url),
    )
    return read_ledger(generated)


STORES = [None, "SMKT001", "SMKT003"]


async def test_the_import_was_stored_by_two_connections(
    ledger: Ledger, db: asyncpg.Connection
) -> None:
    """What the views below are checked on: chunks stored side by side, in two shards."""
    shards = await db.fetchval("SELECT array_agg(DISTINCT shard) FROM product_sales")
    assert sorted(shards) == [16, 17]


@pytest.mark.parametrize("store", STORES)
async def test_unique_customers_by_store_and_range(
    ledger: Ledger, analytics: httpx.AsyncClient, store: str | None
) -> None:
    query = {"supermarket_id": store} if store else {}
    body = (await analytics.get("/unique-customers", params=query)).json()
    assert body["unique_customers"] == len({s.customer for s in ledger.in_store(store)})
    ranged = {**query, "from": WINDOW[0].isoformat(), "to": WINDOW[1].isoformat()}
    body = (await analytics.get("/unique-customers", params=ranged)).json()
    assert body["unique_customers"] == len({s.customer for s in ledger.between(*WINDOW, store)})


@pytest.mark.parametrize("store", ["SMKT001", "SMKT002"])
async def test_loyal_customers_in_one_store(
    ledger: Ledger, analytics: httpx.AsyncClient, store: str
) -> None:
    visits = Counter(s.customer for s in ledger.in_store(store))
    expected = sorted(((c, n) for c, n in visits.items() if n >= 2), key=lambda x: (-x[1], x[0]))
    body = (
        await analytics.get(
            "/loyal-customers", params={"supermarket_id": store, "min_purchases": 2, "limit": 1000}
        )
    ).json()
    assert body["count"] == len(expected)
    assert [(c["user_id"], c["purchases"]) for c in body["customers"]] == expected[:1000]


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("dated", [False, True])
async def test_top_products_by_store_and_range(
    ledger: Ledger, analytics: httpx.AsyncClient, store: str | None, dated: bool
) -> None:
    sales = ledger.between(*WINDOW, store) if dated else ledger.in_store(store)
    units = Counter(item for s in sales for item in s.items)
    query: dict[str, str | int] = {"limit": 5}
    if store:
        query["supermarket_id"] = store
    if dated:
        query |= {"from": WINDOW[0].isoformat(), "to": WINDOW[1].isoformat()}
    body = (await analytics.get("/top-products", params=query)).json()
    assert body["products"] == competition_ranking(dict(units), 5)


def expected_days(sales: list[Sale]) -> list[dict[str, object]]:
    days: dict[tuple[date, str], list[Sale]] = defaultdict(list)
    for sale in sales:
        days[(sale.day, sale.store)].append(sale)
    return [
        {
            "day": day.isoformat(),
            "supermarket_id": store,
            "purchases": len(group),
            "units": sum(len(s.items) for s in group),
            "revenue": sum((s.total for s in group), Decimal(0)),
            # These sales have no refunds: the gross revenue is the revenue.
            "gross_revenue": sum((s.total for s in group), Decimal(0)),
            "refunded": Decimal(0),
            "refunds": 0,
            "customers": len({s.customer for s in group}),
        }
        for (day, store), group in sorted(days.items())
    ]


def as_decimals(days: list[dict[str, object]]) -> list[dict[str, object]]:
    money = ("revenue", "gross_revenue", "refunded")
    return [{**day, **{field: Decimal(str(day[field])) for field in money}} for day in days]


@pytest.mark.parametrize("store", STORES)
async def test_daily_sales_over_30_days(
    ledger: Ledger, analytics: httpx.AsyncClient, store: str | None
) -> None:
    query = {"from": WINDOW[0].isoformat(), "to": WINDOW[1].isoformat()}
    if store:
        query["supermarket_id"] = store
    body = (await analytics.get("/sales/daily", params=query)).json()
    assert (body["from"], body["to"]) == (query["from"], query["to"])
    assert as_decimals(body["days"]) == expected_days(ledger.between(*WINDOW, store))


async def test_daily_sales_default_to_the_last_30_days(
    ledger: Ledger, analytics: httpx.AsyncClient
) -> None:
    body = (await analytics.get("/sales/daily")).json()
    assert (body["from"], body["to"]) == (WINDOW[0].isoformat(), WINDOW[1].isoformat())
    assert as_decimals(body["days"]) == expected_days(ledger.between(*WINDOW))


def expected_stores(ledger: Ledger) -> list[dict[str, object]]:
    stores = sorted({s.store for s in ledger.sales})
    return [
        {
            "supermarket_id": store,
            "time_zone": "UTC",  # every store's until one is set (test_time_zones.py)
            "purchases": len(ledger.in_store(store)),
            "units": sum(len(s.items) for s in ledger.in_store(store)),
            "revenue": sum((s.total for s in ledger.in_store(store)), Decimal(0)),
            "gross_revenue": sum((s.total for s in ledger.in_store(store)), Decimal(0)),
            "refunded": Decimal(0),
            "refunds": 0,
            "customers": len({s.customer for s in ledger.in_store(store)}),
            "first_day": min(s.day for s in ledger.in_store(store)).isoformat(),
            "last_day": max(s.day for s in ledger.in_store(store)).isoformat(),
        }
        for store in stores
    ]


async def test_supermarkets_summary(ledger: Ledger, analytics: httpx.AsyncClient) -> None:
    body = (await analytics.get("/supermarkets")).json()
    assert as_decimals(body["supermarkets"]) == expected_stores(ledger)


async def test_new_sales_at_the_till_show_in_every_view(
    ledger: Ledger, cash_register: httpx.AsyncClient, analytics: httpx.AsyncClient
) -> None:
    returning = ledger.sales[0].customer
    for store, customer, items in [
        ("SMKT001", returning, ["milk", "milk", "cheese"]),
        ("SMKT003", str(uuid.uuid4()), ["bread"]),
        ("SMKT003", None, ["eggs", "yogurt"]),
    ]:
        body = {"supermarket_id": store, "items": items} | (
            {"user_id": customer} if customer else {}
        )
        receipt = (await cash_register.post("/purchase", json=body)).json()
        ledger.sales.append(
            Sale(
                datetime.fromisoformat(receipt["purchased_at"]).date(),
                store,
                receipt["user_id"],
                items,
                Decimal(receipt["total_amount"]),
            )
        )

    window = {"from": WINDOW[0].isoformat(), "to": WINDOW[1].isoformat()}
    daily = (await analytics.get("/sales/daily", params=window)).json()
    assert as_decimals(daily["days"]) == expected_days(ledger.between(*WINDOW))
    stores = (await analytics.get("/supermarkets")).json()
    assert as_decimals(stores["supermarkets"]) == expected_stores(ledger)
    unique = (await analytics.get("/unique-customers", params=window)).json()
    assert unique["unique_customers"] == len({s.customer for s in ledger.between(*WINDOW)})
    top = (await analytics.get("/top-products", params={**window, "limit": 10})).json()
    units = Counter(item for s in ledger.between(*WINDOW) for item in s.items)
    assert top["products"] == competition_ranking(dict(units), 10)


@pytest.mark.parametrize(
    ("path", "query", "named"),
    [
        ("/unique-customers", {"supermarket_id": "SMKT404"}, "SMKT404"),
        ("/top-products", {"from": "2026-02-01", "to": "2026-01-01"}, "after"),
        ("/top-products", {"from": "2026-02-01"}, "both ends"),
        ("/sales/daily", {"from": "2020-01-01", "to": "2026-01-01"}, "at most"),
        ("/sales/daily", {"from": "yesterday"}, "from"),
        ("/sales/daily", {"to": "0001-01-01"}, "to: 0001-01-01"),
        ("/loyal-customers", {"supermarket_id": "SMKT404"}, "SMKT404"),
    ],
)
async def test_bad_filters_are_a_422_naming_them(
    db: asyncpg.Connection,
    analytics: httpx.AsyncClient,
    path: str,
    query: dict[str, str],
    named: str,
) -> None:
    response = await analytics.get(path, params=query)
    assert response.status_code == 422
    assert named in response.json()["detail"]
