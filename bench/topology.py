"""The Phase 3 topology measured: POST /purchase through nginx with 1, 2 and 3 cash
register processes, and without nginx, on one primary streaming to a hot standby; what each
kind of process costs in CPU seconds per 1,000 purchases; and from those, how many cores the
design document's 5,000/s and 50,000/s would take.

This machine's cores are shared by everything here, so more processes cannot add throughput:
the figures that carry over to a bigger machine are the costs, not the rates.
"""

from __future__ import annotations

import asyncio
import resource
import shutil
import threading
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import asyncpg

from bench.environment import (
    SERVER_SETTINGS,
    WORK_DIR,
    BenchKeys,
    bench_keys,
    machine,
    now,
    seeded_database,
    serving_process,
    wrk,
)
from bench.goals import Section, verdicts
from bench.processes import cpu_seconds
from bench.purchases import BENCH_DIR, TILL_REQUESTS_PER_SECOND
from bench.sale_cost import pgbench, pgbench_with
from cash_register.queries import RECORD_PURCHASES
from devtools.embedded_postgres import EmbeddedPostgres, free_port
from devtools.nginx_front import NginxFront
from httpkit.settings import http_settings

REGISTERS = 3
TOPOLOGY = "topology"
BATCH = 100  # purchases per transaction in the batched pgbench run (2 lines each)
BATCH_CLIENTS = 4
TARGETS = (5_000, 50_000)
KINDS = ("nginx", "cash register", "primary", "replica", "wrk (load)")
SLOT = "bench"

# The cash register's statement with BATCH purchases of two distinct products each: what the
# group commit sends at its best, so the primary's own ceiling.
BATCHED_SALES = (
    "(SELECT array_agg(ROW('SMKT00' || (1 + g % 3), "
    "('00000000-0000-4000-8000-' || lpad((1 + (random() * 4999)::int)::text, 12, '0'))::uuid, "
    "NULL, 'pgbench-till', md5(random()::text), NULL, NULL, NULL, NULL, "
    "(SELECT array_agg(ROW(p.id, 1)::arriving_line) FROM "
    "(SELECT id FROM products WHERE g > 0 ORDER BY random() LIMIT 2) p))::arriving_sale) "
    f"FROM generate_series(1, {BATCH}) g)"
)


@dataclass
class Run:
    """One measured configuration: its wrk figures and what each kind of process spent."""

    name: str
    figures: dict[str, float] = field(default_factory=dict)
    purchases: int = 0
    cpu: dict[str, float] = field(default_factory=dict)
    lag_ms: list[float] = field(default_factory=list)
    wal_bytes: int = 0

    def per_thousand(self, kind: str) -> float | None:
        spent = self.cpu.get(kind)
        return None if spent is None or not self.purchases else spent / self.purchases * 1000


def batched_script() -> str:
    statement = RECORD_PURCHASES.replace("$1", BATCHED_SALES)
    return " ".join(statement.split()) + ";\n"


class LagSampler:
    """The replica's replay lag as the primary sees it (pg_stat_replication), every 0.2 s, in
    a thread of its own while a run lasts."""

    def __init__(self, primary_url: str) -> None:
        self._url = primary_url
        self._stop = threading.Event()
        self.samples_ms: list[float] = []
        self._thread = threading.Thread(target=lambda: asyncio.run(self._sample()), daemon=True)

    async def _sample(self) -> None:
        connection = await asyncpg.connect(self._url)
        try:
            while not self._stop.is_set():
                lag = await connection.fetchval(
                    "SELECT coalesce(max(extract(epoch FROM replay_lag)), 0) "
                    "FROM pg_stat_replication"
                )
                self.samples_ms.append(float(lag) * 1000)
                await asyncio.sleep(0.2)
        finally:
            await connection.close()

    def __enter__(self) -> LagSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


async def _wal_position(url: str) -> int:
    """Bytes of WAL the primary has written since it was made."""
    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')"))
    finally:
        await connection.close()


@dataclass
class Topology:
    """The running pieces a configuration is measured on."""

    url: str  # the primary's bench database, as its owner
    primary: EmbeddedPostgres
    replica: EmbeddedPostgres
    registers: list[tuple[str, int]]  # base URL and pid of each cash register
    keys: BenchKeys


def _cpu(topology: Topology, register_pids: list[int], nginx_pid: int | None) -> dict[str, float]:
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent = {
        "cash register": cpu_seconds(*register_pids),
        "primary": cpu_seconds(topology.primary.postmaster_pid()),
        "replica": cpu_seconds(topology.replica.postmaster_pid()),
        "wrk (load)": reaped.ru_utime + reaped.ru_stime,
    }
    if nginx_pid is not None:
        spent["nginx"] = cpu_seconds(nginx_pid)
    return spent


def measure(
    topology: Topology, name: str, url: str, registers: int, nginx_pid: int | None,
    seconds: int, connections: int,
) -> Run:  # fmt: skip
    """Saturate `url` with purchases; what it achieved and what every process spent."""
    print(f"{name}: POST /purchase, {connections} connections, {seconds} s …", flush=True)
    run = Run(name)
    pids = [pid for _, pid in topology.registers[:registers]]
    acknowledged = WORK_DIR / "acknowledged-topology.txt"
    wal_start = asyncio.run(_wal_position(topology.url))
    before = _cpu(topology, pids, nginx_pid)
    with LagSampler(topology.primary.url()) as sampler:
        run.figures = wrk(
            url, seconds, connections, BENCH_DIR / "purchase.lua",
            BENCH_ACKNOWLEDGED_FILE=str(acknowledged), **topology.keys.wrk_env(),
        )  # fmt: skip
    after = _cpu(topology, pids, nginx_pid)
    run.wal_bytes = asyncio.run(_wal_position(topology.url)) - wal_start
    run.cpu = {kind: after[kind] - before[kind] for kind in after}
    run.purchases = len(acknowledged.read_text().split())
    run.lag_ms = sampler.samples_ms
    return run


def batched_primary(topology: Topology, seconds: int) -> Run:
    """pgbench sending the statement with BATCH purchases per transaction, so the primary's
    cost per purchase at the best batching, and its WAL per purchase."""
    print(f"pgbench, {BATCH} purchases per transaction, {seconds} s …", flush=True)
    run = Run(f"pgbench, {BATCH} purchases per transaction")
    script = WORK_DIR / "purchase-batched.pgbench"
    script.write_text(batched_script())
    wal_start = asyncio.run(_wal_position(topology.url))
    before = cpu_seconds(topology.primary.postmaster_pid())
    replica_before = cpu_seconds(topology.replica.postmaster_pid())
    with LagSampler(topology.primary.url()) as sampler:
        transactions = pgbench_with(topology.url, seconds, script, BATCH_CLIENTS)
    run.cpu = {
        "primary": cpu_seconds(topology.primary.postmaster_pid()) - before,
        "replica": cpu_seconds(topology.replica.postmaster_pid()) - replica_before,
    }
    run.purchases = round(transactions * seconds * BATCH)
    run.figures = {"rate": transactions * BATCH}
    run.wal_bytes = asyncio.run(_wal_position(topology.url)) - wal_start
    run.lag_ms = sampler.samples_ms
    return run


def _cash_register(url: str, number: int) -> AbstractContextManager[tuple[str, int]]:
    return serving_process(
        "cash_register.main:app",
        url,
        1,
        f"cash_register-{number}",
        TILL_REQUESTS_PER_SECOND=TILL_REQUESTS_PER_SECOND,
    )


def run_topology_benchmark(seconds: int, connections: int) -> Section:
    """Measure every configuration in one run; return the report section, whose goal is that
    every configuration answered without errors."""
    folder = WORK_DIR / "topology"
    shutil.rmtree(folder, ignore_errors=True)
    primary = EmbeddedPostgres(folder / "primary", settings=SERVER_SETTINGS).start()
    replica: EmbeddedPostgres | None = None
    try:
        url = seeded_database(primary.url())
        replica = EmbeddedPostgres.standby_of(primary, folder / "replica", SLOT)
        with ExitStack() as stack:
            registers = [
                stack.enter_context(_cash_register(url, number))
                for number in range(1, REGISTERS + 1)
            ]
            topology = Topology(url, primary, replica, registers, bench_keys(url))
            runs = [
                measure(topology, "without nginx, 1 cash register", registers[0][0], 1, None,
                        seconds, connections)
            ]  # fmt: skip
            for count in range(1, REGISTERS + 1):
                front = NginxFront(
                    folder / f"nginx-{count}",
                    free_port(),
                    [urlsplit(base).netloc for base, _ in registers[:count]],
                    http_settings().max_body_bytes,
                ).start()
                try:
                    assert front.process is not None
                    runs.append(
                        measure(topology, f"nginx, {count} cash register{'s' * (count > 1)}",
                                front.url, count, front.process.pid, seconds, connections)
                    )  # fmt: skip
                finally:
                    front.stop()
        print(f"pgbench, one purchase per transaction, {seconds} s …", flush=True)
        single = pgbench(url, seconds)
        batched = batched_primary(topology, seconds)
    finally:
        for server in (replica, primary):
            if server is not None:
                server.destroy()
    section = Section(TOPOLOGY, _report(seconds, connections, runs, single, batched))
    for run in runs:
        errors = run.figures["non_2xx"] + run.figures["socket_errors"]
        section.add(f"{run.name}: no non-2xx, no socket errors", f"{errors:.0f}", errors == 0)
    section.report += "\n" + verdicts(section.goals)
    return section


def _ms(samples: list[float], share: float) -> str:
    if not samples:
        return "–"
    ordered = sorted(samples)
    return f"{ordered[min(len(ordered) - 1, int(share * len(ordered)))]:.0f}"


def _cost(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _report(seconds: int, connections: int, runs: list[Run], single: float, batched: Run) -> str:
    rates = "\n".join(
        f"| {run.name} | {run.figures['rate']:,.0f} | {run.figures['p50_ms']:.1f} | "
        f"{run.figures['p99_ms']:.1f} | {run.figures['non_2xx']:.0f} | {_ms(run.lag_ms, 0.5)} | "
        f"{_ms(run.lag_ms, 1.0)} |"
        for run in runs
    )
    costs = "\n".join(
        f"| {run.name} | " + " | ".join(_cost(run.per_thousand(kind)) for kind in KINDS) + " | "
        f"{run.wal_bytes / max(run.purchases, 1) / 1024:.1f} |"
        for run in [*runs, batched]
    )
    widest = runs[-1]
    cores = "\n".join(
        f"| {kind} | {_cost(widest.per_thousand(kind))} | "
        + " | ".join(_cost((widest.per_thousand(kind) or 0) * target / 1000) for target in TARGETS)
        + " |"
        for kind in KINDS[:4]
    )
    best = batched.per_thousand("primary") or 0
    wal_per_purchase = batched.wal_bytes / max(batched.purchases, 1)
    live_wal = widest.wal_bytes / max(widest.purchases, 1)
    ceiling = "\n".join(
        f"| {target:,}/s | {(widest.per_thousand('primary') or 0) * target / 1000:.1f} | "
        f"{best * target / 1000:.1f} | {live_wal * target / 2**20:.0f} | "
        f"{wal_per_purchase * target / 2**20:.0f} |"
        for target in TARGETS
    )
    batched_row = (
        f"| {batched.name} | {batched.figures['rate']:,.0f} | | | | "
        f"{_ms(batched.lag_ms, 0.5)} | {_ms(batched.lag_ms, 1.0)} |"
    )
    return f"""
## Phase 3 topology: nginx, several cash registers, a streaming replica

- Date: {now()}
- Machine: {machine()}; the primary, the replica, nginx, the cash registers and wrk all
  share it, so more cash registers cannot add throughput here: what carries over is the cost.
- Topology: a private PostgreSQL primary with a hot standby streaming from it (physical slot,
  `synchronous_commit` on, asynchronous replication); {REGISTERS} cash register processes of
  one uvicorn worker each (group commit on); nginx from `ops/nginx/`, keepalive to the cash
  registers.
- Load: wrk, {connections} connections as fast as answered, {seconds} s per configuration,
  `bench/purchase.lua` (a third new customers, 1 to 4 products, three stores, till keys).
- CPU: user + system seconds of each process tree, from `/proc` before and after each run
  (PostgreSQL: the postmaster and every backend, reaped ones included; wrk: this harness's
  reaped children). Lag: `replay_lag` of `pg_stat_replication` on the primary, every 0.2 s.

| configuration | purchases/s | p50 ms | p99 ms | non-2xx | replica lag p50 ms | lag max ms |
|---|---:|---:|---:|---:|---:|---:|
{rates}
| pgbench, one purchase per transaction ({single:,.0f}/s) | | | | | | |
{batched_row}

CPU seconds per 1,000 purchases, by kind of process, and WAL per purchase:

| configuration | nginx | cash register | primary | replica | wrk (load) | WAL KiB |
|---|---:|---:|---:|---:|---:|---:|
{costs}

Cores each kind would need, at the costs of "{widest.name}" (CPU seconds per 1,000
purchases × purchases per second ÷ 1,000; the design document's targets):

| kind of process | CPU s per 1,000 | cores for {TARGETS[0]:,}/s | cores for {TARGETS[1]:,}/s |
|---|---:|---:|---:|
{cores}

The one primary, the part that cannot be multiplied (cores, and WAL written per second): at
the live configuration's batching, and at the best batching (pgbench, {BATCH} purchases per
transaction):

| rate | primary cores, live | primary cores, best | WAL MiB/s, live | WAL MiB/s, best |
|---|---:|---:|---:|---:|
{ceiling}
"""
