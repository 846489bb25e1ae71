"""A database outage: 503 with Retry-After within a bounded time, never a 500 or a hang, and
service again by itself, without a restart, once PostgreSQL is back.

This test kills its own private PostgreSQL (immediate stop, as a crash) and starts it again on
the same port and data; the run's shared server is never touched.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from db.migrate import apply_migrations
from db.settings import database_settings
from devtools.embedded_postgres import EmbeddedPostgres, service_urls
from loader.service import load_chain_data
from tests.conftest import SEED_DIR, app_client, read_seed
from tests.keys import ChainKeys, TillAuth, issue_chain_keys

RECOVERY_SECONDS = 5
ANSWER_WITHIN_SECONDS = 10
SALE = {"supermarket_id": "SMKT001", "items": ["milk", "bread"]}
KEYS: ChainKeys  # the tills' and the owner's keys on the test's own server


@pytest.fixture
async def own_postgres(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[EmbeddedPostgres]:
    global KEYS
    server = EmbeddedPostgres(tmp_path / "pg").start()
    connection = await asyncpg.connect(server.url())
    await apply_migrations(connection)
    await load_chain_data(connection, SEED_DIR)
    KEYS = await issue_chain_keys(connection, read_seed().supermarkets)
    await connection.close()
    monkeypatch.setenv("DATABASE_URL", server.url())
    for name, url in service_urls(server.url()).items():
        monkeypatch.setenv(name, url)
    monkeypatch.setenv("DB_STARTUP_WAIT_SECONDS", "1")
    database_settings.cache_clear()
    yield server
    database_settings.cache_clear()
    server.destroy()


async def post(client: httpx.AsyncClient, path: str = "/purchase") -> httpx.Response:
    """One request that must be answered, whatever the database does, within the bound."""
    if path == "/purchase":
        return await asyncio.wait_for(client.post(path, json=SALE), ANSWER_WITHIN_SECONDS)
    return await asyncio.wait_for(client.get(path), ANSWER_WITHIN_SECONDS)


async def test_outage_is_a_503_and_the_service_recovers_by_itself(
    own_postgres: EmbeddedPostgres,
) -> None:
    async for client in app_client("cash_register.main", auth=TillAuth(KEYS)):
        assert (await post(client)).status_code == 201

        own_postgres.stop("immediate")
        for _ in range(3):
            response = await post(client)
            assert response.status_code == 503
            assert response.headers["content-type"] == "application/problem+json"
            assert int(response.headers["retry-after"]) > 0
            assert response.json()["cause"] == "database_unreachable"
        assert (await post(client, "/health")).status_code == 503
        # A till never seen before: its key cannot be checked, which is a 503 too, not a 401.
        unseen = await asyncio.wait_for(
            client.post(
                "/purchase",
                json={**SALE, "supermarket_id": "SMKT002"},
                headers=KEYS.till_headers("SMKT002"),
            ),
            ANSWER_WITHIN_SECONDS,
        )
        assert unseen.status_code == 503
        assert unseen.json()["cause"] == "database_unreachable"
        # The probes: alive (do not restart it), not ready (send the tills elsewhere).
        assert (await post(client, "/livez")).status_code == 200
        not_ready = await post(client, "/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json()["reasons"][0].startswith("database:")

        own_postgres.start()
        back = time.monotonic()
        while (await post(client)).status_code != 201:
            assert time.monotonic() - back < RECOVERY_SECONDS, "no recovery within 5 s"
            await asyncio.sleep(0.1)
        assert (await post(client, "/health")).status_code == 200
        assert (await post(client, "/readyz")).json() == {"status": "ready"}

    connection = await asyncpg.connect(own_postgres.url())
    stored = await connection.fetchval("SELECT count(*) FROM purchases")
    await connection.close()
    assert stored == 2183 + 2  # the seed, the sale before the outage and the one after


async def test_analytics_answer_503_in_an_outage_and_recover(
    own_postgres: EmbeddedPostgres,
) -> None:
    async for client in app_client("analytics.main", headers=KEYS.owner_headers()):
        assert (await post(client, "/unique-customers")).json() == {"unique_customers": 1762}
        own_postgres.stop("immediate")
        for path in ("/unique-customers", "/top-products", "/sales/daily", "/health"):
            response = await post(client, path)
            assert response.status_code == 503
            assert "retry-after" in response.headers
        own_postgres.start()
        back = time.monotonic()
        while (await post(client, "/unique-customers")).status_code != 200:
            assert time.monotonic() - back < RECOVERY_SECONDS, "no recovery within 5 s"
            await asyncio.sleep(0.1)


CLIENTS = 8
SALES_PER_CLIENT = 40
CRASH_AFTER_SALES = 40


async def test_retrying_tills_store_every_sale_exactly_once_through_a_crash(
    own_postgres: EmbeddedPostgres,
) -> None:
    """Tills retry every sale with its idempotency key until it is acknowledged, while the
    database is killed and restarted under them."""
    acknowledged: dict[str, int] = {}
    statuses: list[int] = []
    restarted_at: list[float] = []
    first_201_after_restart: list[float] = []
    enough_sold = asyncio.Event()

    async def till(client: httpx.AsyncClient, number: int) -> None:
        for sale in range(SALES_PER_CLIENT):
            key = f"till{number}-{sale}"
            deadline = time.monotonic() + 60
            while key not in acknowledged:
                assert time.monotonic() < deadline, f"{key} never acknowledged"
                try:
                    response = await client.post(
                        "/purchase", json=SALE, headers={"Idempotency-Key": key}
                    )
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
                    continue
                statuses.append(response.status_code)
                if response.status_code == 201:
                    acknowledged[key] = response.json()["purchase_id"]
                    if len(acknowledged) >= CRASH_AFTER_SALES:
                        enough_sold.set()
                    if restarted_at and not first_201_after_restart:
                        first_201_after_restart.append(time.monotonic())
                else:
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.01)  # the next customer at this till

    async def crash() -> None:
        await enough_sold.wait()
        # In a thread: the tills keep selling while the server dies and comes back.
        await asyncio.to_thread(own_postgres.stop, "immediate")
        await asyncio.sleep(1.0)
        await asyncio.to_thread(own_postgres.start)
        restarted_at.append(time.monotonic())

    async for client in app_client("cash_register.main", auth=TillAuth(KEYS)):
        await asyncio.gather(crash(), *(till(client, n) for n in range(CLIENTS)))

    assert len(acknowledged) == CLIENTS * SALES_PER_CLIENT
    assert set(statuses) <= {201, 503}, f"unexpected answers: {sorted(set(statuses))}"
    assert 503 in statuses, "the outage was seen by the tills"
    assert first_201_after_restart[0] - restarted_at[0] < RECOVERY_SECONDS
    connection = await asyncpg.connect(own_postgres.url())
    try:
        per_key = await connection.fetch(
            "SELECT k.key, count(p.id) AS purchases, min(p.id) AS purchase_id "
            "FROM idempotency_keys k JOIN purchases p ON p.id = k.purchase_id GROUP BY k.key"
        )
        new_sales = await connection.fetchval("SELECT count(*) FROM purchases") - 2183
    finally:
        await connection.close()
    assert new_sales == CLIENTS * SALES_PER_CLIENT  # none lost, none twice
    assert {row["key"]: row["purchase_id"] for row in per_key} == acknowledged
    assert all(row["purchases"] == 1 for row in per_key)
