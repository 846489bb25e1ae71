"""POST /purchase on the happy paths: receipts, customers, prices from the catalog."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import httpx

from tests.conftest import SeedFacts
from tests.rollups import counted
from tests.rows import one


async def test_new_customer_gets_a_fresh_id_and_a_receipt(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection, seed_facts: SeedFacts
) -> None:
    response = await cash_register.post(
        "/purchase", json={"supermarket_id": "SMKT001", "items": ["milk", "bread"]}
    )
    assert response.status_code == 201
    receipt = response.json()
    customer = uuid.UUID(receipt["user_id"])
    assert receipt["supermarket_id"] == "SMKT001"
    assert [line["product"] for line in receipt["items"]] == ["milk", "bread"]
    expected_total = seed_facts.prices["milk"] + seed_facts.prices["bread"]
    assert Decimal(receipt["total_amount"]) == expected_total
    stored = one(
        await catalog.fetchrow(
            "SELECT customer_id, total_amount, supermarket_id FROM purchases WHERE id = $1",
            receipt["purchase_id"],
        )
    )
    assert stored["customer_id"] == customer
    assert stored["total_amount"] == expected_total
    await counted(catalog)
    assert (
        await catalog.fetchval("SELECT purchase_count FROM customers WHERE id = $1", customer) == 1
    )


async def test_repeated_items_are_quantities_and_totals_use_catalog_prices(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection, seed_facts: SeedFacts
) -> None:
    response = await cash_register.post(
        "/purchase",
        json={"supermarket_id": "SMKT002", "items": ["milk", "eggs", "milk", "milk", "eggs"]},
    )
    assert response.status_code == 201
    receipt = response.json()
    lines = {line["product"]: line for line in receipt["items"]}
    assert lines["milk"]["quantity"] == 3
    assert lines["eggs"]["quantity"] == 2
    assert Decimal(lines["milk"]["unit_price"]) == seed_facts.prices["milk"]
    assert Decimal(lines["milk"]["line_total"]) == 3 * seed_facts.prices["milk"]
    expected = 3 * seed_facts.prices["milk"] + 2 * seed_facts.prices["eggs"]
    assert Decimal(receipt["total_amount"]) == expected
    stored = await catalog.fetch(
        "SELECT p.name, i.quantity, i.unit_price FROM purchase_items i "
        "JOIN products p ON p.id = i.product_id WHERE i.purchase_id = $1 ORDER BY p.name",
        receipt["purchase_id"],
    )
    assert [(row["name"], row["quantity"], row["unit_price"]) for row in stored] == [
        ("eggs", 2, seed_facts.prices["eggs"]),
        ("milk", 3, seed_facts.prices["milk"]),
    ]


async def test_money_is_sent_as_exact_decimal_strings(cash_register: httpx.AsyncClient) -> None:
    response = await cash_register.post(
        "/purchase", json={"supermarket_id": "SMKT001", "items": ["apples", "yogurt", "apples"]}
    )
    receipt = response.json()
    assert isinstance(receipt["total_amount"], str)
    assert Decimal(receipt["total_amount"]) == Decimal("2.80")


async def test_known_customer_is_counted_again_not_duplicated(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    customer = str(uuid.uuid4())
    for store in ("SMKT001", "SMKT002", "SMKT003"):
        response = await cash_register.post(
            "/purchase", json={"supermarket_id": store, "user_id": customer, "items": ["bread"]}
        )
        assert response.status_code == 201
        assert response.json()["user_id"] == customer
    await counted(catalog)
    assert await catalog.fetchval("SELECT count(*) FROM customers") == 1
    assert (
        await catalog.fetchval(
            "SELECT purchase_count FROM customers WHERE id = $1", uuid.UUID(customer)
        )
        == 3
    )


async def test_unseen_user_id_creates_that_customer(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    customer = uuid.uuid4()
    response = await cash_register.post(
        "/purchase", json={"supermarket_id": "SMKT003", "user_id": str(customer), "items": ["eggs"]}
    )
    assert response.status_code == 201
    await counted(catalog)
    assert await catalog.fetchval("SELECT count(*) FROM customers WHERE id = $1", customer) == 1


async def test_a_price_change_in_the_catalog_applies_to_the_next_sale(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    await catalog.execute("UPDATE products SET unit_price = 9.99 WHERE name = 'cheese'")
    response = await cash_register.post(
        "/purchase", json={"supermarket_id": "SMKT001", "items": ["cheese"]}
    )
    assert Decimal(response.json()["total_amount"]) == Decimal("9.99")


async def test_a_new_product_can_be_sold_once_the_catalog_notice_arrives(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    await catalog.execute("INSERT INTO products (name, unit_price) VALUES ('butter', 2.25)")
    for _ in range(50):
        response = await cash_register.post(
            "/purchase", json={"supermarket_id": "SMKT001", "items": ["butter"]}
        )
        if response.status_code == 201:
            break
        await asyncio.sleep(0.05)
    assert response.status_code == 201
    assert Decimal(response.json()["total_amount"]) == Decimal("2.25")


async def test_service_info_and_health(cash_register: httpx.AsyncClient) -> None:
    info = await cash_register.get("/")
    assert info.status_code == 200
    assert "POST /purchase" in info.json()["endpoints"].values()
    health = await cash_register.get("/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "database": "ok"}


async def test_a_purchase_is_visible_to_analytics_as_soon_as_it_is_acknowledged(
    cash_register: httpx.AsyncClient, analytics: httpx.AsyncClient
) -> None:
    before = (await analytics.get("/unique-customers")).json()["unique_customers"]
    response = await cash_register.post(
        "/purchase", json={"supermarket_id": "SMKT001", "items": ["orange juice"] * 7}
    )
    assert response.status_code == 201
    after = (await analytics.get("/unique-customers")).json()["unique_customers"]
    assert after == before + 1
    top = (await analytics.get("/top-products", params={"limit": 1})).json()["products"]
    assert top[0]["product"] == "orange juice"
    assert top[0]["units_sold"] == 7


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema with its `$ref` followed inside the OpenAPI document."""
    while "$ref" in schema:
        *_, name = schema["$ref"].split("/")
        schema = document["components"]["schemas"][name]
    return schema


async def test_purchase_is_documented_in_openapi(cash_register: httpx.AsyncClient) -> None:
    """The checkout lane answers POST /purchase; the documented route declares everything it
    reads and answers, from the same models."""
    document = (await cash_register.get("/openapi.json")).json()
    operation = document["paths"]["/purchase"]["post"]
    schema = resolve(document, operation["requestBody"]["content"]["application/json"]["schema"])
    assert set(schema["required"]) == {"supermarket_id", "items"}
    assert schema["additionalProperties"] is False
    assert {"201", "413", "422", "503"} <= set(operation["responses"])
    assert "Idempotent-Replayed" in operation["responses"]["201"]["headers"]
    receipt = resolve(
        document, operation["responses"]["201"]["content"]["application/json"]["schema"]
    )
    assert {"purchase_id", "items", "total_amount"} <= set(receipt["properties"])
    [key] = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert key["in"] == "header"
    assert key["required"] is False
    upload = document["paths"]["/purchases"]["post"]
    envelope = resolve(document, upload["requestBody"]["content"]["application/json"]["schema"])
    sale = resolve(document, envelope["properties"]["purchases"]["items"])
    assert {"client_purchase_id", "purchased_at", "supermarket_id", "items"} <= set(
        sale["required"]
    )


async def test_other_methods_on_purchase_still_reach_fastapi(
    cash_register: httpx.AsyncClient,
) -> None:
    response = await cash_register.get("/purchase")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
