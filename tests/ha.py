"""One database cluster for the tests that kill, fail over and restore it: etcd and two
Patroni nodes (devtools/ha_cluster.py) with a pgBackRest repository, the shop's database on
it, and two cash registers connected to both nodes (`target_session_attrs=primary`) behind
nginx. Made once per run (`ha_topology`, a fixture for every test: tests/conftest.py names
this module in pytest_plugins); each test leaves both nodes running and one synchronous.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest

from admin.keys import issue
from db.migrate import apply_migrations
from devtools.embedded_postgres import free_port, service_urls
from devtools.ha_cluster import HaCluster, PatroniNode
from devtools.nginx_front import NginxFront
from devtools.till_drill import Trade
from httpkit.settings import http_settings
from tests.conftest import read_seed
from tests.servers import start, stop, wait_healthy

TILLS = 8


async def stored_exactly_once(topology: Topology, trade: Trade) -> None:
    connection = await asyncpg.connect(topology.owner_url)
    try:
        ids = list(trade.acknowledged.values())
        assert len(set(ids)) == len(ids), "two acknowledged sales share one purchase id"
        found = await connection.fetchval(
            "SELECT count(*) FROM purchases WHERE id = ANY($1::bigint[])", ids
        )
        assert found == len(ids), f"{len(ids) - found} acknowledged sales were lost"
        keyed = await connection.fetch(
            "SELECT key, purchase_id FROM idempotency_keys WHERE key = ANY($1::text[])",
            list(trade.acknowledged),
        )
        assert {row["key"]: row["purchase_id"] for row in keyed} == trade.acknowledged
    finally:
        await connection.close()


def sample(topology: Topology, name: str) -> float:
    answer = httpx.get(
        f"{topology.registers[0]}/metrics",
        headers={"Authorization": f"Bearer {topology.metrics_key}"},
    )
    assert answer.status_code == 200
    for line in answer.text.splitlines():
        if line.startswith(f"{name} ") or line.startswith(f"{name}{{"):
            return float(line.rpartition(" ")[2])
    raise AssertionError(f"{name} not in the metrics")


def ready_facts(topology: Topology) -> dict[str, object]:
    answer = httpx.get(f"{topology.registers[0]}/readyz")
    assert answer.status_code == 200, answer.text
    facts: dict[str, object] = answer.json()
    return facts


async def healthy(topology: Topology) -> PatroniNode:
    """Both nodes up, one standby synchronous; the primary."""
    database = topology.database
    await asyncio.to_thread(database.wait_synchronous, 90)
    primary = database.primary()
    assert primary is not None
    return primary


@dataclass
class Topology:
    database: HaCluster
    front: NginxFront
    registers: list[str]
    tills: list[tuple[str, str]]  # (key, store)
    metrics_key: str
    owner_url: str


async def _setup_database(server: str, url: str, tills: int) -> list[tuple[str, str]]:
    """The shop's database, migrated, with the seed's stores and products and `tills` keys."""
    admin = await asyncpg.connect(server)
    await admin.execute("CREATE DATABASE supermarket")
    await admin.close()
    connection = await asyncpg.connect(url)
    try:
        await apply_migrations(connection)
        seed = read_seed()
        await connection.execute(
            "INSERT INTO supermarkets (id) SELECT unnest($1::text[])", seed.supermarkets
        )
        await connection.execute(
            "INSERT INTO products (name, unit_price) "
            "SELECT * FROM unnest($1::text[], $2::numeric[])",
            list(seed.prices),
            list(seed.prices.values()),
        )
        stores = seed.supermarkets
        placed = [stores[n % len(stores)] for n in range(tills)]
        return [
            (await issue(connection, "till", f"ha-till-{n}", store), store)
            for n, store in enumerate(placed)
        ]
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def ha_topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    folder = tmp_path_factory.mktemp("ha")
    database = HaCluster(folder / "db").start()
    registers: list[tuple[subprocess.Popen[str], str]] = []
    front = None
    try:
        owner_url = database.url("supermarket")
        keys = asyncio.run(_setup_database(database.url(), owner_url, TILLS))
        metrics_key = secrets.token_urlsafe(24)
        env = {
            **service_urls(owner_url),
            "SALE_COPIES_EXPECTED": "2",
            "DURABILITY_CHECK_EVERY_SECONDS": "0.5",
            "METRICS_KEY": metrics_key,
            "DB_CONNECT_TIMEOUT_SECONDS": "2",
        }
        registers = [
            start("cash_register", owner_url, env=env, WEB_CONCURRENCY="1") for _ in range(2)
        ]
        for process, url in registers:
            wait_healthy(process, url)
        front = NginxFront(
            folder / "nginx",
            free_port(),
            [url.removeprefix("http://") for _, url in registers],
            http_settings().max_body_bytes,
        ).start()
        yield Topology(database, front, [url for _, url in registers], keys, metrics_key, owner_url)
    finally:
        try:
            if front is not None:
                front.stop()
            for process, _ in registers:
                stop_or_kill(process)
        finally:
            database.stop()


def stop_or_kill(process: subprocess.Popen[str]) -> None:
    """SIGTERM, and SIGKILL if it has not stopped in time: the cluster must be stopped after
    it either way, or its nodes outlive the run."""
    try:
        stop(process)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
