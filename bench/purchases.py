"""POST /purchase against pgbench and GET /health, measured in one run."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import asyncpg

from bench.environment import (
    ROOT,
    WORK_DIR,
    BenchKeys,
    bench_database,
    bench_keys,
    machine,
    now,
    serving,
    wrk,
)
from bench.goals import Goal, Section, verdicts
from cash_register.queries import RECORD_PURCHASES
from devtools.embedded_postgres import program

BENCH_DIR = ROOT / "bench"
PGBENCH_CLIENTS = 16
PURCHASES = "purchases"

# The statement's parameter for one purchase of the same mix as purchase.lua: a third new
# customers, 1 to 4 distinct products, three stores, 300 tills (each with its own ledger).
PGBENCH_SALES = (
    "ARRAY[ROW('SMKT00' || :store, "
    "CASE WHEN :new = 1 THEN gen_random_uuid() "
    "ELSE ('00000000-0000-4000-8000-' || lpad(:customer::text, 12, '0'))::uuid END, "
    # now; one of 300 tills; a request id, as every request has
    "NULL, 'pgbench-till-' || :till, md5(random()::text), "
    "NULL, NULL, NULL, NULL, "  # no loyalty card, no idempotency key: as in the wrk mix
    "(SELECT array_agg(ROW(id, 1)::arriving_line) "
    "FROM (SELECT id FROM products ORDER BY random() LIMIT :n) p))::arriving_sale]"
)
PGBENCH_VARIABLES = """\\set store random(1, 3)
\\set till random(1, 300)
\\set new random(1, 3)
\\set customer random(1, 5000)
\\set n random(1, 4)
"""


def pgbench_script() -> str:
    """The cash register's own statement, one purchase per transaction."""
    statement = RECORD_PURCHASES.replace("$1", PGBENCH_SALES)
    return PGBENCH_VARIABLES + " ".join(statement.split()) + ";\n"


def pgbench(database_url: str, seconds: int) -> float:
    """Transactions per second of pgbench running `pgbench_script`."""
    script = WORK_DIR / "purchase.pgbench"
    script.write_text(pgbench_script())
    return pgbench_with(database_url, seconds, script, PGBENCH_CLIENTS)


def pgbench_with(database_url: str, seconds: int, script: Path, clients: int) -> float:
    """Transactions per second of pgbench running `script` with `clients` clients."""
    result = subprocess.run(
        [
            program("pgbench"),
            "-n",
            "-M",
            "prepared",
            "-c",
            str(clients),
            "-j",
            "2",
            "-T",
            str(seconds),
            "-f",
            str(script),
            database_url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"tps = ([\d.]+)", result.stdout)
    if found is None:
        raise RuntimeError(f"pgbench said: {result.stdout}{result.stderr}")
    return float(found.group(1))


async def _stored(database_url: str, acknowledged: list[int]) -> tuple[int, int]:
    """How many acknowledged ids are stored (once each: id is the key), and all purchases."""
    connection = await asyncpg.connect(database_url)
    try:
        found = await connection.fetchval(
            "SELECT count(*) FROM purchases WHERE id = ANY($1::bigint[])", acknowledged
        )
        total = await connection.fetchval("SELECT count(*) FROM purchases")
    finally:
        await connection.close()
    return found, total


PACED_RATES = (1_000, 2_000)
PACED_INTERVAL_MS = 100  # each connection's mean pause: rate × 0.1 s connections
# The tills' rate limit stays on (every request passes through it), set above what any till
# sends here; authentication is on as always.
TILL_REQUESTS_PER_SECOND = "1000000"


def paced(url: str, rate: int, seconds: int, keys: BenchKeys) -> dict[str, float]:
    """POST /purchase offered at about `rate` per second (bench/paced_purchase.lua)."""
    connections = rate * PACED_INTERVAL_MS // 1000
    figures = wrk(
        url,
        seconds,
        connections,
        BENCH_DIR / "paced_purchase.lua",
        BENCH_INTERVAL_MS=str(PACED_INTERVAL_MS),
        **keys.wrk_env(),
    )
    figures["offered"] = rate
    return figures


def run_purchase_benchmark(
    seconds: int, connections: int, workers: int, saturation_runs: int
) -> Section:
    """Measure; return the report section with its goals."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    acknowledged: list[int] = []
    with bench_database() as database_url:
        before = asyncio.run(_stored(database_url, []))[1]
        keys = bench_keys(database_url)
        with serving(
            "cash_register.main:app",
            database_url,
            workers,
            TILL_REQUESTS_PER_SECOND=TILL_REQUESTS_PER_SECOND,
        ) as url:
            print(f"GET /health, {connections} connections, {seconds} s …", flush=True)
            health = wrk(f"{url}/health", seconds, connections, BENCH_DIR / "report.lua")
            steady = []
            for rate in PACED_RATES:
                print(f"POST /purchase offered at {rate:,}/s, {seconds} s …", flush=True)
                steady.append(paced(url, rate, seconds, keys))
            saturated = []
            for run in range(1, saturation_runs + 1):
                print(f"POST /purchase run {run}, {connections} connections …", flush=True)
                acknowledged_file = WORK_DIR / f"acknowledged-{run}.txt"
                saturated.append(
                    wrk(
                        url,
                        seconds,
                        connections,
                        BENCH_DIR / "purchase.lua",
                        BENCH_ACKNOWLEDGED_FILE=str(acknowledged_file),
                        **keys.wrk_env(),
                    )
                )
                acknowledged += [int(line) for line in acknowledged_file.read_text().split()]
        found, total = asyncio.run(_stored(database_url, acknowledged))
        print(f"pgbench, {PGBENCH_CLIENTS} clients, {seconds} s …", flush=True)
        reference = pgbench(database_url, seconds)

    section = Section(PURCHASES, "")
    for run, figures in enumerate(saturated, start=1):
        ratio = figures["rate"] / reference
        section.add(f"run {run}: POST /purchase ≥ 1.2 × pgbench", f"{ratio:.2f} ×", ratio >= 1.2)
        section.add(f"run {run}: p99 ≤ 100 ms", f"{figures['p99_ms']:.1f} ms",
                    figures["p99_ms"] <= 100)  # fmt: skip
    two_thousand = steady[-1]
    to_health = saturated[0]["rate"] / health["rate"]
    section.add("POST /purchase ≥ 0.35 × GET /health", f"{to_health:.2f} ×", to_health >= 0.35)
    section.add("offered 2,000/s: p99 ≤ 20 ms", f"{two_thousand['p99_ms']:.1f} ms",
                two_thousand["p99_ms"] <= 20)  # fmt: skip
    errors = sum(f["non_2xx"] + f["socket_errors"] for f in [*saturated, *steady])
    section.add("no non-2xx, no socket errors", f"{errors:.0f}", errors == 0)
    section.add(
        "every acknowledged purchase stored once",
        f"{found:,} of {len(acknowledged):,}",
        found == len(acknowledged) == len(set(acknowledged)),
    )
    section.report = _report(
        seconds,
        connections,
        workers,
        health,
        saturated,
        steady,
        reference,
        len(acknowledged),
        found,
        total - before,
        section.goals,
    )
    return section


def _row(name: str, figures: dict[str, float]) -> str:
    return (
        f"| {name} | {figures['rate']:,.0f} | {figures['p50_ms']:.1f} | "
        f"{figures['p99_ms']:.1f} | {figures['p999_ms']:.1f} | {figures['non_2xx']:.0f} |"
    )


def _report(
    seconds: int,
    connections: int,
    workers: int,
    health: dict[str, float],
    saturated: list[dict[str, float]],
    steady: list[dict[str, float]],
    reference: float,
    acknowledged: int,
    found: int,
    stored: int,
    goals: list[Goal],
) -> str:
    runs = "\n".join(
        _row(f"POST /purchase, saturated, run {n}", figures)
        for n, figures in enumerate(saturated, start=1)
    )
    offered = "\n".join(
        _row(f"POST /purchase, offered {figures['offered']:,.0f}/s", figures) for figures in steady
    )
    ratios = ", ".join(f"{figures['rate'] / reference:.2f}" for figures in saturated)
    return f"""
## POST /purchase

- Date: {now()}
- Machine: {machine()}; PostgreSQL, the service and the load generators share it.
- Service: cash register, {workers} uvicorn workers, group commit on, `synchronous_commit` on,
  every request authenticated by one of its store's 100 till keys (300 tills, each with its
  own ledger) and passed through the tills' rate
  limit (set to {TILL_REQUESTS_PER_SECOND} per second, so it never refuses here).
- Saturated: wrk, {connections} connections as fast as they are answered, {seconds} s per run,
  {len(saturated)} consecutive runs, mix of `bench/purchase.lua` (a third new customers, 1 to 4
  products, three stores).
- Offered at a steady rate, measured first (the saturated runs leave PostgreSQL vacuuming
  their hundreds of thousands of new rows): wrk with `bench/paced_purchase.lua` (Lua `delay()`:
  each of rate ÷ 10 connections pauses {PACED_INTERVAL_MS} ms on average between its
  purchases); the requests/s column is the rate achieved.
- Reference: pgbench, {PGBENCH_CLIENTS} clients, the same statement as one transaction per
  purchase (`bench/.work/purchase.pgbench`, made from `cash_register/queries.py`).

| measurement | requests/s | p50 ms | p99 ms | p99.9 ms | non-2xx |
|---|---:|---:|---:|---:|---:|
{_row("GET /health", health)}
{runs}
{offered}
| pgbench, one transaction per purchase | {reference:,.0f} | | | | |

- POST /purchase ÷ pgbench, each saturated run: **{ratios}** (target ≥ 1.2)
- POST /purchase ÷ GET /health: **{saturated[0]["rate"] / health["rate"]:.2f}** (target ≥ 0.35)
- Acknowledged (201) in the saturated runs: {acknowledged:,}; of those stored: {found:,};
  purchases stored during the whole run: {stored:,} (the paced runs' too, and requests still
  in flight when wrk stopped).

{verdicts(goals)}"""
