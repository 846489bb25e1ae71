"""Loyalty cards: the first sale with a card makes its customer, later ones (live or offline,
racing or not, in any worker) find it; the number itself is never stored, returned or echoed."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from tests.conftest import app_client
from tests.keys import ChainKeys, TillAuth
from tests.rollups import counted
from tests.rows import pairs


def card_number(seed: int, length: int = 16) -> str:
    """A card number with a correct Luhn check digit, computed here independently."""
    body = [random.Random(seed).randint(0, 9) for _ in range(length - 1)]
    total = 0
    for position, digit in enumerate(reversed(body)):  # the check digit will sit at position 0
        doubled = digit * 2 if position % 2 == 0 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return "".join(map(str, body)) + str((10 - total % 10) % 10)


def keyed_hash(number: str) -> bytes:
    return hmac.new(os.environ["LOYALTY_CARD_KEY"].encode(), number.encode(), "sha256").digest()


def sale(card: str, store: str = "SMKT001") -> dict[str, object]:
    return {"supermarket_id": store, "loyalty_card": card, "items": ["milk", "bread"]}


async def test_a_card_finds_its_customer_again(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    card = card_number(1)
    first = await cash_register.post("/purchase", json=sale(card))
    second = await cash_register.post("/purchase", json=sale(card, "SMKT002"))
    other = await cash_register.post("/purchase", json=sale(card_number(2)))
    assert [r.status_code for r in (first, second, other)] == [201, 201, 201]
    customer = first.json()["user_id"]
    assert second.json()["user_id"] == customer
    assert other.json()["user_id"] != customer
    await counted(catalog)
    counts = pairs(await catalog.fetch("SELECT id::text, purchase_count FROM customers"))
    assert counts == {customer: 2, other.json()["user_id"]: 1}


async def test_the_number_is_kept_only_as_its_keyed_hash(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    card = card_number(3)
    response = await cash_register.post(
        "/purchase", json=sale(card), headers={"Idempotency-Key": "card-sale-1"}
    )
    assert response.status_code == 201
    assert card not in response.text
    rows = await catalog.fetch("SELECT card_hash, customer_id::text FROM loyalty_cards")
    assert [(bytes(row["card_hash"]), row["customer_id"]) for row in rows] == [
        (keyed_hash(card), response.json()["user_id"])
    ]
    # Nothing stored holds the number, nor its plain (unkeyed) hash.
    plain = hashlib.sha256(card.encode()).digest()
    for table in ("purchases", "idempotency_keys", "loyalty_cards"):
        text = await catalog.fetchval(
            f"SELECT coalesce(string_agg(t::text, ','), '') FROM {table} t"
        )
        assert card not in text
        assert plain.hex() not in text


@pytest.mark.parametrize(
    "number",
    ["79927398710", "1234567", "12345678901234567890", "7992739871x", " 79927398713"],
)
async def test_a_bad_card_number_is_refused_without_echoing_it(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection, number: str
) -> None:
    response = await cash_register.post("/purchase", json=sale(number))
    assert response.status_code == 422
    problem = response.json()
    assert [error["field"] for error in problem["errors"]] == ["loyalty_card"]
    assert number.strip() not in response.text
    assert await catalog.fetchval("SELECT count(*) FROM purchases") == 0


async def test_a_card_and_a_user_id_together_are_refused(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    body = {**sale(card_number(4)), "user_id": "8c0ad9e2-6f3c-4a8e-9a34-7b2f6d1c0e55"}
    response = await cash_register.post("/purchase", json=body)
    assert response.status_code == 422
    assert "not both" in response.json()["detail"]
    assert await catalog.fetchval("SELECT count(*) FROM purchases") == 0


@pytest.fixture
async def second_worker(keys: ChainKeys) -> AsyncIterator[httpx.AsyncClient]:
    """Another cash register process: its own pool and its own batcher."""
    async for client in app_client("cash_register.main", auth=TillAuth(keys)):
        yield client


async def test_racing_first_sales_of_a_new_card_make_one_customer(
    cash_register: httpx.AsyncClient,
    second_worker: httpx.AsyncClient,
    catalog: asyncpg.Connection,
) -> None:
    """Within one batch and across two workers' batches committing at once."""
    card = card_number(5)
    workers = [cash_register, second_worker]
    responses = await asyncio.gather(
        *(workers[n % 2].post("/purchase", json=sale(card)) for n in range(60))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["user_id"] for r in responses}) == 1
    assert await catalog.fetchval("SELECT count(*) FROM loyalty_cards") == 1
    await counted(catalog)
    assert await catalog.fetchval("SELECT purchase_count FROM customers") == 60


async def test_offline_and_live_sales_with_one_card_are_one_customer(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    card = card_number(6)
    moment = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    upload = {
        "purchases": [
            {**sale(card), "client_purchase_id": f"offline-{n}", "purchased_at": moment}
            for n in range(2)
        ]
    }
    uploaded = await cash_register.post("/purchases", json=upload)
    assert uploaded.json()["created"] == 2
    live = await cash_register.post("/purchase", json=sale(card))
    assert await catalog.fetchval("SELECT count(DISTINCT customer_id) FROM purchases") == 1
    await counted(catalog)
    assert (
        await catalog.fetchval(
            "SELECT purchase_count FROM customers WHERE id = $1::uuid", live.json()["user_id"]
        )
        == 3
    )


async def test_a_retry_must_carry_the_same_card(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    key = {"Idempotency-Key": "card-retry-1"}
    first = await cash_register.post("/purchase", json=sale(card_number(7)), headers=key)
    again = await cash_register.post("/purchase", json=sale(card_number(7)), headers=key)
    other = await cash_register.post("/purchase", json=sale(card_number(8)), headers=key)
    assert (first.status_code, again.status_code, other.status_code) == (201, 201, 422)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["user_id"] == first.json()["user_id"]
    assert await catalog.fetchval("SELECT count(*) FROM purchases") == 1


async def test_a_card_keeps_its_customer_even_for_the_owner(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    await cash_register.post("/purchase", json=sale(card_number(9)))
    with pytest.raises(asyncpg.RestrictViolationError, match="keeps its customer"):
        await catalog.execute("UPDATE loyalty_cards SET customer_id = gen_random_uuid()")
