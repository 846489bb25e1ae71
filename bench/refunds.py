"""POST /refunds saturated, between two saturated runs of POST /purchase in the same run:
what a refund costs, and that refunds (their rows, their rollups) do not slow the sales."""

from __future__ import annotations

import asyncio

import asyncpg

from bench.environment import ROOT, WORK_DIR, bench_database, bench_keys, machine, now, serving, wrk
from bench.goals import Goal, Section, verdicts
from bench.purchases import TILL_REQUESTS_PER_SECOND

BENCH_DIR = ROOT / "bench"
REFUNDS = "refunds"
# Sales may differ by this much between the run before the refunds and the run after.
SALES_APART = 0.05


async def _refunds_stored(database_url: str) -> tuple[int, int]:
    """Refunds stored, and lines refunded beyond what was sold (must be none)."""
    connection = await asyncpg.connect(database_url)
    try:
        stored = await connection.fetchval("SELECT count(*) FROM refunds")
        beyond = await connection.fetchval(
            "SELECT count(*) FROM refunded_lines WHERE refunded > sold"
        )
    finally:
        await connection.close()
    return stored, beyond


def run_refund_benchmark(seconds: int, connections: int, workers: int) -> Section:
    """Measure; return the report section with its goals."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    sales_file = WORK_DIR / "refundable.txt"
    refunds_file = WORK_DIR / "refunds-taken.txt"
    with bench_database() as database_url:
        keys = bench_keys(database_url)
        with serving(
            "cash_register.main:app", database_url, workers,
            TILL_REQUESTS_PER_SECOND=TILL_REQUESTS_PER_SECOND,
        ) as url:  # fmt: skip
            print(f"POST /purchase before refunds, {connections} connections …", flush=True)
            before = wrk(url, seconds, connections, BENCH_DIR / "purchase.lua",
                         BENCH_ACKNOWLEDGED_FILE=str(sales_file), **keys.wrk_env())  # fmt: skip
            print(f"POST /refunds, {connections} connections …", flush=True)
            refunds = wrk(url, seconds, connections, BENCH_DIR / "refund.lua",
                          BENCH_REFUNDABLE_FILE=str(sales_file),
                          BENCH_REFUNDS_FILE=str(refunds_file), **keys.wrk_env())  # fmt: skip
            print(f"POST /purchase after refunds, {connections} connections …", flush=True)
            after = wrk(url, seconds, connections, BENCH_DIR / "purchase.lua",
                        BENCH_ACKNOWLEDGED_FILE=str(WORK_DIR / "after-refunds.txt"),
                        **keys.wrk_env())  # fmt: skip
        stored, beyond = asyncio.run(_refunds_stored(database_url))
    taken, refused = (int(n) for n in refunds_file.read_text().split())
    sales = len(sales_file.read_text().split())
    section = Section(REFUNDS, "")
    apart = abs(after["rate"] / before["rate"] - 1)
    section.add(f"POST /purchase after refunds within {SALES_APART:.0%} of before",
                f"{apart:.1%} apart", apart <= SALES_APART)  # fmt: skip
    other = refunds["non_2xx"] - refused + refunds["socket_errors"]
    section.add("refunds: nothing but 201, and 409 for a sale refunded already",
                f"{other:.0f} other answers", other == 0)  # fmt: skip
    # Refunds still in flight when wrk stopped are stored without wrk counting them.
    section.add("every refund acknowledged is stored, none beyond what was sold",
                f"{stored:,} stored, {taken:,} acknowledged; {beyond} beyond",
                stored >= taken and beyond == 0)  # fmt: skip
    section.report = _report(seconds, connections, workers, before, refunds, after,
                             sales, taken, refused, section.goals)  # fmt: skip
    return section


def _row(name: str, figures: dict[str, float]) -> str:
    return (
        f"| {name} | {figures['rate']:,.0f} | {figures['p50_ms']:.1f} | "
        f"{figures['p99_ms']:.1f} | {figures['p999_ms']:.1f} |"
    )


def _report(
    seconds: int, connections: int, workers: int, before: dict[str, float],
    refunds: dict[str, float], after: dict[str, float], sales: int, taken: int, refused: int,
    goals: list[Goal],
) -> str:  # fmt: skip
    return f"""
## POST /refunds

- Date: {now()}
- Machine: {machine()}; PostgreSQL, the service and the load generators share it.
- Service: cash register, {workers} uvicorn workers. wrk, {connections} connections, {seconds} s
  each: POST /purchase (`bench/purchase.lua`), then POST /refunds taking back all of each sale
  that run acknowledged ({sales:,} sales), at a till of any store (`bench/refund.lua`), then
  POST /purchase again, on the database now holding the refunds.

| measurement | requests/s | p50 ms | p99 ms | p99.9 ms |
|---|---:|---:|---:|---:|
{_row("POST /purchase, before the refunds", before)}
{_row("POST /refunds", refunds)}
{_row("POST /purchase, after the refunds", after)}

- Refunds taken: {taken:,}; refused as refunded already (the list came round again): {refused:,}.
- A refund is one transaction of its own (no group commit yet, unlike sales): its rate and
  latency are reported, not held to a goal.

{verdicts(goals)}"""
