"""Analytics on the seed data equal figures counted from the CSV files by the test itself."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from loader.service import load_chain_data
from tests.conftest import SEED_DIR, SeedFacts


def competition_ranking(units: dict[str, int], limit: int) -> list[dict[str, Any]]:
    """Rank 1, 2, 2, 4 by units, keeping every product tied with the last place shown."""
    ranked = []
    for name, sold in sorted(units.items(), key=lambda item: (-item[1], item[0])):
        rank = 1 + sum(1 for other in units.values() if other > sold)
        if rank > limit:
            break
        # The seed has no refunds: nothing was returned.
        ranked.append({"rank": rank, "product": name, "units_sold": sold, "units_returned": 0})
    return ranked


@pytest.fixture
async def seeded_twice(seeded: asyncpg.Connection) -> asyncpg.Connection:
    report = await load_chain_data(seeded, SEED_DIR)
    assert report.purchases_stored == 0
    return seeded


async def test_unique_customers(
    seeded_twice: asyncpg.Connection, analytics: httpx.AsyncClient, seed_facts: SeedFacts
) -> None:
    response = await analytics.get("/unique-customers")
    assert response.status_code == 200
    assert response.json() == {"unique_customers": len(seed_facts.purchases_per_customer)}


async def test_loyal_customers_with_three_or_more_purchases(
    seeded_twice: asyncpg.Connection, analytics: httpx.AsyncClient, seed_facts: SeedFacts
) -> None:
    expected = sorted(
        (
            (customer, count)
            for customer, count in seed_facts.purchases_per_customer.items()
            if count >= 3
        ),
        key=lambda item: (-item[1], item[0]),
    )
    response = await analytics.get("/loyal-customers", params={"limit": 1000})
    body = response.json()
    assert body["min_purchases"] == 3
    assert body["count"] == len(expected)
    assert [(c["user_id"], c["purchases"]) for c in body["customers"]] == expected


@pytest.mark.parametrize("min_purchases", [1, 2, 4, 5])
async def test_loyal_customers_at_other_thresholds(
    seeded: asyncpg.Connection,
    analytics: httpx.AsyncClient,
    seed_facts: SeedFacts,
    min_purchases: int,
) -> None:
    expected = sum(1 for n in seed_facts.purchases_per_customer.values() if n >= min_purchases)
    body = (await analytics.get("/loyal-customers", params={"min_purchases": min_purchases})).json()
    assert body["count"] == expected
    assert len(body["customers"]) == min(expected, 100)


@pytest.mark.parametrize("limit", [1, 3, 6, 10])
async def test_top_products(
    seeded_twice: asyncpg.Connection,
    analytics: httpx.AsyncClient,
    seed_facts: SeedFacts,
    limit: int,
) -> None:
    response = await analytics.get("/top-products", params={"limit": limit})
    assert response.json()["products"] == competition_ranking(
        dict(seed_facts.units_per_product), limit
    )


async def test_top_products_defaults_to_three(
    seeded: asyncpg.Connection, analytics: httpx.AsyncClient, seed_facts: SeedFacts
) -> None:
    response = await analytics.get("/top-products")
    assert response.json()["products"] == competition_ranking(dict(seed_facts.units_per_product), 3)


async def test_seed_has_a_tie_that_top_products_lists_whole(
    seeded: asyncpg.Connection, analytics: httpx.AsyncClient, seed_facts: SeedFacts
) -> None:
    """In the seed, cereal and orange juice sold the same: a limit that cuts between them
    lists both."""
    units = seed_facts.units_per_product
    tied = [name for name, sold in units.items() if list(units.values()).count(sold) > 1]
    assert tied, "the seed data has a tie in units sold"
    ranking = competition_ranking(dict(units), len(units))
    rank_of_tie = next(row["rank"] for row in ranking if row["product"] in tied)
    body = (await analytics.get("/top-products", params={"limit": rank_of_tie})).json()
    assert len(body["products"]) > rank_of_tie
    assert {row["product"] for row in body["products"] if row["rank"] == rank_of_tie} >= {
        name for name in tied if units[name] == ranking[rank_of_tie - 1]["units_sold"]
    }


async def test_empty_shop_answers_zero(
    db: asyncpg.Connection, analytics: httpx.AsyncClient
) -> None:
    assert (await analytics.get("/unique-customers")).json() == {"unique_customers": 0}
    loyal = (await analytics.get("/loyal-customers")).json()
    assert (loyal["count"], loyal["customers"]) == (0, [])
    assert (await analytics.get("/top-products")).json() == {"products": []}


async def test_service_info_links_every_view(analytics: httpx.AsyncClient) -> None:
    body = (await analytics.get("/")).json()
    for view in ("/health", "/unique-customers", "/loyal-customers", "/top-products"):
        assert any(view in link for link in body["links"].values())
    health = (await analytics.get("/health")).json()
    assert health == {"status": "ok", "database": "ok", "reads_from": "primary"}
