"""Several cash registers behind nginx (ops/nginx): requests spread over them, the till's
request id and address pass through, and when one is killed mid-trade every acknowledged
purchase is stored exactly once while nginx sends the rest to the other."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from devtools.embedded_postgres import free_port
from devtools.nginx_front import FAIL_TIMEOUT_SECONDS, NginxFront
from httpkit.settings import http_settings
from tests.conftest import PostgresUnderTest
from tests.keys import ChainKeys
from tests.servers import start, stop, wait_healthy

pytestmark = pytest.mark.cluster

SALE = {"supermarket_id": "SMKT001", "items": ["milk", "bread"]}
# What a till retries with the same key: a gateway's or a busy service's answer, and a
# connection broken mid-answer (counted as 0: the killed process had begun its answer, which
# nginx can then neither finish nor send elsewhere).
BROKEN = 0
RETRYABLE = {BROKEN, 502, 503, 504}
TILLS, SALES_PER_TILL = 8, 40


@dataclass
class Cluster:
    front: NginxFront
    registers: dict[str, subprocess.Popen[str]]  # by host:port, as X-Cash-Register names them


@pytest.fixture
def cluster(keys: ChainKeys, postgres: PostgresUnderTest, tmp_path: Path) -> Iterator[Cluster]:
    started = [start("cash_register", postgres.database_url, WEB_CONCURRENCY="1") for _ in "ab"]
    # By address; a test that restarts one puts the new process here, to be stopped below.
    registers = {urlsplit(url).netloc: process for process, url in started}
    front = None
    try:
        for process, url in started:
            wait_healthy(process, url)
        front = NginxFront(
            tmp_path / "nginx", free_port(), list(registers), http_settings().max_body_bytes
        ).start()
        yield Cluster(front, registers)
    finally:
        if front is not None:
            front.stop()
        for process in [*(p for p, _ in started), *registers.values()]:
            if process.poll() is None:
                stop(process)


async def test_requests_spread_and_keep_their_request_id(
    cluster: Cluster, keys: ChainKeys, catalog: asyncpg.Connection
) -> None:
    till = {"Authorization": f"Bearer {keys.tills['SMKT001']}"}
    async with httpx.AsyncClient(base_url=cluster.front.url, headers=till) as client:
        answered = Counter(
            [(await client.get("/catalog")).headers["x-cash-register"] for _ in range(20)]
        )
        assert set(answered) == set(cluster.registers)
        sold = await client.post("/purchase", json=SALE, headers={"X-Request-ID": "via-nginx-1"})
        too_big = await client.post(
            "/purchase",
            content=b"x" * (http_settings().max_body_bytes + 1),
            headers={"Content-Type": "application/json"},
        )
    assert sold.status_code == 201
    assert sold.headers["x-request-id"] == "via-nginx-1"
    assert await catalog.fetchval("SELECT request_id FROM purchases") == "via-nginx-1"
    assert too_big.status_code == 413


async def test_a_killed_cash_register_loses_no_acknowledged_sale(
    cluster: Cluster, keys: ChainKeys, catalog: asyncpg.Connection, postgres: PostgresUnderTest
) -> None:
    """Eight tills post 40 sales each with idempotency keys, retrying a 502/503/504 with the
    same key as a till does; one cash register is killed (SIGKILL) once a quarter of the
    sales are acknowledged, then started again."""
    acknowledged: dict[str, int] = {}
    moments: dict[str, float] = {}
    statuses: Counter[int] = Counter()
    a_quarter_sold = asyncio.Event()
    till = {"Authorization": f"Bearer {keys.tills['SMKT001']}"}

    async def till_sells(client: httpx.AsyncClient, number: int) -> None:
        for sale in range(SALES_PER_TILL):
            key = f"till{number}-{sale:04d}"
            for _ in range(20):
                try:
                    response = await client.post(
                        "/purchase", json=SALE, headers={"Idempotency-Key": key}
                    )
                except httpx.TransportError:
                    statuses[BROKEN] += 1
                    await asyncio.sleep(0.1)
                    continue
                statuses[response.status_code] += 1
                if response.status_code not in RETRYABLE:
                    break
                await asyncio.sleep(0.1)
            assert response.status_code == 201, response.text
            acknowledged[key] = response.json()["purchase_id"]
            if len(acknowledged) >= TILLS * SALES_PER_TILL // 4:
                a_quarter_sold.set()
            moments["last sale"] = time.monotonic()

    async def kill_one() -> None:
        await a_quarter_sold.wait()
        victim.send_signal(signal.SIGKILL)
        moments["kill"] = time.monotonic()

    victim_address, victim = next(iter(cluster.registers.items()))

    async with httpx.AsyncClient(base_url=cluster.front.url, headers=till, timeout=30) as client:
        await asyncio.gather(kill_one(), *(till_sells(client, n) for n in range(TILLS)))
        # After fail_timeout nginx still sends nothing but to the living one.
        survivors = {
            (await client.get("/catalog")).headers["x-cash-register"].split(",")[-1].strip()
            for _ in range(10)
        }

    assert moments["kill"] < moments["last sale"], "the cash register died while tills traded"
    assert len(acknowledged) == TILLS * SALES_PER_TILL
    assert set(statuses) <= {201} | RETRYABLE
    stored = await catalog.fetch("SELECT id FROM purchases")
    assert sorted(row["id"] for row in stored) == sorted(acknowledged.values())
    # Each till in flight at the kill may see one error to retry; nginx retries most itself.
    assert sum(statuses[status] for status in RETRYABLE) <= 2 * TILLS, statuses
    living = [address for address, p in cluster.registers.items() if p.poll() is None]
    assert survivors == set(living)

    restarted, url = start(
        "cash_register", postgres.database_url, port=int(victim_address.rpartition(":")[2]),
        WEB_CONCURRENCY="1",
    )  # fmt: skip
    cluster.registers[victim_address] = restarted
    await asyncio.to_thread(wait_healthy, restarted, url)
    back = time.monotonic()
    async with httpx.AsyncClient(base_url=cluster.front.url, headers=till) as client:
        while victim_address not in (await client.get("/catalog")).headers["x-cash-register"]:
            assert time.monotonic() - back < FAIL_TIMEOUT_SECONDS + 5, "nginx never came back"
            await asyncio.sleep(0.1)
