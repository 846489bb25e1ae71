"""Loyal-customer pages and competition ranking, on data made through the cash register."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import SeedFacts


async def test_pages_cover_the_list_once_in_order(
    seeded: asyncpg.Connection, analytics: httpx.AsyncClient, seed_facts: SeedFacts
) -> None:
    whole = (
        await analytics.get("/loyal-customers", params={"min_purchases": 2, "limit": 1000})
    ).json()
    pages = []
    offset = 0
    while True:
        page = (
            await analytics.get(
                "/loyal-customers", params={"min_purchases": 2, "limit": 37, "offset": offset}
            )
        ).json()
        assert page["count"] == whole["count"]
        if not page["customers"]:
            break
        pages.extend(page["customers"])
        offset += 37
    assert pages == whole["customers"]
    assert len(pages) == sum(1 for n in seed_facts.purchases_per_customer.values() if n >= 2)
    counts = [customer["purchases"] for customer in pages]
    assert counts == sorted(counts, reverse=True)


async def _follow_cursors(
    analytics: httpx.AsyncClient, params: dict[str, Any]
) -> tuple[list[dict[str, Any]], int]:
    """Every page by its `next` cursor; the customers in order, and the pages asked."""
    shown: list[dict[str, Any]] = []
    asked, after = 0, None
    while True:
        page = (
            await analytics.get(
                "/loyal-customers", params={**params, **({"after": after} if after else {})}
            )
        ).json()
        asked += 1
        assert page["offset"] is (None if after else 0)
        shown.extend(page["customers"])
        after = page["next"]
        if after is None:
            return shown, asked


@pytest.mark.parametrize("store", [None, "SMKT002"])
async def test_cursors_cover_the_list_once_in_order_with_ties_across_pages(
    seeded: asyncpg.Connection,
    analytics: httpx.AsyncClient,
    seed_facts: SeedFacts,
    store: str | None,
) -> None:
    in_store = {"supermarket_id": store} if store else {}
    whole = (
        await analytics.get(
            "/loyal-customers", params={"min_purchases": 2, "limit": 1000, **in_store}
        )
    ).json()
    assert whole["next"] is None
    shown, asked = await _follow_cursors(analytics, {"min_purchases": 2, "limit": 37, **in_store})
    assert shown == whole["customers"]
    assert asked == -(-len(shown) // 37), "no empty page at the end"
    if store is None:
        assert len(shown) == sum(1 for n in seed_facts.purchases_per_customer.values() if n >= 2)
    ids = [customer["user_id"] for customer in shown]
    assert len(ids) == len(set(ids))


async def test_a_page_of_exactly_the_rest_has_no_next(
    seeded: asyncpg.Connection, analytics: httpx.AsyncClient, seed_facts: SeedFacts
) -> None:
    loyal = sum(1 for n in seed_facts.purchases_per_customer.values() if n >= 3)
    exact = (await analytics.get("/loyal-customers", params={"limit": loyal})).json()
    assert (len(exact["customers"]), exact["next"]) == (loyal, None)
    short = (await analytics.get("/loyal-customers", params={"limit": loyal - 1})).json()
    rest = (await analytics.get("/loyal-customers", params={"after": short["next"]})).json()
    assert rest["customers"] == exact["customers"][loyal - 1 :]
    assert rest["next"] is None


@pytest.mark.parametrize(
    "query",
    [
        {"after": "not-a-cursor"},
        {"after": "MDo0"},  # base64 of "0:4": no purchase count 0, no such id
        {"after": "", "offset": 5},
        {"after": "MzoxMjM0NTY3OC0xMjM0LTEyMzQtMTIzNC0xMjM0NTY3ODkwMTI", "offset": 5},
    ],
)
async def test_a_cursor_not_given_by_the_service_or_with_an_offset_is_a_422(
    analytics: httpx.AsyncClient, query: dict[str, Any]
) -> None:
    response = await analytics.get("/loyal-customers", params=query)
    assert response.status_code == 422, response.text
    assert "after" in response.json()["detail"]


@pytest.mark.parametrize(
    "query",
    [{"min_purchases": 0}, {"limit": 0}, {"limit": 5000}, {"offset": -1}, {"limit": "ten"}],
)
async def test_bad_page_parameters_are_a_422_naming_them(
    analytics: httpx.AsyncClient, query: dict[str, Any]
) -> None:
    response = await analytics.get("/loyal-customers", params=query)
    assert response.status_code == 422
    assert next(iter(query)) in response.json()["detail"]


async def test_competition_ranking_lists_every_product_tied_with_the_last_place(
    cash_register: httpx.AsyncClient, analytics: httpx.AsyncClient
) -> None:
    # milk 5; bread and eggs 3 each; cheese and apples 2 each; yogurt 1.
    sales = ["milk"] * 5 + ["bread", "eggs"] * 3 + ["cheese", "apples"] * 2 + ["yogurt"]
    response = await cash_register.post(
        "/purchase",
        json={"supermarket_id": "SMKT001", "user_id": str(uuid.uuid4()), "items": sales},
    )
    assert response.status_code == 201
    top3 = (await analytics.get("/top-products", params={"limit": 3})).json()["products"]
    assert top3 == [
        {"rank": 1, "product": "milk", "units_sold": 5, "units_returned": 0},
        {"rank": 2, "product": "bread", "units_sold": 3, "units_returned": 0},
        {"rank": 2, "product": "eggs", "units_sold": 3, "units_returned": 0},
    ]
    top4 = (await analytics.get("/top-products", params={"limit": 4})).json()["products"]
    assert [(row["rank"], row["product"]) for row in top4] == [
        (1, "milk"),
        (2, "bread"),
        (2, "eggs"),
        (4, "apples"),
        (4, "cheese"),
    ]


@pytest.mark.parametrize("limit", [0, 101, -3])
async def test_bad_top_products_limit_is_a_422(analytics: httpx.AsyncClient, limit: int) -> None:
    response = await analytics.get("/top-products", params={"limit": limit})
    assert response.status_code == 422
    assert "limit" in response.json()["detail"]
