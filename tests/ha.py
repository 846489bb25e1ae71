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
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import asyncpg
import httpx
import pytest

from admin.keys import issue
from db.migrate import apply_migrations
from devtools.embedded_postgres import free_port, service_urls
from devtools.ha_cluster import HaCluster, PatroniNode
from devtools.nginx_front import NginxFront
from httpkit.settings import http_settings
from tests.conftest import read_seed
from tests.servers import start, stop, wait_healthy

TILLS = 8
# Retryable answers, as a till sees them: the service says the database is away.
RETRYABLE = {503}
RECOVERY_LIMIT_SECONDS = 30


@dataclass
class Trade:
    """What the tills saw: every acknowledged sale by key, and every answer."""

    acknowledged: dict[str, int] = field(default_factory=dict)
    answers: Counter[int] = field(default_factory=Counter)
    accepted_at: list[float] = field(default_factory=list)


async def keep_selling(
    client: httpx.AsyncClient,
    till: tuple[str, str],
    name: str,
    trade: Trade,
    stop_at: asyncio.Event,
) -> None:
    """One till: sale after sale, each retried with its key until it is acknowledged."""
    key, store = till
    headers = {"Authorization": f"Bearer {key}"}
    body = {"supermarket_id": store, "items": ["milk", "bread"]}
    number = 0
    while not stop_at.is_set():
        number += 1
        sale_key = f"{name}-{number}"
        while True:
            try:
                answer = await client.post(
                    "/purchase", json=body, headers={**headers, "Idempotency-Key": sale_key}
                )
            except httpx.TransportError:
                trade.answers[0] += 1
                await asyncio.sleep(0.2)
                continue
            trade.answers[answer.status_code] += 1
            if answer.status_code == 201:
                trade.acknowledged[sale_key] = answer.json()["purchase_id"]
                trade.accepted_at.append(time.monotonic())
                break
            assert answer.status_code in RETRYABLE, answer.text
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.01)


async def trade_through(
    topology: Topology, fault: Callable[[], None], settle: float = 3.0
) -> tuple[Trade, float]:
    """Eight tills trade; `fault()` runs in a thread once they have; they go on until sales
    have been accepted again for `settle` seconds. Returns the trade and the fault's moment."""
    trade = Trade()
    stop_at = asyncio.Event()
    async with httpx.AsyncClient(base_url=topology.front.url, timeout=15) as client:
        tills = [
            asyncio.create_task(
                keep_selling(client, till, f"t{n}-{secrets.token_hex(3)}", trade, stop_at)
            )
            for n, till in enumerate(topology.tills)
        ]
        try:
            await until(lambda: len(trade.acknowledged) >= 40, 30, "the tills do not trade")
            faulted_at = time.monotonic()
            await asyncio.to_thread(fault)
            deadline = faulted_at + RECOVERY_LIMIT_SECONDS + 30
            while not [t for t in trade.accepted_at if t > faulted_at + 1]:
                assert time.monotonic() < deadline, f"no sale accepted: {trade.answers}"
                await asyncio.sleep(0.1)
            await asyncio.sleep(settle)
        finally:
            stop_at.set()
            await asyncio.wait_for(asyncio.gather(*tills), 60)
    return trade, faulted_at


def first_accepted_after(trade: Trade, moment: float) -> float:
    """Seconds from `moment` to the first sale acknowledged after it that was not already
    being committed when it came (a sale answered within 0.5 s may have been)."""
    later = sorted(t for t in trade.accepted_at if t > moment)
    gaps = [b - a for a, b in zip([moment, *later], later, strict=False)]
    # The failover is the longest pause in acceptances after the fault.
    longest = max(range(len(gaps)), key=gaps.__getitem__)
    return later[longest] - moment


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


async def until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await asyncio.to_thread(condition):
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.25)


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
        if front is not None:
            front.stop()
        for process, _ in registers:
            stop(process)
        database.stop()
