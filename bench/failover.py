"""The database under Patroni measured: POST /purchase saturated with the standby synchronous
beside asynchronous, in the same run on the same cluster; then two failovers while eight
keyed tills trade (the primary's machine killed, and after the old primary has rejoined, the
new one killed), each timed from the kill to the first accepted sale, with every acknowledged
sale looked for afterwards.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from bench.environment import (
    BENCH_DATABASE,
    SERVER_SETTINGS,
    WORK_DIR,
    BenchKeys,
    bench_keys,
    machine,
    now,
    seeded_database,
    serving,
    wrk,
)
from bench.goals import Section, verdicts
from bench.purchases import BENCH_DIR, TILL_REQUESTS_PER_SECOND
from devtools.ha_cluster import HaCluster, PatroniNode
from devtools.till_drill import (
    RECOVERY_LIMIT_SECONDS,
    RETRYABLE,
    Trade,
    first_accepted_after,
    trade_through,
)

FAILOVER = "failover"
DRILL_TILLS = 8


@dataclass(frozen=True)
class Failover:
    """One failover as the tills lived it."""

    killed: str
    promoted: str
    recovered_seconds: float
    acknowledged: int
    lost: int
    stored_twice: int
    answers: dict[int, int]
    rejoined_seconds: float


async def _lost_and_doubled(url: str, trade: Trade) -> tuple[int, int]:
    """Acknowledged sales not stored, and acknowledged keys stored more than once."""
    connection = await asyncpg.connect(url)
    try:
        ids = list(trade.acknowledged.values())
        found = await connection.fetchval(
            "SELECT count(*) FROM purchases WHERE id = ANY($1::bigint[])", ids
        )
        doubled = await connection.fetchval(
            "SELECT count(*) FROM (SELECT key FROM idempotency_keys WHERE key = ANY($1::text[]) "
            "GROUP BY till_id, key HAVING count(*) > 1) d",
            list(trade.acknowledged),
        )
    finally:
        await connection.close()
    return len(set(ids)) - int(found), int(doubled)


def _drill_tills(keys: BenchKeys) -> list[tuple[str, str]]:
    stores = sorted(keys.tills)
    return [(keys.tills[stores[n % len(stores)]][n], stores[n % len(stores)])
            for n in range(DRILL_TILLS)]  # fmt: skip


def _fail_over(
    cluster: HaCluster, url: str, database_url: str, tills: list[tuple[str, str]]
) -> Failover:
    """Kill the primary's node while the tills trade; bring it back as a standby."""
    victim = cluster.wait_for_primary()
    kill: Callable[[], None] = victim.kill
    trade, killed_at = asyncio.run(trade_through(url, tills, kill))
    promoted: PatroniNode = cluster.wait_for_primary()
    lost, doubled = asyncio.run(_lost_and_doubled(database_url, trade))
    started = time.monotonic()
    victim.start()
    cluster.wait_synchronous(120)
    return Failover(
        killed=victim.name,
        promoted=promoted.name,
        recovered_seconds=first_accepted_after(trade, killed_at),
        acknowledged=len(trade.acknowledged),
        lost=lost,
        stored_twice=doubled,
        answers=dict(sorted(trade.answers.items())),
        rejoined_seconds=time.monotonic() - started,
    )


def _saturated(url: str, seconds: int, connections: int, keys: BenchKeys) -> dict[str, float]:
    return wrk(url, seconds, connections, BENCH_DIR / "purchase.lua", **keys.wrk_env())


def run_failover_benchmark(seconds: int, connections: int, workers: int) -> Section:
    """Measure; return the report section with its goals."""
    folder = WORK_DIR / "ha"
    shutil.rmtree(folder, ignore_errors=True)
    cluster = HaCluster(folder, backups=True, settings=SERVER_SETTINGS)
    try:
        print("a primary and a synchronous standby under Patroni …", flush=True)
        cluster.start()
        seeded_database(cluster.url())
        database_url = cluster.url(BENCH_DATABASE)
        keys = bench_keys(database_url)
        with serving(
            "cash_register.main:app",
            database_url,
            workers,
            log_name="cash_register-ha",
            TILL_REQUESTS_PER_SECOND=TILL_REQUESTS_PER_SECOND,
            SALE_COPIES_EXPECTED="2",
            DB_CONNECT_TIMEOUT_SECONDS="2",
        ) as url:
            print(f"POST /purchase saturated, synchronous standby, {seconds} s …", flush=True)
            synchronous = _saturated(url, seconds, connections, keys)
            cluster.set_synchronous(False)
            print(f"POST /purchase saturated, asynchronous standby, {seconds} s …", flush=True)
            asynchronous = _saturated(url, seconds, connections, keys)
            cluster.set_synchronous(True)
            failovers = []
            for number in (1, 2):
                print(f"failover {number}: the primary's node killed while tills trade …")
                failovers.append(_fail_over(cluster, url, database_url, _drill_tills(keys)))
    finally:
        cluster.stop()
    return _section(synchronous, asynchronous, failovers, seconds, connections, workers)


def _section(
    synchronous: dict[str, float],
    asynchronous: dict[str, float],
    failovers: list[Failover],
    seconds: int,
    connections: int,
    workers: int,
) -> Section:
    section = Section(FAILOVER, "")
    for number, failover in enumerate(failovers, start=1):
        section.add(
            f"failover {number}: sales accepted again ≤ {RECOVERY_LIMIT_SECONDS} s after the kill",
            f"{failover.recovered_seconds:.1f} s",
            failover.recovered_seconds <= RECOVERY_LIMIT_SECONDS,
        )
        section.add(
            f"failover {number}: acknowledged sales lost = 0, stored twice = 0",
            f"{failover.lost} lost, {failover.stored_twice} twice of {failover.acknowledged:,}",
            failover.lost == 0 and failover.stored_twice == 0,
        )
        answered = set(failover.answers)
        section.add(
            f"failover {number}: tills answered only 201 and retryable 503",
            ", ".join(f"{code or 'broken'}: {n:,}" for code, n in failover.answers.items()),
            answered <= {201, *RETRYABLE},
        )
    ratio = synchronous["rate"] / asynchronous["rate"]
    rows = "\n".join(
        f"| {n} | {f.killed} → {f.promoted} | {f.recovered_seconds:.1f} s | {f.acknowledged:,} "
        f"| {f.lost} | {f.stored_twice} | {f.rejoined_seconds:.1f} s |"
        for n, f in enumerate(failovers, start=1)
    )
    header = (
        "| # | killed → promoted | kill to first accepted sale | acknowledged | lost "
        "| stored twice | old primary back as synchronous standby |\n|---|---|---|---|---|---|---|"
    )
    sync_row = (
        "| synchronous standby (a 201 waits for the standby's flush) "
        f"| {synchronous['rate']:,.0f} | {synchronous['p99_ms']:.1f} ms |"
    )
    async_row = (
        "| asynchronous standby (the same cluster, `synchronous_mode` off) "
        f"| {asynchronous['rate']:,.0f} | {asynchronous['p99_ms']:.1f} ms |"
    )
    section.report = f"""## The database under Patroni: synchronous standby and failovers

Run {now()} on {machine()}: etcd and two PostgreSQL 15 nodes under Patroni 3 on this machine
(leader lease 10 s, loop 1 s, `synchronous_mode` on), WAL archived to pgBackRest; one cash
register with {workers} workers on a multi-host URL (`target_session_attrs=primary`).

| POST /purchase saturated ({connections} connections, {seconds} s) | sales/s | p99 |
|---|---|---|
{sync_row}
{async_row}

Synchronous replication runs at **{ratio:.2f}×** the asynchronous rate on this machine, where
both nodes share its two cores and one disk.

Failovers while {DRILL_TILLS} keyed tills trade, each sale retried until acknowledged; the
primary's node (its Patroni agent, its postmaster and every backend) killed with SIGKILL:

{header}
{rows}

{verdicts(section.goals)}
"""
    return section
