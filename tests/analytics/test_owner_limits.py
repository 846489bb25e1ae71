"""Owners cannot crowd out the tills: each owner's key has a rate of its own
(OWNER_REQUESTS_PER_SECOND), and one analytics worker sends at most
ANALYTICS_CONCURRENT_READS data questions to the database at once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from admin.keys import issue
from analytics.settings import analytics_settings
from db.settings import database_tuning
from tests.conftest import app_client
from tests.keys import ChainKeys


@pytest.fixture
def limited(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OWNER_REQUESTS_PER_SECOND", "1")
    monkeypatch.setenv("ANALYTICS_CONCURRENT_READS", "1")
    monkeypatch.setenv("DB_POOL_ACQUIRE_TIMEOUT_SECONDS", "3")
    analytics_settings.cache_clear()
    database_tuning.cache_clear()
    yield
    analytics_settings.cache_clear()
    database_tuning.cache_clear()


async def test_an_owner_past_their_rate_gets_429_and_another_owner_does_not(
    seeded: asyncpg.Connection, keys: ChainKeys, limited: None
) -> None:
    other = await issue(seeded, "owner", "second-owner", None)
    async for client in app_client("analytics.main", headers=keys.owner_headers()):
        answers = [await client.get("/supermarkets") for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]  # bursts to twice the rate
        assert int(answers[2].headers["retry-after"]) >= 1
        assert "owner" in answers[2].json()["detail"]
        theirs = await client.get("/supermarkets", headers={"Authorization": f"Bearer {other}"})
        assert theirs.status_code == 200


async def test_owners_questions_wait_for_a_read_slot_instead_of_all_reaching_the_database(
    seeded: asyncpg.Connection, keys: ChainKeys, limited: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OWNER_REQUESTS_PER_SECOND", "0")
    analytics_settings.cache_clear()
    async for client in app_client("analytics.main", headers=keys.owner_headers()):
        assert (await client.get("/unique-customers")).status_code == 200
        async with seeded.transaction():
            await seeded.execute("LOCK TABLE customer_purchase_counts IN ACCESS EXCLUSIVE MODE")
            asking = [asyncio.create_task(client.get("/unique-customers")) for _ in range(4)]
            await asyncio.sleep(1)
            waiting = await seeded.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = 'analytics' AND wait_event_type = 'Lock'"
            )
        answers: list[httpx.Response] = await asyncio.gather(*asking)
    assert waiting == 1  # one question in the database, the others held in the worker
    assert [a.status_code for a in answers] == [200] * 4
