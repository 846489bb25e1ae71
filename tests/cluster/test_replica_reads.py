"""The analytics on a streaming replica: answers say where they came from and how
fresh they are, equal the primary's, and fall back to the primary while the replica is behind
or down, then return to it by themselves.

A private primary and hot standby (pg_basebackup, a replication slot) per module: the test
run's own server may be one the tests cannot make a standby of.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from devtools.embedded_postgres import EmbeddedPostgres, service_urls
from tests.conftest import ROOT, read_seed
from tests.keys import ChainKeys, issue_chain_keys
from tests.servers import start, stop, wait_healthy

pytestmark = pytest.mark.cluster

MAX_LAG_SECONDS = 2.0
DATA_VIEWS = (
    "/unique-customers",
    "/loyal-customers",
    "/top-products",
    "/supermarkets",
    "/sales/daily-totals?from=2024-01-01&to=2024-12-31",
    "/sales/by-store?from=2024-01-01&to=2024-12-31",
)


@dataclass
class Streaming:
    primary: EmbeddedPostgres
    replica: EmbeddedPostgres
    keys: ChainKeys
    on_replica: str  # the analytics reading the replica
    on_primary: str  # the same service reading the primary only (the simple topology)
    tills: str  # a cash register on the primary


@pytest.fixture(scope="module")
def streaming(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Streaming]:
    folder = tmp_path_factory.mktemp("streaming")
    primary = EmbeddedPostgres(folder / "primary").start()
    replica: EmbeddedPostgres | None = None
    processes: list[subprocess.Popen[str]] = []
    try:
        owner_url = primary.url()
        subprocess.run(
            [sys.executable, "-m", "loader", "--data-dir", "data"],
            cwd=ROOT, env={"PATH": "/usr/bin:/bin", "DATABASE_URL": owner_url},
            check=True, capture_output=True,
        )  # fmt: skip
        keys = asyncio.run(_issue_keys(owner_url))
        replica = EmbeddedPostgres.standby_of(primary, folder / "replica", "analytics")
        on_primary = service_urls(owner_url)
        common = {**on_primary, "REPLICA_CHECK_EVERY_SECONDS": "0.2"}
        started = {
            "replica": start(
                "analytics",
                owner_url,
                env={
                    **common,
                    "ANALYTICS_DATABASE_URL": service_urls(replica.url())["ANALYTICS_DATABASE_URL"],
                    "ANALYTICS_PRIMARY_DATABASE_URL": on_primary["ANALYTICS_DATABASE_URL"],
                    "REPLICA_MAX_LAG_SECONDS": str(MAX_LAG_SECONDS),
                },
            ),
            "primary": start("analytics", owner_url, env=common),
            "tills": start("cash_register", owner_url, env=common),
        }
        processes = [process for process, _ in started.values()]
        for process, url in started.values():
            wait_healthy(process, url)
        yield Streaming(
            primary, replica, keys, started["replica"][1], started["primary"][1],
            started["tills"][1],
        )  # fmt: skip
    finally:
        for process in processes:
            stop(process)
        for server in (replica, primary):
            if server is not None:
                server.destroy()


async def _issue_keys(owner_url: str) -> ChainKeys:
    connection = await asyncpg.connect(owner_url)
    try:
        return await issue_chain_keys(connection, read_seed().supermarkets)
    finally:
        await connection.close()


@pytest.fixture
async def owner(streaming: Streaming) -> AsyncIterator[Callable[[str], Awaitable[httpx.Response]]]:
    """GET on the analytics that read the replica, as the chain's owner."""
    async with httpx.AsyncClient(
        base_url=streaming.on_replica, headers=streaming.keys.owner_headers(), timeout=10
    ) as client:
        yield client.get


async def _eventually(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"not within {seconds:g} s: {what}"
        await asyncio.sleep(0.1)


async def _reads_from(get: Callable[[str], Awaitable[httpx.Response]], source: str) -> bool:
    ready = await get("/readyz")
    return ready.status_code == 200 and ready.json()["reads_from"] == source


async def _answers(base_url: str, keys: ChainKeys) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=base_url, headers=keys.owner_headers()) as client:
        return {view: (await client.get(view)).json() for view in DATA_VIEWS}


async def _sell(streaming: Streaming) -> str:
    async with httpx.AsyncClient(base_url=streaming.tills) as till:
        sold = await till.post(
            "/purchase",
            json={"supermarket_id": "SMKT001", "user_id": str(uuid.uuid4()), "items": ["milk"]},
            headers=streaming.keys.till_headers("SMKT001"),
        )
    assert sold.status_code == 201, sold.text
    return str(sold.json()["purchase_id"])


async def _purchases_on_primary(streaming: Streaming) -> int:
    connection = await asyncpg.connect(streaming.primary.url())
    try:
        return int(await connection.fetchval("SELECT count(*) FROM purchases"))
    finally:
        await connection.close()


async def _purchases_answered(get: Callable[[str], Awaitable[httpx.Response]]) -> int:
    stores = (await get("/supermarkets")).json()["supermarkets"]
    return sum(store["purchases"] for store in stores)


async def _replay(streaming: Streaming, what: str) -> None:
    connection = await asyncpg.connect(streaming.replica.url())
    try:
        await connection.execute(f"SELECT pg_wal_replay_{what}()")
    finally:
        await connection.close()


async def test_answers_come_from_the_replica_say_how_fresh_and_equal_the_primarys(
    streaming: Streaming, owner: Callable[[str], Awaitable[httpx.Response]]
) -> None:
    await _eventually(lambda: _reads_from(owner, "replica"), 10, "reads from the replica")
    health = (await owner("/health")).json()
    assert health["reads_from"] == "replica"
    assert 0 <= health["replication_lag_seconds"] <= MAX_LAG_SECONDS
    ready = (await owner("/readyz")).json()
    assert ready["replica_max_lag_seconds"] == MAX_LAG_SECONDS

    asked = datetime.now(UTC)
    answer = await owner("/unique-customers")
    assert answer.headers["x-data-source"] == "replica"
    as_of = datetime.fromisoformat(answer.headers["x-data-as-of"].replace("Z", "+00:00"))
    assert asked.timestamp() - MAX_LAG_SECONDS - 1 <= as_of.timestamp() <= time.time() + 0.5

    assert await _answers(streaming.on_replica, streaming.keys) == await _answers(
        streaming.on_primary, streaming.keys
    )
    assert await _purchases_answered(owner) == await _purchases_on_primary(streaming)
    async with httpx.AsyncClient(base_url=streaming.on_primary) as simple:
        health = (await simple.get("/health")).json()
    assert health == {"status": "ok", "database": "ok", "reads_from": "primary"}


async def test_a_replica_too_far_behind_falls_back_to_the_primary_then_returns(
    streaming: Streaming, owner: Callable[[str], Awaitable[httpx.Response]]
) -> None:
    await _eventually(lambda: _reads_from(owner, "replica"), 10, "reads from the replica")
    await _replay(streaming, "pause")
    try:
        await _sell(streaming)  # the replica receives it but does not replay it
        await _eventually(lambda: _reads_from(owner, "primary"), MAX_LAG_SECONDS + 5, "fallback")
        ready = (await owner("/readyz")).json()
        assert "behind" in ready["replica"]
        assert ready["replication_lag_seconds"] > MAX_LAG_SECONDS
        answer = await owner("/supermarkets")
        assert answer.headers["x-data-source"] == "primary"
        assert await _purchases_answered(owner) == await _purchases_on_primary(streaming)
    finally:
        await _replay(streaming, "resume")
    await _eventually(lambda: _reads_from(owner, "replica"), 10, "back on the replica")
    assert await _purchases_answered(owner) == await _purchases_on_primary(streaming)


async def test_a_stopped_replica_is_reported_and_recovered_from_by_itself(
    streaming: Streaming, owner: Callable[[str], Awaitable[httpx.Response]]
) -> None:
    await _eventually(lambda: _reads_from(owner, "replica"), 10, "reads from the replica")
    streaming.replica.stop()
    unavailable = 0
    try:
        await _sell(streaming)
        deadline = time.monotonic() + 5
        while not await _reads_from(owner, "primary"):
            assert time.monotonic() < deadline, "the analytics never noticed the replica stop"
            unavailable += (await owner("/unique-customers")).status_code == 503
            await asyncio.sleep(0.05)
        ready = (await owner("/readyz")).json()
        assert "not answering" in ready["replica"]
        for _ in range(20):  # once noticed, every answer comes, from the primary
            answer = await owner("/top-products")
            assert answer.status_code == 200, answer.text
            assert answer.headers["x-data-source"] == "primary"
        assert await _purchases_answered(owner) == await _purchases_on_primary(streaming)
    finally:
        streaming.replica.start()
    await _eventually(lambda: _reads_from(owner, "replica"), 20, "back on the replica")
    await _eventually(lambda: _caught_up(owner), 10, "lag back to zero after the replica's restart")
    assert await _answers(streaming.on_replica, streaming.keys) == await _answers(
        streaming.on_primary, streaming.keys
    )
    # Between the stop and its notice (one check, 0.2 s here) a read may find the replica gone.
    assert unavailable <= 10


async def _caught_up(get: Callable[[str], Awaitable[httpx.Response]]) -> bool:
    health = (await get("/health")).json()
    return bool(health.get("replication_lag_seconds") == 0)
