"""POST /purchase against pgbench and GET /health, measured in one run (issue 3)."""

from __future__ import annotations

import asyncio
import re
import subprocess

import asyncpg

from bench.environment import ROOT, WORK_DIR, bench_database, machine, now, serving, wrk
from cash_register.queries import RECORD_PURCHASES
from devtools.embedded_postgres import program

BENCH_DIR = ROOT / "bench"
PGBENCH_CLIENTS = 16

# The statement's parameters for one purchase of the same mix as purchase.lua: a third new
# customers, 1 to 4 distinct products, three stores.
PGBENCH_PARAMETERS = {
    "$1": "ARRAY['SMKT00' || :store]",
    "$2": "ARRAY[CASE WHEN :new = 1 THEN gen_random_uuid() "
    "ELSE ('00000000-0000-4000-8000-' || lpad(:customer::text, 12, '0'))::uuid END]",
    "$3": "ARRAY[NULL::timestamptz]",
    "$4": "array_fill(1, ARRAY[:n::int])",
    "$5": "(SELECT array_agg(id) FROM (SELECT id FROM products ORDER BY random() LIMIT :n) p)",
    "$6": "array_fill(1, ARRAY[:n::int])",
    "$7": "ARRAY[NULL::text]",  # no idempotency key, as in the wrk mix
    "$8": "ARRAY[NULL::text]",  # not an offline sale
    "$9": "ARRAY[NULL::bytea]",
}
PGBENCH_VARIABLES = """\\set store random(1, 3)
\\set new random(1, 3)
\\set customer random(1, 5000)
\\set n random(1, 4)
"""


def pgbench_script() -> str:
    """The cash register's own statement, one purchase per transaction."""
    statement = re.sub(
        r"\$[1-9]\b", lambda found: PGBENCH_PARAMETERS[found.group(0)], RECORD_PURCHASES
    )
    return PGBENCH_VARIABLES + " ".join(statement.split()) + ";\n"


def pgbench(database_url: str, seconds: int) -> float:
    """Transactions per second of pgbench running `pgbench_script`."""
    script = WORK_DIR / "purchase.pgbench"
    script.write_text(pgbench_script())
    result = subprocess.run(
        [
            program("pgbench"),
            "-n",
            "-M",
            "prepared",
            "-c",
            str(PGBENCH_CLIENTS),
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


def run_purchase_benchmark(seconds: int, connections: int, workers: int) -> tuple[str, bool]:
    """Measure; return the report section and whether every target was met."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    acknowledged_file = WORK_DIR / "acknowledged.txt"
    with bench_database() as database_url:
        before = asyncio.run(_stored(database_url, []))[1]
        with serving("cash_register.main:app", database_url, workers) as url:
            print(f"GET /health, {connections} connections, {seconds} s …", flush=True)
            health = wrk(f"{url}/health", seconds, connections, BENCH_DIR / "report.lua")
            print(f"POST /purchase, {connections} connections, {seconds} s …", flush=True)
            purchases = wrk(
                url,
                seconds,
                connections,
                BENCH_DIR / "purchase.lua",
                BENCH_ACKNOWLEDGED_FILE=str(acknowledged_file),
            )
        acknowledged = [int(line) for line in acknowledged_file.read_text().split()]
        found, total = asyncio.run(_stored(database_url, acknowledged))
        print(f"pgbench, {PGBENCH_CLIENTS} clients, {seconds} s …", flush=True)
        reference = pgbench(database_url, seconds)

    checks = {
        "POST /purchase ≥ 1.2 × pgbench": purchases["rate"] >= 1.2 * reference,
        "POST /purchase ≥ 0.35 × GET /health": purchases["rate"] >= 0.35 * health["rate"],
        "p99 ≤ 100 ms": purchases["p99_ms"] <= 100,
        "no non-2xx, no socket errors": purchases["non_2xx"] == 0
        and purchases["socket_errors"] == 0,
        "every acknowledged purchase stored once": found
        == len(acknowledged)
        == len(set(acknowledged)),
    }
    report = _report(
        seconds,
        connections,
        workers,
        health,
        purchases,
        reference,
        len(acknowledged),
        found,
        total - before,
        checks,
    )
    return report, all(checks.values())


def _row(name: str, figures: dict[str, float]) -> str:
    return (
        f"| {name} | {figures['rate']:,.0f} | {figures['p50_ms']:.1f} | "
        f"{figures['p99_ms']:.1f} | {figures['non_2xx']:.0f} |"
    )


def _report(
    seconds: int,
    connections: int,
    workers: int,
    health: dict[str, float],
    purchases: dict[str, float],
    reference: float,
    acknowledged: int,
    found: int,
    stored: int,
    checks: dict[str, bool],
) -> str:
    rows = "\n".join(f"| {name} | {'pass' if ok else 'FAIL'} |" for name, ok in checks.items())
    return f"""
## POST /purchase (issue 3)

- Date: {now()}
- Machine: {machine()}; PostgreSQL, the service and the load generators share it.
- Service: cash register, {workers} uvicorn workers, group commit on, `synchronous_commit` on.
- Load: wrk, {connections} connections, {seconds} s per measurement, mix of `bench/purchase.lua`
  (a third new customers, 1 to 4 products, three stores).
- Reference: pgbench, {PGBENCH_CLIENTS} clients, the same statement as one transaction per
  purchase (`bench/.work/purchase.pgbench`, made from `cash_register/queries.py`).

| measurement | requests/s | p50 ms | p99 ms | non-2xx |
|---|---:|---:|---:|---:|
{_row("GET /health", health)}
{_row("POST /purchase", purchases)}
| pgbench, one transaction per purchase | {reference:,.0f} | | | |

- POST /purchase ÷ pgbench: **{purchases["rate"] / reference:.2f}** (target ≥ 1.2)
- POST /purchase ÷ GET /health: **{purchases["rate"] / health["rate"]:.2f}** (target ≥ 0.35)
- Acknowledged (201): {acknowledged:,}; of those stored: {found:,}; purchases stored during the
  run: {stored:,} (more than acknowledged only by requests still in flight when wrk stopped).

| check | result |
|---|---|
{rows}
"""
