"""Analytics at the seed's size and at a chain's size, measured in one run.

Serves the analytics over the seed data and measures each endpoint's latency (wrk, one
connection: the time of one answer), then loads generated purchases with the loader (its
rate), and measures again. The answers must cost the same however many sales there are.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from analytics.cursors import Position
from analytics.visitors import Visitors
from bench.environment import (
    ROOT,
    WORK_DIR,
    BenchKeys,
    bench_database,
    bench_keys,
    now,
    serving,
    wrk,
    wrk_while,
)
from bench.goals import Goal, Section, verdicts
from bench.import_profile import costliest_statements, profile_report, statements_counted
from bench.purchases import paced, paced_connections
from db.pool import one_row
from db.replica import PrimaryReads
from devtools.embedded_postgres import program

BENCH_DIR = ROOT / "bench"
SEED_ENDPOINTS = [
    "/unique-customers",
    "/loyal-customers?min_purchases=3&limit=100",
    "/top-products?limit=3",
]
LATENCY_SECONDS = 5
# Tills trading during the import: purchases offered per second (bench/paced_purchase.lua).
TILLS_RATE = 200
GENERATED_END = datetime(2026, 6, 30, tzinfo=UTC)
ANALYTICS = "analytics"


def endpoints() -> list[str]:
    last_day = (GENERATED_END - timedelta(days=1)).date()
    window = f"from={last_day - timedelta(days=29)}&to={last_day}"
    return [
        *SEED_ENDPOINTS,
        "/unique-customers?supermarket_id=SMKT002",
        "/loyal-customers?supermarket_id=SMKT002",
        "/top-products?supermarket_id=SMKT002",
        f"/top-products?{window}",
        f"/sales/daily?{window}",
        f"/sales/daily-totals?{window}",
        f"/sales/by-store?{window}",
        f"/returned-products?{window}",
        "/supermarkets",
    ]


def latencies(url: str, headers: dict[str, str]) -> dict[str, dict[str, float]]:
    """p50 and p99 of each endpoint, one connection at a time, asked by an owner."""
    return {
        path: wrk(f"{url}{path}", LATENCY_SECONDS, 1, BENCH_DIR / "report.lua", headers)
        for path in endpoints()
    }


PAGE = 100
RANGE_DAYS = 600
OWNERS = 32  # asking distinct customers over RANGE_DAYS continuously, while tills trade
TILLS_UNDER_OWNERS_RATE = 500


async def _visitors_cost(database_url: str) -> dict[str, float]:
    """What one analytics worker's bitmaps take: the time to read them all, and their bytes."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        visitors = Visitors(PrimaryReads(pool))
        started = time.perf_counter()
        await visitors.catch_up(pool)
        seconds = time.perf_counter() - started
        rows = await pool.fetchval("SELECT count(*) FROM daily_customers")
    finally:
        await pool.close()
    return {
        "seconds": seconds,
        "bytes": visitors.memory_bytes(),
        "bitmaps": visitors.days_held,
        "rows": rows,
    }


def tills_under_owners(
    analytics_url: str, database_url: str, keys: BenchKeys, question: str
) -> dict[str, dict[str, float]]:
    """POST /purchase offered at a steady rate, alone, then while OWNERS owners ask `question`
    as fast as they are answered."""
    seconds = 2 * LATENCY_SECONDS
    with serving(
        "cash_register.main:app", database_url, 2, TILL_REQUESTS_PER_SECOND="1000000"
    ) as till_url:
        print(
            f"tills at {TILLS_UNDER_OWNERS_RATE}/s alone, then with {OWNERS} owners …", flush=True
        )
        alone = paced(till_url, TILLS_UNDER_OWNERS_RATE, seconds, keys)
        owners: dict[str, float] = {}
        with wrk_while(
            f"{analytics_url}{question}",
            OWNERS,
            BENCH_DIR / "report.lua",
            owners,
            headers=keys.owner_headers(),
        ):
            busy = paced(till_url, TILLS_UNDER_OWNERS_RATE, seconds, keys)
    return {"tills alone": alone, f"tills with {OWNERS} owners": busy, "owners": owners}


async def _deepest_position(database_url: str) -> tuple[int, Position]:
    """How many customers there are, and the one just before the last page of all of them."""
    connection = await asyncpg.connect(database_url)
    try:
        customers = await connection.fetchval("SELECT count(*) FROM customers")
        row = one_row(
            await connection.fetchrow(
                "SELECT purchase_count, id FROM customers ORDER BY purchase_count DESC, id "
                "OFFSET $1 LIMIT 1",
                customers - PAGE - 1,
            )
        )
    finally:
        await connection.close()
    return customers, Position(row["purchase_count"], row["id"])


def deep_questions(database_url: str) -> dict[str, str]:
    """The answers that could grow with the data: the last page of every customer, by offset
    and by cursor, and distinct customers over a long range."""
    customers, before_last = asyncio.run(_deepest_position(database_url))
    every = f"/loyal-customers?min_purchases=1&limit={PAGE}"
    last_day = (GENERATED_END - timedelta(days=1)).date()
    long_range = f"from={last_day - timedelta(days=RANGE_DAYS - 1)}&to={last_day}"
    return {
        "first page of every customer": every,
        f"last page by offset ({customers - PAGE:,})": f"{every}&offset={customers - PAGE}",
        "last page by cursor (`after`)": f"{every}&after={before_last.cursor()}",
        f"unique customers, {RANGE_DAYS} days, all stores": f"/unique-customers?{long_range}",
        f"unique customers, {RANGE_DAYS} days, one store": (
            f"/unique-customers?{long_range}&supermarket_id=SMKT002"
        ),
    }


def generated_data(purchases: int) -> Path:
    """Generated CSVs, made once and kept in bench/.work."""
    folder = WORK_DIR / f"generated-{purchases}"
    if not (folder / "purchases.csv").exists():
        print(f"generating {purchases:,} purchases …", flush=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "loader.generate",
                "--purchases",
                str(purchases),
                "--out",
                str(folder),
            ],
            cwd=ROOT,
            check=True,
        )
    return folder


def load(database_url: str, folder: Path, **env: str) -> tuple[float, str]:
    """Run the loader; its rate in purchases per second and what it printed."""
    result = subprocess.run(
        [sys.executable, "-m", "loader", "--data-dir", str(folder)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": database_url, **env},
    )
    found = re.search(r"\(([\d,]+) purchases/s\)", result.stdout)
    if found is None:
        raise RuntimeError(f"the loader said: {result.stdout}{result.stderr}")
    return float(found.group(1).replace(",", "")), result.stdout


def loader_floor(database_url: str, folder: Path) -> float:
    """Purchases per second of `bench/loader_floor.sql`: the same rows as the loader writes,
    the cheapest way this server allows, from the same file."""
    started = time.perf_counter()
    with (folder / "purchases.csv").open("rb") as purchases:
        subprocess.run(
            [program("psql"), "-q", "-X", "-f", str(BENCH_DIR / "loader_floor.sql"), database_url],
            stdin=purchases,
            check=True,
            capture_output=True,
        )
    seconds = time.perf_counter() - started
    rows = sum(1 for _ in (folder / "purchases.csv").open(encoding="utf-8-sig")) - 1
    return rows / seconds


def refund_one_percent(database_url: str) -> int:
    """Refund one sale in a hundred (bench/refund_one_percent.sql); how many refunds."""
    subprocess.run(
        [program("psql"), "-q", "-X", "-v", "ON_ERROR_STOP=1",
         "-f", str(BENCH_DIR / "refund_one_percent.sql"), database_url],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    count = subprocess.run(
        [program("psql"), "-X", "-At", "-c", "SELECT count(*) FROM refunds", database_url],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return int(count.stdout.strip())


def run_analytics_benchmark(purchases: int) -> Section:
    """Measure; return the report section with its goals."""
    folder = generated_data(purchases)
    with bench_database() as database_url:
        print(f"the floor: {purchases:,} purchases by bench/loader_floor.sql …", flush=True)
        floor = loader_floor(database_url, folder)
    with bench_database() as database_url:
        print(f"reference: {purchases:,} purchases in one transaction, no till …", flush=True)
        alone, _ = load(database_url, folder, LOADER_CHUNK_PURCHASES="0")
    with bench_database() as database_url:
        keys = bench_keys(database_url)
        with serving("analytics.main:app", database_url, 1) as url:
            print("analytics at the seed's size …", flush=True)
            small = latencies(url, keys.owner_headers())
        tills: dict[str, float] = {}
        with serving(
            "cash_register.main:app", database_url, 2, TILL_REQUESTS_PER_SECOND="1000000"
        ) as till_url:
            print(f"importing {purchases:,} in chunks while tills trade …", flush=True)
            with (
                wrk_while(
                    till_url,
                    paced_connections(TILLS_RATE),
                    BENCH_DIR / "paced_purchase.lua",
                    tills,
                    BENCH_RATE=str(TILLS_RATE),
                    **keys.wrk_env(),
                ),
                statements_counted(database_url),
            ):
                rate, loader_output = load(database_url, folder)
        statements = costliest_statements(database_url)
        print("one sale in a hundred refunded …", flush=True)
        refunded = refund_one_percent(database_url)
        with serving("analytics.main:app", database_url, 1) as url:
            print(f"analytics at {purchases:,} more purchases …", flush=True)
            large = latencies(url, keys.owner_headers())
            questions = deep_questions(database_url)
            deep = {
                name: wrk(f"{url}{path}", LATENCY_SECONDS, 1, BENCH_DIR / "report.lua",
                          keys.owner_headers())
                for name, path in questions.items()
            }  # fmt: skip
            crowd = tills_under_owners(
                url,
                database_url,
                keys,
                questions[f"unique customers, {RANGE_DAYS} days, all stores"],
            )
        bitmaps = asyncio.run(_visitors_cost(database_url))
    daily = next(path for path in endpoints() if path.startswith("/sales/daily"))
    section = Section(ANALYTICS, "")
    slowest = max(endpoints(), key=lambda path: large[path]["p50_ms"])
    section.add(
        f"every view p50 ≤ 20 ms with {refunded:,} refunds (1% of sales)",
        f"slowest {slowest}: {large[slowest]['p50_ms']:.2f} ms",
        large[slowest]["p50_ms"] <= 20,
    )
    to_floor = rate / floor
    section.add(
        "loader ≥ 0.8 × bench/loader_floor.sql",
        f"{to_floor:.2f} × ({rate:,.0f}/s; floor {floor:,.0f}/s)",
        to_floor >= 0.8,
    )
    to_alone = rate / alone
    section.add(
        "import in chunks while tills trade ≥ 0.9 × one transaction alone",
        f"{to_alone:.2f} ×",
        to_alone >= 0.9,
    )
    tills_clean = tills["non_2xx"] == 0 and tills["socket_errors"] == 0
    section.add(
        "tills during the import: p99 ≤ 100 ms, nothing but 201",
        f"{tills['p99_ms']:.1f} ms, {tills['non_2xx']:.0f} non-2xx",
        tills["p99_ms"] <= 100 and tills_clean,
    )
    section.add(
        "30-day /sales/daily p50 < 20 ms",
        f"{large[daily]['p50_ms']:.2f} ms",
        large[daily]["p50_ms"] < 20,
    )
    for path in SEED_ENDPOINTS:
        grown = large[path]["p50_ms"] / small[path]["p50_ms"]
        section.add(f"{path} p50 ≤ 2 × seed size", f"{grown:.2f} ×", grown <= 2)
    first, _by_offset, by_cursor, *ranges = deep.values()
    deepest = by_cursor["p50_ms"] / first["p50_ms"]
    section.add("last page by cursor p50 ≤ 2 × first page", f"{deepest:.2f} ×", deepest <= 2)
    for name, figures in zip(list(deep)[3:], ranges, strict=True):
        section.add(f"{name}: p50 ≤ 20 ms", f"{figures['p50_ms']:.2f} ms",
                    figures["p50_ms"] <= 20)  # fmt: skip
    crowded = crowd[f"tills with {OWNERS} owners"]
    section.add(f"tills with {OWNERS} owners asking: nothing but 201",
                f"{crowded['non_2xx'] + crowded['socket_errors']:.0f} errors",
                crowded["non_2xx"] == 0 and crowded["socket_errors"] == 0)  # fmt: skip
    report = _report(purchases, rate, floor, small, large, section.goals, deep)
    report += _crowd_report(crowd, bitmaps)
    section.report = (
        _import_report(purchases, alone, rate, tills)
        + profile_report(loader_output, statements, purchases)
        + report
    )
    return section


def _import_report(purchases: int, alone: float, rate: float, tills: dict[str, float]) -> str:
    return f"""
## A history import while the tills trade

- Date: {now()}
- Reference: `python -m loader` with `LOADER_CHUNK_PURCHASES=0` (the whole file in one
  transaction) into a fresh database, nobody trading.
- Measured: the same {purchases:,} purchases with the default chunks into another fresh
  database, while the cash register (2 workers) takes purchases offered at about
  {TILLS_RATE}/s (`bench/paced_purchase.lua`), some of them for customers the file also holds.

| | purchases/s | ratio |
|---|---:|---:|
| import alone, one transaction | {alone:,.0f} | 1.00 |
| import in chunks, tills trading | {rate:,.0f} | {rate / alone:.2f} |

| tills during the import | requests | requests/s | p50 ms | p99 ms | p99.9 ms | max ms | non-2xx |
|---|---:|---:|---:|---:|---:|---:|---:|
| POST /purchase | {tills["requests"]:,.0f} | {tills["rate"]:,.0f} | {tills["p50_ms"]:.1f} | \
{tills["p99_ms"]:.1f} | {tills["p999_ms"]:.1f} | {tills["max_ms"]:.1f} | {tills["non_2xx"]:.0f} |
"""


def _crowd_report(crowd: dict[str, dict[str, float]], bitmaps: dict[str, float]) -> str:
    owners = crowd.pop("owners")
    rows = "\n".join(
        f"| {name} | {figures['rate']:,.0f} | {figures['p50_ms']:.1f} | {figures['p99_ms']:.1f} | "
        f"{figures['non_2xx']:.0f} |"
        for name, figures in crowd.items()
    )
    return f"""
Tills while {OWNERS} owners ask distinct customers over {RANGE_DAYS} days continuously
(POST /purchase offered at {TILLS_UNDER_OWNERS_RATE}/s; the owners answered
{owners["rate"]:,.0f} times a second, p50 {owners["p50_ms"]:.1f} ms, p99 {owners["p99_ms"]:.1f} ms,
non-2xx {owners["non_2xx"]:.0f}):

| tills | purchases/s | p50 ms | p99 ms | non-2xx |
|---|---:|---:|---:|---:|
{rows}

The bitmaps of one analytics worker at this size: {bitmaps["bitmaps"]:,.0f} (store, day)
bitmaps holding {bitmaps["rows"]:,.0f} (day, store, customer) rows in
**{bitmaps["bytes"] / 2**20:,.1f} MiB**, read whole in {bitmaps["seconds"]:.1f} s (at start, and
after a store's days are recounted).
"""


def _report(
    purchases: int,
    rate: float,
    floor: float,
    small: dict[str, dict[str, float]],
    large: dict[str, dict[str, float]],
    goals: list[Goal],
    deep: dict[str, dict[str, float]],
) -> str:
    deep_rows = "\n".join(
        f"| {name} | {figures['p50_ms']:.2f} | {figures['p99_ms']:.2f} |"
        for name, figures in deep.items()
    )
    rows = "\n".join(
        f"| `{path}` | {small[path]['p50_ms']:.2f} | {small[path]['p99_ms']:.2f} | "
        f"{large[path]['p50_ms']:.2f} | {large[path]['p99_ms']:.2f} | "
        f"{large[path]['p50_ms'] / small[path]['p50_ms']:.2f} |"
        for path in endpoints()
    )
    return f"""
## Analytics from the seed's size to {purchases:,} more purchases

- Date: {now()}
- Data: the seed (2,183 purchases), then `python -m loader.generate --purchases {purchases}`
  (2 years, 3 stores, repeat customers) loaded by `python -m loader`.
- Latency: wrk, 1 connection, {LATENCY_SECONDS} s per endpoint, analytics with 1 worker.

Loader: **{rate:,.0f} purchases/s** (checks, lines, aggregates and rollups, in chunks while
tills trade); `bench/loader_floor.sql` wrote the same rows the cheapest way this server allows
at **{floor:,.0f} purchases/s**, in a fresh database of the same server, in the same run:
**{rate / floor:.2f} ×** the floor (where its time goes: the section above).

| endpoint | seed p50 ms | seed p99 ms | large p50 ms | large p99 ms | p50 ratio |
|---|---:|---:|---:|---:|---:|
{rows}

The questions that could grow with the data, at the large size: the last page of
every customer ({PAGE} per page), and distinct customers over {RANGE_DAYS} days.

| question | p50 ms | p99 ms |
|---|---:|---:|
{deep_rows}

{verdicts(goals)}"""
