"""SIGTERM with purchases in flight: the server stops taking new work, finishes what it has
(the pending batch is committed), answers every request it took, then exits cleanly."""

from __future__ import annotations

import asyncio
import signal
import time

import asyncpg
import httpx

from tests.conftest import PostgresUnderTest
from tests.keys import ChainKeys, TillAuth
from tests.servers import start, wait_healthy

IN_FLIGHT = 40


async def test_sigterm_answers_every_purchase_in_flight_then_exits(
    catalog: asyncpg.Connection, keys: ChainKeys, postgres: PostgresUnderTest
) -> None:
    process, url = start("cash_register", postgres.database_url)
    try:
        await asyncio.to_thread(wait_healthy, process, url)
        blocker = await asyncpg.connect(postgres.database_url)
        transaction = blocker.transaction()
        await transaction.start()
        # Every batch writes daily_sales: while this lock is held, every purchase waits in
        # the database, in flight.
        await blocker.execute("LOCK TABLE daily_sales IN EXCLUSIVE MODE")
        async with httpx.AsyncClient(base_url=url, timeout=30, auth=TillAuth(keys)) as client:
            sales = [
                asyncio.create_task(
                    client.post(
                        "/purchase", json={"supermarket_id": "SMKT003", "items": ["cheese"]}
                    )
                )
                for _ in range(IN_FLIGHT)
            ]
            deadline = time.monotonic() + 10
            while await catalog.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted") == 0:
                assert time.monotonic() < deadline, "the purchases never reached the database"
                await asyncio.sleep(0.05)
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            assert process.poll() is None, "the server must wait for what it has taken"
            await transaction.commit()
            await blocker.close()
            responses = await asyncio.gather(*sales)
        assert [response.status_code for response in responses] == [201] * IN_FLIGHT
        exit_code = await asyncio.to_thread(process.wait, 30)
        assert exit_code == 0
        stored = await catalog.fetchval(
            "SELECT count(*) FROM purchases WHERE id = ANY($1::bigint[])",
            [response.json()["purchase_id"] for response in responses],
        )
        assert stored == IN_FLIGHT
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)
