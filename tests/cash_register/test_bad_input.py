"""Bad input gets a 422 naming the problem, as problem details, and changes nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.rollups import counted

TOO_MANY = ["milk"] * 101

BAD_PURCHASES: list[tuple[str, Any, list[str]]] = [
    (
        "unknown products, all named",
        {"supermarket_id": "SMKT001", "items": ["milk", "caviar", "truffles"]},
        ["caviar", "truffles"],
    ),
    ("malformed supermarket", {"supermarket_id": "SMKT 1", "items": ["milk"]}, ["supermarket_id"]),
    ("empty basket", {"supermarket_id": "SMKT001", "items": []}, ["empty"]),
    (
        "malformed user id",
        {"supermarket_id": "SMKT001", "user_id": "not-a-uuid", "items": ["milk"]},
        ["user_id"],
    ),
    ("more than 100 items", {"supermarket_id": "SMKT001", "items": TOO_MANY}, ["101", "100"]),
    (
        "unknown field (a client price)",
        {"supermarket_id": "SMKT001", "items": ["milk"], "total_amount": "0.01"},
        ["total_amount"],
    ),
    ("missing supermarket", {"items": ["milk"]}, ["supermarket_id"]),
    ("missing items", {"supermarket_id": "SMKT001"}, ["items"]),
    ("items not a list", {"supermarket_id": "SMKT001", "items": "milk"}, ["items"]),
    ("item not a name", {"supermarket_id": "SMKT001", "items": ["milk", 7]}, ["items[1]"]),
    ("body not an object", ["milk"], ["body"]),
]


@pytest.mark.parametrize(
    ("body", "named"), [case[1:] for case in BAD_PURCHASES], ids=[case[0] for case in BAD_PURCHASES]
)
async def test_bad_purchase_is_refused_with_a_clear_422_and_stores_nothing(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection, body: Any, named: list[str]
) -> None:
    response = await cash_register.post("/purchase", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    for word in named:
        assert word in problem["detail"]
    await counted(catalog)
    for table in ("purchases", "purchase_items", "customers", "product_sales"):
        assert await catalog.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_unknown_products_are_listed_for_the_till(cash_register: httpx.AsyncClient) -> None:
    response = await cash_register.post(
        "/purchase",
        json={"supermarket_id": "SMKT001", "items": ["caviar", "milk", "caviar", "gin"]},
    )
    assert response.json()["unknown_products"] == ["caviar", "gin"]


async def test_malformed_json_is_a_422(cash_register: httpx.AsyncClient) -> None:
    response = await cash_register.post(
        "/purchase",
        content=b'{"supermarket_id": "SMKT001", "items": [',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_customer_who_bought_before_is_unchanged_by_a_refused_purchase(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    customer = str(uuid.uuid4())
    ok = await cash_register.post(
        "/purchase", json={"supermarket_id": "SMKT001", "user_id": customer, "items": ["milk"]}
    )
    assert ok.status_code == 201
    bad = await cash_register.post(
        "/purchase", json={"supermarket_id": "SMKT001", "user_id": customer, "items": ["caviar"]}
    )
    assert bad.status_code == 422
    await counted(catalog)
    assert (
        await catalog.fetchval(
            "SELECT purchase_count FROM customers WHERE id = $1", uuid.UUID(customer)
        )
        == 1
    )
    assert await catalog.fetchval("SELECT count(*) FROM purchases") == 1


async def test_unknown_route_is_a_problem_404(cash_register: httpx.AsyncClient) -> None:
    response = await cash_register.get("/receipts/latest")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_body_over_the_limit_is_a_413_and_stores_nothing(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    body = b'{"supermarket_id": "SMKT001", "items": ["milk"], "pad": "' + b"x" * (2 << 20) + b'"}'
    response = await cash_register.post(
        "/purchase", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert await catalog.fetchval("SELECT count(*) FROM purchases") == 0


async def test_a_chunked_body_over_the_limit_is_a_413_while_it_is_read(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    """No Content-Length to trust: the limit is counted as the chunks arrive."""
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"supermarket_id": "SMKT001", "items": ["milk"], "pad": "'
        for _ in range(64):
            sent += 1
            yield b"x" * 65536
        yield b'"}'

    response = await cash_register.post(
        "/purchase", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["max_bytes"] == 1 << 20
    assert sent < 64  # refused while reading, not after the whole body
    assert "content-length" not in response.request.headers
    assert await catalog.fetchval("SELECT count(*) FROM purchases") == 0


async def test_a_sale_for_a_store_that_is_not_the_tills_is_a_403_and_stores_nothing(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    """An unknown store can only be another store than the till's own (its store exists)."""
    response = await cash_register.post(
        "/purchase", json={"supermarket_id": "SMKT999", "items": ["milk"]}
    )
    assert response.status_code == 403
    assert response.json()["supermarket_id"] == "SMKT001"
    assert await catalog.fetchval("SELECT count(*) FROM purchases") == 0


async def test_an_answer_never_echoes_more_than_a_little_of_what_was_sent(
    cash_register: httpx.AsyncClient,
) -> None:
    """A basket of 100 unknown names of 9,000 characters each (900 KB, within the body limit):
    the answer names ten of them, each cut short, and says how many there were."""
    names = [f"{n:03d}" + "x" * 9_000 for n in range(100)]
    sent = {"supermarket_id": "SMKT001", "items": names}
    response = await cash_register.post("/purchase", json=sent)
    assert response.status_code == 422
    problem = response.json()
    assert problem["unknown_products_count"] == 100
    assert [name[:3] for name in problem["unknown_products"]] == [f"{n:03d}" for n in range(10)]
    assert len(response.content) < 4_000

    bad_types = {"supermarket_id": "SMKT001", "items": [{"name": "x" * 5_000}] * 100}
    response = await cash_register.post("/purchase", json=bad_types)
    assert response.status_code == 422
    assert len(response.json()["errors"]) == 10
    assert len(response.content) < 4_000


async def test_an_offline_upload_is_answered_in_less_than_it_sent(
    cash_register: httpx.AsyncClient,
) -> None:
    sales = [
        {
            "client_purchase_id": f"echo-{n}",
            "supermarket_id": "SMKT001",
            "purchased_at": "2026-01-01T10:00:00Z",
            "items": ["y" * 900],
        }
        for n in range(1_000)
    ]
    request = json.dumps({"purchases": sales}).encode()
    response = await cash_register.post(
        "/purchases", content=request, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json()["rejected"] == 1_000
    assert len(response.content) < len(request) / 2
