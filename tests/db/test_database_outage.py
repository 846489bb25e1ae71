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

from db.embedded import EmbeddedPostgres
from db.migrate import apply_migrations
from db.settings import database_settings
from loader.service import load_chain_data
from tests.conftest import SEED_DIR, app_client

RECOVERY_SECONDS = 5
ANSWER_WITHIN_SECONDS = 10
SALE = {"supermarket_id": "SMKT001", "items": ["milk", "bread"]}


@pytest.fixture
async def own_postgres(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path / "pg").start()
    connection = await asyncpg.connect(server.url())
    await apply_migrations(connection)
    await load_chain_data(connection, SEED_DIR)
    await connection.close()
    monkeypatch.setenv("DATABASE_URL", server.url())
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
    async for client in app_client("cash_register.main"):
        assert (await post(client)).status_code == 201

        own_postgres.stop("immediate")
        for _ in range(3):
            response = await post(client)
            assert response.status_code == 503
            assert response.headers["content-type"] == "application/problem+json"
            assert int(response.headers["retry-after"]) > 0
        assert (await post(client, "/health")).status_code == 503

        own_postgres.start()
        back = time.monotonic()
        while (await post(client)).status_code != 201:
            assert time.monotonic() - back < RECOVERY_SECONDS, "no recovery within 5 s"
            await asyncio.sleep(0.1)
        assert (await post(client, "/health")).status_code == 200

    connection = await asyncpg.connect(own_postgres.url())
    stored = await connection.fetchval("SELECT count(*) FROM purchases")
    await connection.close()
    assert stored == 2183 + 2  # the seed, the sale before the outage and the one after


async def test_analytics_answer_503_in_an_outage_and_recover(
    own_postgres: EmbeddedPostgres,
) -> None:
    async for client in app_client("analytics.main"):
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
