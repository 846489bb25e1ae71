"""The ledger where it is hardest: one till's sales at once through two cash registers of two
workers each, and the automatic close tried by all four processes at the same moment."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import asyncpg
import httpx
import pytest

from tests.conftest import PostgresUnderTest
from tests.keys import ChainKeys, till_name
from tests.ledger.chains import admin, check_with_hashlib, exported
from tests.servers import start, stop, wait_healthy

pytestmark = pytest.mark.cluster


def two_cash_registers(database_url: str, **env: str) -> Iterator[list[str]]:
    started = [start("cash_register", database_url, env=env) for _ in range(2)]
    try:
        for process, url in started:
            wait_healthy(process, url)
        yield [url for _, url in started]
    finally:
        for process, _ in started:
            stop(process)


@pytest.fixture
def registers(keys: ChainKeys, postgres: PostgresUnderTest) -> Iterator[list[str]]:
    yield from two_cash_registers(postgres.database_url)


async def test_eight_sales_of_one_till_at_once_are_receipts_one_to_eight(
    registers: list[str], keys: ChainKeys, postgres: PostgresUnderTest
) -> None:
    async def sell(url: str) -> int:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            answer = await client.post(
                "/purchase", json={"supermarket_id": "SMKT001", "items": ["milk"]},
                headers=keys.till_headers("SMKT001"),
            )  # fmt: skip
            assert answer.status_code == 201, answer.text
            number: int = answer.json()["receipt_number"]
            return number

    numbers = await asyncio.gather(*(sell(registers[n % 2]) for n in range(8)))
    assert sorted(numbers) == list(range(1, 9))
    check_with_hashlib(till_name("SMKT001"), exported(postgres.database_url, till_name("SMKT001")))
    verified = admin(postgres.database_url, "verify-ledger")
    assert verified.returncode == 0, verified.stdout


async def test_the_automatic_close_happens_once_however_many_processes_try(
    keys: ChainKeys, postgres: PostgresUnderTest, catalog: asyncpg.Connection
) -> None:
    # Sales first, through a cash register whose closing time is far away.
    for urls in two_cash_registers(postgres.database_url):
        async with httpx.AsyncClient(base_url=urls[0]) as client:
            for store in ("SMKT001", "SMKT002"):
                answer = await client.post(
                    "/purchase", json={"supermarket_id": store, "items": ["bread"]},
                    headers=keys.till_headers(store),
                )  # fmt: skip
                assert answer.status_code == 201
    # Then four processes whose store-local closing time comes in a few seconds.
    local: datetime = await catalog.fetchval(
        "SELECT now() AT TIME ZONE time_zone FROM supermarkets WHERE id = 'SMKT001'"
    )
    close_at = (local + timedelta(seconds=4)).time().replace(microsecond=0)
    for _ in two_cash_registers(
        postgres.database_url,
        TILL_AUTO_CLOSE_AT=close_at.isoformat(),
        TILL_AUTO_CLOSE_EVERY_SECONDS="0.2",
    ):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            closed = await catalog.fetchval("SELECT count(*) FROM till_closings")
            if closed >= 2:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)  # every process has tried again since
    rows = await catalog.fetch(
        "SELECT till_id, closing_number, automatic, sales FROM till_closings ORDER BY till_id"
    )
    assert [tuple(row) for row in rows] == [
        (till_name("SMKT001"), 1, True, 1),
        (till_name("SMKT002"), 1, True, 1),
    ]
    assert await catalog.fetchval("SELECT count(*) FROM till_closings WHERE till_id = $1",
                                  till_name("SMKT003")) == 0  # fmt: skip
    verified = admin(postgres.database_url, "verify-ledger")
    assert verified.returncode == 0, verified.stdout
