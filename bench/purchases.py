"""POST /purchase saturated and at half that rate, against GET /health and pgbench, and what
one sale costs the database, measured in one run."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

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
    wait_for_quiet,
    wrk,
)
from bench.folds import METRICS_KEY, FoldCount, fold_profile, folds_so_far
from bench.goals import Goal, Section, verdicts
from bench.processes import SATURATED_INTERVAL, MachineBusy, MachineSampler
from bench.sale_cost import (
    PAIRS,
    PGBENCH_CLIENTS,
    CostPair,
    ProfiledStatement,
    cost_pairs,
    profile,
    profile_table,
)

BENCH_DIR = ROOT / "bench"
PURCHASES = "purchases"


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


# The tills' rate limit stays on (every request passes through it), set above what any till
# sends here; authentication is on as always.
TILL_REQUESTS_PER_SECOND = "1000000"
# Connections for an open-loop rate: enough for 50 ms of arrivals in flight at once.
PACED_IN_FLIGHT_SECONDS = 0.05


def paced_connections(rate: int) -> int:
    """Connections enough for `rate` per second, open loop."""
    return max(16, round(rate * PACED_IN_FLIGHT_SECONDS))


def paced(url: str, rate: int, seconds: int, keys: BenchKeys) -> dict[str, float]:
    """POST /purchase offered at `rate` per second, open loop (bench/paced_purchase.lua): the
    figures' `rate` is what was achieved, `offered` what was asked."""
    connections = paced_connections(rate)
    figures = wrk(
        url,
        seconds,
        connections,
        BENCH_DIR / "paced_purchase.lua",
        BENCH_RATE=str(rate),
        **keys.wrk_env(),
    )
    figures["offered"] = rate
    figures["connections"] = connections
    return figures


@dataclass
class Round:
    """One round: saturated, then offered half that rate once the server is quiet."""

    saturated: dict[str, float]
    saturated_busy: MachineBusy
    quiet_after_seconds: float
    half: dict[str, float]
    half_busy: MachineBusy
    folds_in_half: FoldCount


def _saturated(
    url: str, seconds: int, connections: int, keys: BenchKeys, run: int
) -> tuple[dict[str, float], list[int]]:
    acknowledged_file = WORK_DIR / f"acknowledged-{run}.txt"
    figures = wrk(url, seconds, connections, BENCH_DIR / "purchase.lua",
                  BENCH_ACKNOWLEDGED_FILE=str(acknowledged_file), **keys.wrk_env())  # fmt: skip
    return figures, [int(line) for line in acknowledged_file.read_text().split()]


def run_purchase_benchmark(
    seconds: int, connections: int, workers: int, saturation_runs: int
) -> Section:
    """Measure; return the report section with its goals."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    acknowledged: list[int] = []
    rounds: list[Round] = []
    with bench_database() as database_url:
        before = asyncio.run(_stored(database_url, []))[1]
        keys = bench_keys(database_url)
        with serving(
            "cash_register.main:app",
            database_url,
            workers,
            TILL_REQUESTS_PER_SECOND=TILL_REQUESTS_PER_SECOND,
            METRICS_KEY=METRICS_KEY,
        ) as url:
            print(f"GET /health, {connections} connections, {seconds} s …", flush=True)
            health = wrk(f"{url}/health", seconds, connections, BENCH_DIR / "report.lua")
            for run in range(1, saturation_runs + 1):
                print(f"POST /purchase run {run}, {connections} connections …", flush=True)
                with MachineSampler() as saturated_busy:
                    saturated, acknowledged_now = _saturated(url, seconds, connections, keys, run)
                acknowledged += acknowledged_now
                quiet = asyncio.run(wait_for_quiet(database_url))
                half = round(saturated["rate"] / 2)
                print(f"POST /purchase offered {half:,}/s, {seconds} s …", flush=True)
                folds_before = folds_so_far(url)
                with MachineSampler() as half_busy:
                    paced_half = paced(url, half, seconds, keys)
                folds = folds_so_far(url) - folds_before
                rounds.append(
                    Round(
                        saturated, saturated_busy.result(), quiet, paced_half,
                        half_busy.result(), folds,
                    )
                )  # fmt: skip
        found, total = asyncio.run(_stored(database_url, acknowledged))
        print(f"pgbench: the sale's statement and the plain insert, {PAIRS} turns …", flush=True)
        pairs = cost_pairs(database_url, seconds)
        print("pgbench with every nested statement tracked …", flush=True)
        profiled = profile(database_url, seconds)

    section = Section(PURCHASES, "")
    for run, (turn, pair) in enumerate(zip(rounds, pairs, strict=False), start=1):
        _add_round(section, run, turn, pair)
    to_health = rounds[0].saturated["rate"] / health["rate"]
    section.add("POST /purchase ≥ 0.35 × GET /health", f"{to_health:.2f} ×", to_health >= 0.35)
    errors = sum(f["non_2xx"] + f["socket_errors"] for r in rounds for f in (r.saturated, r.half))
    section.add("no non-2xx, no socket errors", f"{errors:.0f}", errors == 0)
    section.add(
        "every acknowledged purchase stored once",
        f"{found:,} of {len(acknowledged):,}",
        found == len(acknowledged) == len(set(acknowledged)),
    )
    section.report = _report(
        seconds, connections, workers, health, rounds, pairs, profiled,
        (len(acknowledged), found, total - before), section.goals,
    )  # fmt: skip
    return section


def _add_round(section: Section, run: int, turn: Round, pair: CostPair) -> None:
    saturated, half = turn.saturated, turn.half
    section.add(f"run {run}: saturated p99 ≤ 100 ms", f"{saturated['p99_ms']:.1f} ms",
                saturated["p99_ms"] <= 100)  # fmt: skip
    at = f"{half['p99_ms']:.1f} ms at {half['offered']:,.0f}/s"
    section.add(f"run {run}: half the saturated rate, p99 ≤ 20 ms", at, half["p99_ms"] <= 20)
    shortfall = 1 - half["rate"] / half["offered"]
    section.add(f"run {run}: half the saturated rate, achieved within 5% of offered",
                f"{half['rate']:,.0f} of {half['offered']:,.0f}/s "
                f"({100 * abs(shortfall):.1f}% {'short' if shortfall > 0 else 'over'})",
                abs(shortfall) <= 0.05)  # fmt: skip
    section.add(f"run {run}: the sale's statement ≤ 2 × the plain insert (pgbench)",
                f"{pair.ratio:.2f} × ({pair.statement:,.0f}/s against {pair.plain:,.0f}/s)",
                pair.ratio <= 2)  # fmt: skip
    to_pgbench = saturated["rate"] / pair.statement
    section.add(f"run {run}: POST /purchase ≥ 1.2 × pgbench", f"{to_pgbench:.2f} ×",
                to_pgbench >= 1.2)  # fmt: skip


_CPU_COLUMNS = (
    f"CPU busy | 0.5 s intervals ≥ {100 * SATURATED_INTERVAL:.0f}% busy | CPU ms per request"
)


def _row(name: str, figures: dict[str, float], busy: MachineBusy | None = None) -> str:
    cpu = "| | | |"
    if busy is not None:
        per_request_ms = 1000 * busy.busy_core_seconds / max(1.0, figures["requests"])
        cpu = (
            f"| {100 * busy.busy_share:.0f}% | {100 * busy.saturated_intervals:.0f}% "
            f"| {per_request_ms:.2f} |"
        )
    return (
        f"| {name} | {figures['rate']:,.0f} | {figures['p50_ms']:.1f} | "
        f"{figures['p99_ms']:.1f} | {figures['p999_ms']:.1f} | {figures['non_2xx']:.0f} {cpu}"
    )


def _report(
    seconds: int,
    connections: int,
    workers: int,
    health: dict[str, float],
    rounds: list[Round],
    pairs: list[CostPair],
    profiled: list[ProfiledStatement],
    counts: tuple[int, int, int],
    goals: list[Goal],
) -> str:
    acknowledged, found, stored = counts
    runs = "\n".join(
        f"{_row(f'POST /purchase, saturated, run {n}', r.saturated, r.saturated_busy)}\n"
        + _row(
            f"POST /purchase, offered {r.half['offered']:,.0f}/s (half), run {n}",
            r.half,
            r.half_busy,
        )
        for n, r in enumerate(rounds, start=1)
    )
    quiet = ", ".join(f"{r.quiet_after_seconds:.0f} s" for r in rounds)
    folds = "; ".join(
        f"run {n}: {fold_profile(r.folds_in_half, seconds)}" for n, r in enumerate(rounds, start=1)
    )
    turns = "\n".join(
        f"| {n} | {p.statement:,.0f} | {p.plain:,.0f} | {p.ratio:.2f} × |"
        for n, p in enumerate(pairs, start=1)
    )
    return f"""
## POST /purchase

- Date: {now()}
- Machine: {machine()}; PostgreSQL, the service and the load generators share it.
- PostgreSQL: the shipped settings (`ops/postgres/server-settings.sh`) for the compose
  database's memory limit, `synchronous_commit` on.
- Service: cash register, {workers} uvicorn workers, group commit on, every request
  authenticated by one of its store's 100 till keys (300 tills, each with its own ledger) and
  passed through the tills' rate limit (set to {TILL_REQUESTS_PER_SECOND} per second, so it
  never refuses here).
- Saturated: wrk, {connections} connections as fast as they are answered, {seconds} s per run,
  mix of `bench/purchase.lua` (a third new customers, 1 to 4 products, three stores).
- Half: after each saturated run, once no autovacuum worker runs (waited {quiet}), the same
  mix offered at half that run's rate, open loop (`bench/paced_purchase.lua`: Poisson
  arrivals on each wrk thread's own clock, a late request sent at once), {seconds} s; the
  requests/s column is the rate achieved.

| measurement | requests/s | p50 ms | p99 ms | p99.9 ms | non-2xx | {_CPU_COLUMNS} |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
{_row("GET /health", health)}
{runs}

- The tail's profile: how busy the machine's cores were during each run (/proc/stat: every
  process on the machine, the load generator's too), the share of its 0.5 s intervals in
  which nearly every core was (there a sale queues for a core, whatever its own work), and
  the machine's CPU time per request answered. Half the saturated rate does not halve the
  machine's load: each request costs more CPU at that rate, because the sales that wait
  together for a commit are fewer (the sale statement's fixed cost, the commit and the
  worker's wake-ups are shared by fewer sales).

- The background folds of the waiting sales into the rollups during each half-rate run
  (`sales_fold_seconds`; a fold takes a core of the database meanwhile, and the slowest
  sales are those that overlap one): {folds}.
- Acknowledged (201) in the saturated runs: {acknowledged:,}; of those stored: {found:,};
  purchases stored during the whole run: {stored:,} (the half-rate runs' too, and requests
  still in flight when wrk stopped).

### What one sale costs the database

pgbench, {PGBENCH_CLIENTS} clients, one sale per transaction, {seconds} s each, in turns on the
same server after the HTTP runs, each once no autovacuum worker runs: the cash register's own
statement (`bench/.work/purchase.pgbench`, made from `cash_register/queries.py`: the sale, its
lines, its rows queued for the rollups and the till's ledger), run as a cash register runs it, with
a folder counting the queue into every rollup every 0.25 s on the same server and the fold of
what is left when pgbench ends counted in the time; against the plain insert of the same sale
(`bench/.work/plain_sale.pgbench`, `bench/sale_cost.py`: a customer upserted, the purchase,
its lines, one daily counter).

| turn | the sale's statement, sales/s | the plain insert, sales/s | a sale in plain inserts |
|---:|---:|---:|---:|
{turns}

Where the statement's time goes: the same again with `pg_stat_statements.track = all` and
`track_planning = on`, each statement's execution time per sale and, apart from it, its
planning. The nested statements of the sale (its queue rows, the ledger's function) are part
of the first row's execution time; the fold's (`fold_waiting_sales` and the statements under
it) run apart, in the folder's session, and their time per sale is what counting costs each
sale. The share is of the first row's execution time. A statement planned once per session
shows about 0 plans per sale; one planned on every call shows 1 and its planning time.

{profile_table(profiled)}

{verdicts(goals)}"""
