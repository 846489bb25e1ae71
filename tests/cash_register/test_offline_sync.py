"""POST /purchases: a till's offline sales, each with its own id and time and outcome."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from cash_register.key_expiry import expire_keys
from tests.conftest import PostgresUnderTest
from tests.rollups import counted

NOW = datetime.now(UTC).replace(microsecond=0)


def sale(client_id: str, days_ago: float, items: list[object], **more: object) -> dict[str, object]:
    return {
        "client_purchase_id": client_id,
        "supermarket_id": "SMKT002",
        "items": items,
        "purchased_at": (NOW - timedelta(days=days_ago)).isoformat(),
        **more,
    }


def upload() -> list[dict[str, object]]:
    customer = str(uuid.UUID(int=42, version=4))
    return [
        sale("till3-0001", 2, ["milk", "milk"]),
        sale("till3-0002", 2.5, ["unicorn"]),
        sale("till3-0003", -1, ["bread"]),  # tomorrow: the till's clock is wrong
        sale("till3-0004", 1, ["eggs"], user_id=customer),
        sale("till3-0005", 400, ["eggs"]),  # older than the 30-day limit
        sale("till3-0006", 1, ["eggs"], user_id="not-a-uuid"),
        {"supermarket_id": "SMKT002", "items": ["milk"], "purchased_at": NOW.isoformat()},
        sale("till3-0008", 0, ["cheese"], user_id=customer),
    ]


async def test_each_sale_gets_its_own_outcome(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    response = await cash_register.post("/purchases", json={"purchases": upload()})
    assert response.status_code == 200
    body = response.json()
    statuses = [(o["client_purchase_id"], o["status"]) for o in body["outcomes"]]
    assert statuses == [
        ("till3-0001", "created"),
        ("till3-0002", "rejected"),
        ("till3-0003", "rejected"),
        ("till3-0004", "created"),
        ("till3-0005", "rejected"),
        ("till3-0006", "rejected"),
        (None, "rejected"),
        ("till3-0008", "created"),
    ]
    reasons = [o["reason"] for o in body["outcomes"]]
    assert "unicorn" in reasons[1]
    assert "future" in reasons[2]
    assert "older than 30 days" in reasons[4]
    assert "user_id" in reasons[5]
    assert "client_purchase_id" in reasons[6]
    assert (body["created"], body["duplicates"], body["rejected"]) == (3, 0, 5)
    stored = await catalog.fetch("SELECT purchased_at FROM purchases ORDER BY purchased_at")
    assert [row["purchased_at"] for row in stored] == [
        NOW - timedelta(days=2),
        NOW - timedelta(days=1),
        NOW,
    ]


async def test_a_retried_upload_stores_nothing_twice(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    first = (await cash_register.post("/purchases", json={"purchases": upload()})).json()
    again = (await cash_register.post("/purchases", json={"purchases": upload()})).json()
    assert (again["created"], again["duplicates"], again["rejected"]) == (0, 3, 5)
    created = [o["purchase_id"] for o in first["outcomes"] if o["status"] == "created"]
    assert [o["purchase_id"] for o in again["outcomes"] if o["status"] == "duplicate"] == created
    assert await catalog.fetchval("SELECT count(*) FROM purchases") == 3
    await counted(catalog)
    assert await catalog.fetchval("SELECT sum(purchase_count) FROM customers") == 3


async def test_a_client_id_reused_for_another_sale_is_rejected(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    await cash_register.post("/purchases", json={"purchases": [sale("till9-1", 1, ["milk"])]})
    body = (
        await cash_register.post("/purchases", json={"purchases": [sale("till9-1", 1, ["bread"])]})
    ).json()
    assert body["outcomes"][0]["status"] == "rejected"
    assert "different purchase" in body["outcomes"][0]["reason"]
    assert await catalog.fetchval("SELECT count(*) FROM purchases") == 1


async def test_offline_sales_count_on_their_own_day(
    cash_register: httpx.AsyncClient, analytics: httpx.AsyncClient
) -> None:
    day = (NOW - timedelta(days=3)).date()
    sales = [sale(f"till4-{n}", 3, ["yogurt"] * (n + 1)) for n in range(4)]
    assert (await cash_register.post("/purchases", json={"purchases": sales})).json()[
        "created"
    ] == 4
    body = (
        await analytics.get("/sales/daily", params={"from": day.isoformat(), "to": day.isoformat()})
    ).json()
    assert body["days"] == [
        {
            "day": day.isoformat(),
            "supermarket_id": "SMKT002",
            "purchases": 4,
            "units": 10,
            "revenue": "12.00",
            "gross_revenue": "12.00",  # no refunds
            "refunded": "0.00",
            "refunds": 0,
            "customers": 4,
        }
    ]


async def test_upload_size_is_bounded(cash_register: httpx.AsyncClient) -> None:
    empty = await cash_register.post("/purchases", json={"purchases": []})
    assert empty.status_code == 422
    many = [sale(f"t-{n}", 1, ["milk"]) for n in range(1001)]
    too_many = await cash_register.post("/purchases", json={"purchases": many})
    assert too_many.status_code == 422
    assert "purchases" in too_many.json()["detail"]


async def test_a_backlog_uploaded_again_after_the_key_ttl_is_a_duplicate(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection, postgres: PostgresUnderTest
) -> None:
    """The till's first answer was lost; it uploads the same backlog two days later, after the
    live keys' TTL ran out and the real expiry ran. Nothing is stored twice."""
    backlog = [sale("till5-0001", 3, ["milk"]), sale("till5-0002", 20, ["bread", "eggs"])]
    first = (await cash_register.post("/purchases", json={"purchases": backlog})).json()
    assert first["created"] == 2
    # Age every key past the TTL the way time would, then run the real expiry.
    await catalog.execute("UPDATE idempotency_keys SET created_at = now() - interval '49 hours'")
    await catalog.execute("UPDATE offline_sales SET received_at = now() - interval '49 hours'")
    async with asyncpg.create_pool(postgres.database_url, min_size=1, max_size=1) as pool:
        await expire_keys(pool, 24 * 3600)
    again = (await cash_register.post("/purchases", json={"purchases": backlog})).json()
    assert (again["created"], again["duplicates"], again["rejected"]) == (0, 2, 0)
    assert [o["purchase_id"] for o in again["outcomes"]] == [
        o["purchase_id"] for o in first["outcomes"]
    ]
    assert await catalog.fetchval("SELECT count(*) FROM purchases") == 2


async def test_two_stores_tills_may_use_the_same_client_purchase_id(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    """Tills number their own receipts: the same id from another till is another sale."""
    first = sale("receipt-0001", 1, ["milk"])
    other_store = {**sale("receipt-0001", 1, ["milk"]), "supermarket_id": "SMKT003"}
    outcomes = [
        (await cash_register.post("/purchases", json={"purchases": [body]})).json()["outcomes"]
        for body in (first, other_store)
    ]
    assert [o[0]["status"] for o in outcomes] == ["created", "created"]
    assert await catalog.fetchval("SELECT count(*) FROM purchases") == 2


async def test_a_sale_of_another_store_is_rejected_alone(
    cash_register: httpx.AsyncClient, catalog: asyncpg.Connection
) -> None:
    own = sale("till2-1", 1, ["milk"])
    elsewhere = {**sale("till2-2", 1, ["milk"]), "supermarket_id": "SMKT001"}
    body = (await cash_register.post("/purchases", json={"purchases": [own, elsewhere]})).json()
    assert [o["status"] for o in body["outcomes"]] == ["created", "rejected"]
    assert "SMKT002 only" in body["outcomes"][1]["reason"]
    assert await catalog.fetchval("SELECT count(*) FROM purchases") == 1


async def test_a_rejected_sale_names_its_field_as_every_422_does(
    cash_register: httpx.AsyncClient,
) -> None:
    bad = sale("till6-1", 1, ["milk", 7])
    spaced = sale("till 6 2", 1, ["milk"])
    body = (await cash_register.post("/purchases", json={"purchases": [bad, spaced]})).json()
    assert body["outcomes"][0]["reason"].startswith("items[1]: ")
    assert body["outcomes"][1]["reason"].startswith("client_purchase_id: ")
    live = await cash_register.post(
        "/purchase", json={"supermarket_id": "SMKT001", "items": ["milk", 7]}
    )
    assert live.json()["errors"][0]["field"] == "items[1]"
