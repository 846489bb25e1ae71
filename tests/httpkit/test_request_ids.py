"""Request ids: kept when the client sends a sane one, made otherwise; echoed in the answer,
named in every problem body, stored with every sale the request recorded."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from tests.keys import ChainKeys

SALE = {"supermarket_id": "SMKT001", "items": ["milk", "bread"]}
GENERATED = re.compile(r"[0-9a-f]{32}")


async def test_a_clients_id_is_echoed_and_stored_with_the_sale(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    response = await cash_register.post(
        "/purchase", json=SALE, headers={"X-Request-ID": "till-07:receipt.0042"}
    )
    assert response.status_code == 201
    assert response.headers["x-request-id"] == "till-07:receipt.0042"
    stored = await catalog.fetchval(
        "SELECT request_id FROM purchases WHERE id = $1", response.json()["purchase_id"]
    )
    assert stored == "till-07:receipt.0042"


async def test_without_an_id_each_request_gets_its_own(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    first = await cash_register.post("/purchase", json=SALE)
    second = await cash_register.post("/purchase", json=SALE)
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert all(GENERATED.fullmatch(request_id) for request_id in ids)
    assert ids[0] != ids[1]
    stored = await catalog.fetch("SELECT request_id FROM purchases ORDER BY id")
    assert [row["request_id"] for row in stored] == ids


async def test_an_unsafe_id_is_replaced_not_echoed(cash_register: httpx.AsyncClient) -> None:
    for unsafe in ["", "x" * 129, "a b", 'quote"', "tab\there", "ünïcode"]:
        response = await cash_register.post(
            "/purchase", json=SALE, headers={b"X-Request-ID": unsafe.encode()}
        )
        assert response.status_code == 201
        assert GENERATED.fullmatch(response.headers["x-request-id"]), unsafe


async def test_every_problem_names_its_request(
    bare: httpx.AsyncClient, keys: ChainKeys, catalog: asyncpg.Connection
) -> None:
    """From the outermost middleware (401, 415) to the handlers (422, 403)."""
    till = keys.till_headers("SMKT001")
    attempts: list[tuple[int, dict[str, str], dict[str, Any]]] = [
        (401, {}, {"json": SALE}),
        (415, {**till, "Content-Type": "text/plain"}, {"content": b"{}"}),
        (422, till, {"json": {"items": []}}),
        (403, till, {"json": {**SALE, "supermarket_id": "SMKT002"}}),
    ]
    for number, (status, headers, body) in enumerate(attempts):
        request_id = f"problem-{number}"
        response = await bare.post(
            "/purchase", headers={**headers, "X-Request-ID": request_id}, **body
        )
        assert response.status_code == status
        assert response.headers["x-request-id"] == request_id
        assert response.json()["request_id"] == request_id
    assert await catalog.fetchval("SELECT count(*) FROM purchases") == 0


async def test_offline_sales_carry_the_uploads_id(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    moment = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    sales = [
        {**SALE, "client_purchase_id": f"offline-{n}", "purchased_at": moment} for n in range(3)
    ]
    response = await cash_register.post(
        "/purchases", json={"purchases": sales}, headers={"X-Request-ID": "upload-1"}
    )
    assert response.status_code == 200
    stored = await catalog.fetch("SELECT request_id FROM purchases")
    assert [row["request_id"] for row in stored] == ["upload-1"] * 3
