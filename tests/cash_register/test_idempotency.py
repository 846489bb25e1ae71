"""Idempotency-Key on POST /purchase: a retry is answered with the original purchase and
stores nothing; racing duplicates store one purchase; another request under the key is
refused; keys expire."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import pytest

from cash_register.key_expiry import expire_keys
from tests.conftest import PostgresUnderTest
from tests.keys import ChainKeys, TillAuth
from tests.rollups import counted
from tests.servers import start, stop, wait_healthy

SALE = {"supermarket_id": "SMKT001", "items": ["milk", "eggs", "milk"]}


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"till-7-{uuid.uuid4()}"}


async def stored(connection: asyncpg.Connection) -> int:
    return int(await connection.fetchval("SELECT count(*) FROM purchases"))


async def test_a_retry_gets_the_original_receipt_and_stores_nothing(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    headers = key()
    first = await cash_register.post("/purchase", json=SALE, headers=headers)
    again = await cash_register.post("/purchase", json=SALE, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()  # same purchase, same new customer, same receipt
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await stored(catalog) == 1
    await counted(catalog)
    assert await catalog.fetchval("SELECT sum(purchase_count) FROM customers") == 1
    assert await catalog.fetchval("SELECT sum(units_sold) FROM product_sales") == 3


async def test_the_key_with_another_request_is_refused(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    headers = key()
    assert (await cash_register.post("/purchase", json=SALE, headers=headers)).status_code == 201
    other = {**SALE, "items": ["bread"]}
    response = await cash_register.post("/purchase", json=other, headers=headers)
    assert response.status_code == 422
    assert headers["Idempotency-Key"] in response.json()["detail"]
    assert await stored(catalog) == 1


async def test_racing_duplicates_store_one_purchase(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    headers = key()
    responses = await asyncio.gather(
        *(cash_register.post("/purchase", json=SALE, headers=headers) for _ in range(25))
    )
    assert {response.status_code for response in responses} <= {201, 409}
    assert len({r.json()["purchase_id"] for r in responses if r.status_code == 201}) == 1
    assert await stored(catalog) == 1


async def test_racing_duplicates_across_server_processes_store_one_purchase(
    catalog: asyncpg.Connection, keys: ChainKeys, postgres: PostgresUnderTest
) -> None:
    """Two workers, so the duplicates meet in the database, not in one batcher."""
    process, url = start("cash_register", postgres.database_url)
    try:
        await asyncio.to_thread(wait_healthy, process, url)
        headers = key()
        async with httpx.AsyncClient(base_url=url, timeout=30, auth=TillAuth(keys)) as client:
            responses = await asyncio.gather(
                *(client.post("/purchase", json=SALE, headers=headers) for _ in range(40))
            )
    finally:
        stop(process)
    assert {response.status_code for response in responses} <= {201, 409}
    assert len({r.json()["purchase_id"] for r in responses if r.status_code == 201}) == 1
    assert await stored(catalog) == 1


async def test_an_expired_key_may_be_used_again(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection, postgres: PostgresUnderTest
) -> None:
    headers = key()
    first = (await cash_register.post("/purchase", json=SALE, headers=headers)).json()
    await catalog.execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
    async with asyncpg.create_pool(postgres.database_url, min_size=1, max_size=1) as pool:
        assert await expire_keys(pool, 24 * 3600) == 1
    second = (await cash_register.post("/purchase", json=SALE, headers=headers)).json()
    assert second["purchase_id"] != first["purchase_id"]
    assert await stored(catalog) == 2


@pytest.mark.parametrize("bad", [b"", b"x" * 256, "caf\u00e9".encode(), b"tab\there", b"has space"])
async def test_a_malformed_key_is_a_422(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection, bad: bytes
) -> None:
    response = await cash_register.post("/purchase", json=SALE, headers={b"Idempotency-Key": bad})
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["detail"]
    assert await stored(catalog) == 0
