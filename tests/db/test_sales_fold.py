"""The tills' sales counted a moment later: queued with the sale, counted once by a fold, and in
every owners' answer from their 201 on, across workers, kills, restarts and recounts."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from cash_register.settings import cash_register_settings
from db.sales_fold import FOLD_SALES_LATER
from tests.conftest import PostgresUnderTest, app_client
from tests.keys import ChainKeys, TillAuth
from tests.rollups import counted, rollups_off_their_recount
from tests.servers import start, stop, wait_healthy

PRODUCTS = ["milk", "bread", "eggs", "cheese", "apples"]


def basket(rng: random.Random, store: str, customer: str | None = None) -> dict[str, object]:
    sale: dict[str, object] = {
        "supermarket_id": store,
        "items": rng.choices(PRODUCTS, k=rng.randint(1, 4)),
    }
    if customer is not None:
        sale["user_id"] = customer
    return sale


async def waiting(connection: asyncpg.Connection) -> int:
    """How many sales are queued and not yet counted."""
    return int(await connection.fetchval("SELECT count(*) FROM sales_to_fold"))


@pytest.fixture
async def slow_folder(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """The cash registers fold only at start and at stop: the owners' answers must fold."""
    monkeypatch.setenv("SALES_FOLD_EVERY_SECONDS", "60")
    cash_register_settings.cache_clear()
    yield
    cash_register_settings.cache_clear()


async def test_a_sale_is_in_the_owners_answers_from_its_201(
    catalog: asyncpg.Connection, keys: ChainKeys, slow_folder: None
) -> None:
    rng = random.Random(7)
    sales = [basket(rng, store, str(uuid.uuid4())) for store in ("SMKT001", "SMKT002") * 5]
    async for till in app_client("cash_register.main", auth=TillAuth(keys)):
        for sale in sales:
            assert (await till.post("/purchase", json=sale)).status_code == 201
        assert await waiting(catalog) == len(sales)  # queued, not counted yet
        async for owner in app_client("analytics.main", headers=keys.owner_headers()):
            customers = (await owner.get("/unique-customers")).json()["unique_customers"]
            shown = (await owner.get("/top-products", params={"limit": 100})).json()
            stores = (await owner.get("/supermarkets")).json()["supermarkets"]
    assert customers == len({sale["user_id"] for sale in sales})
    units = Counter(item for sale in sales for item in sale["items"])  # type: ignore[attr-defined]
    assert {p["product"]: p["units_sold"] for p in shown["products"]} == units
    per_store = Counter(str(sale["supermarket_id"]) for sale in sales)
    assert {s["supermarket_id"]: s["purchases"] for s in stores if s["purchases"]} == per_store
    assert await waiting(catalog) == 0
    assert await rollups_off_their_recount(catalog) == []


async def test_two_workers_and_the_owners_folding_at_once_count_every_sale_once(
    catalog: asyncpg.Connection, keys: ChainKeys, postgres: PostgresUnderTest
) -> None:
    """Two cash register processes of two workers each, each folding every 10 ms, while
    owners ask (each question folds too) and returning customers buy at several tills."""
    rng = random.Random(11)
    regulars = [str(uuid.uuid4()) for _ in range(15)]
    sales = [
        basket(rng, rng.choice(["SMKT001", "SMKT002", "SMKT003"]), rng.choice(regulars))
        for _ in range(240)
    ]
    registers = [
        start("cash_register", postgres.database_url, SALES_FOLD_EVERY_SECONDS="0.01")
        for _ in range(2)
    ]
    owners = start("analytics", postgres.database_url)
    try:
        for process, url in [*registers, owners]:
            await asyncio.to_thread(wait_healthy, process, url)
        tills = [
            httpx.AsyncClient(base_url=url, timeout=30, auth=TillAuth(keys)) for _, url in registers
        ]
        owner = httpx.AsyncClient(base_url=owners[1], timeout=30, headers=keys.owner_headers())
        sold = [tills[i % 2].post("/purchase", json=sale) for i, sale in enumerate(sales)]
        asked = [owner.get("/loyal-customers", params={"min_purchases": 1}) for _ in range(30)]
        answers = await asyncio.gather(*sold, *asked)
        last = await owner.get("/loyal-customers", params={"min_purchases": 1})
        for client in (*tills, owner):
            await client.aclose()
    finally:
        for process, _ in [*registers, owners]:
            stop(process)
    assert {answer.status_code for answer in answers} == {200, 201}
    bought = Counter(str(sale["user_id"]) for sale in sales)
    assert {c["user_id"]: c["purchases"] for c in last.json()["customers"]} == bought
    assert await waiting(catalog) == 0
    assert await rollups_off_their_recount(catalog) == []


async def test_a_worker_killed_with_sales_waiting_leaves_them_to_the_next_fold(
    catalog: asyncpg.Connection, keys: ChainKeys, postgres: PostgresUnderTest
) -> None:
    """SIGKILL: no last fold. Its sales wait in the queue, committed, and the next fold
    (another worker's, or a question's) counts each once."""
    rng = random.Random(3)
    process, url = start(
        "cash_register", postgres.database_url, SALES_FOLD_EVERY_SECONDS="60", WEB_CONCURRENCY="1"
    )
    try:
        await asyncio.to_thread(wait_healthy, process, url)
        async with httpx.AsyncClient(base_url=url, timeout=30, auth=TillAuth(keys)) as till:
            for _ in range(20):
                sale = basket(rng, "SMKT003")
                assert (await till.post("/purchase", json=sale)).status_code == 201
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=15)
    assert await waiting(catalog) == 20
    await counted(catalog)
    await counted(catalog)  # a second fold finds nothing left to count
    assert await waiting(catalog) == 0
    assert await catalog.fetchval("SELECT sum(purchases) FROM daily_sales") == 20
    assert await rollups_off_their_recount(catalog) == []


async def test_a_stopped_worker_counts_what_it_stored_before_it_exits(
    catalog: asyncpg.Connection, keys: ChainKeys, postgres: PostgresUnderTest
) -> None:
    rng = random.Random(5)
    process, url = start("cash_register", postgres.database_url, SALES_FOLD_EVERY_SECONDS="60")
    try:
        await asyncio.to_thread(wait_healthy, process, url)
        async with httpx.AsyncClient(base_url=url, timeout=30, auth=TillAuth(keys)) as till:
            answers = await asyncio.gather(
                *(till.post("/purchase", json=basket(rng, "SMKT001")) for _ in range(30))
            )
    finally:
        assert stop(process) == 0
    assert [answer.status_code for answer in answers] == [201] * 30
    assert await waiting(catalog) == 0
    assert await rollups_off_their_recount(catalog) == []


async def test_a_store_recounted_with_sales_waiting_counts_each_once(
    seeded: asyncpg.Connection, postgres: PostgresUnderTest
) -> None:
    """A store's days are recounted when its time zone changes; the sales waiting then are
    folded first, so neither the recount nor a later fold counts them twice."""
    till = await asyncpg.connect(postgres.database_url, server_settings=FOLD_SALES_LATER)
    try:
        await till.execute(
            """
            WITH p AS (
                INSERT INTO purchases (purchased_at, supermarket_id, customer_id, total_amount)
                SELECT now() - make_interval(hours => n), 'SMKT002', gen_random_uuid(), 2.00
                FROM generate_series(1, 12) AS n
                RETURNING id, purchased_at, supermarket_id
            )
            INSERT INTO purchase_items (purchase_id, purchased_at, supermarket_id, product_id,
                                        quantity, unit_price)
            SELECT p.id, p.purchased_at, p.supermarket_id, 1, 2, 1.00 FROM p
            """
        )
    finally:
        await till.close()
    assert await waiting(seeded) == 12
    await seeded.execute("UPDATE supermarkets SET time_zone = 'Asia/Tokyo' WHERE id = 'SMKT002'")
    assert await waiting(seeded) == 0
    await counted(seeded)
    assert await rollups_off_their_recount(seeded) == []


async def test_the_owners_role_may_fold_but_not_touch_the_queue(
    db: asyncpg.Connection,
) -> None:
    granted = await db.fetch(
        "SELECT r.rolname, has_function_privilege(r.rolname, "
        "'fold_waiting_sales(bigint, boolean)', 'EXECUTE') AS fold, "
        "has_table_privilege(r.rolname, 'sales_to_fold', 'SELECT,INSERT,UPDATE,DELETE') AS queue, "
        "has_function_privilege(r.rolname, 'fold_queue()', 'EXECUTE') AS bare_fold "
        "FROM pg_roles r "
        "WHERE r.rolname IN ('supermarket_cash_register', 'supermarket_analytics')"
    )
    assert {tuple(row) for row in granted} == {
        ("supermarket_cash_register", True, False, False),
        ("supermarket_analytics", True, False, False),
    }
