"""What one sale costs the database: the cash register's own purchase statement against the
plainest insert of the same sale, both under pgbench one sale per transaction, in turns on
the same server; and where the statement's time goes, by pg_stat_statements.

The plain insert (`bench/plain_sale.sql` makes its tables) stores what a sale is without the
system's promises: a customer upserted with a count, the purchase, its lines priced from the
catalog, one daily counter. No rollups, no ledger, no keys.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bench.environment import ROOT, WORK_DIR, wait_for_quiet
from cash_register.queries import RECORD_PURCHASES
from cash_register.settings import CashRegisterSettings
from db.sales_fold import FOLD_SALES_LATER, fold_waiting_sales
from devtools.embedded_postgres import program

PGBENCH_CLIENTS = 16
PAIRS = 3

# The statement's parameter for one purchase of the same mix as purchase.lua: a third new
# customers, 1 to 4 distinct products, three stores, 288 tills (each with its own ledger).
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
# Each client is its own 18 tills (a till sends one sale at a time): tills client_id + 16 × k.
PGBENCH_VARIABLES = """\\set store random(1, 3)
\\set till :client_id + 16 * random(0, 17)
\\set new random(1, 3)
\\set customer random(1, 5000)
\\set n random(1, 4)
"""

# The same sale, the plain way, in one statement as the cash register's is.
PLAIN_SALE = """
WITH sale AS (
    SELECT nextval('purchases_id_seq') AS id, now() AS purchased_at,
           'SMKT00' || :store AS supermarket_id,
           CASE WHEN :new = 1 THEN gen_random_uuid()
                ELSE ('00000000-0000-4000-8000-' || lpad(:customer::text, 12, '0'))::uuid
           END AS customer_id
),
line AS (
    SELECT id AS product_id, 1 AS quantity, unit_price FROM products ORDER BY random() LIMIT :n
),
customer AS (
    INSERT INTO plain_customers AS c (id, purchase_count, first_purchase_at, last_purchase_at)
    SELECT customer_id, 1, purchased_at, purchased_at FROM sale
    ON CONFLICT (id) DO UPDATE
        SET purchase_count = c.purchase_count + 1, last_purchase_at = excluded.last_purchase_at
),
purchase AS (
    INSERT INTO plain_purchases
        (id, purchased_at, supermarket_id, customer_id, total_amount, till_id, received_at,
         request_id)
    SELECT s.id, s.purchased_at, s.supermarket_id, s.customer_id,
           (SELECT sum(quantity * unit_price) FROM line), 'pgbench-till-' || :till, now(),
           md5(random()::text)
    FROM sale s
),
item AS (
    INSERT INTO plain_purchase_items
        (purchase_id, purchased_at, supermarket_id, product_id, quantity, unit_price)
    SELECT s.id, s.purchased_at, s.supermarket_id, l.product_id, l.quantity, l.unit_price
    FROM sale s, line l
)
INSERT INTO plain_daily_sales AS d (day, supermarket_id, shard, purchases, revenue)
SELECT s.purchased_at::date, s.supermarket_id, 0, 1, (SELECT sum(quantity * unit_price) FROM line)
FROM sale s
ON CONFLICT (day, supermarket_id, shard) DO UPDATE
    SET purchases = d.purchases + 1, revenue = d.revenue + excluded.revenue
"""

PROFILED_STATEMENTS = 12


def _one_line(statement: str) -> str:
    return " ".join(statement.split()) + ";\n"


def pgbench_script() -> str:
    """The cash register's own statement, one purchase per transaction."""
    return PGBENCH_VARIABLES + _one_line(RECORD_PURCHASES.replace("$1", PGBENCH_SALES))


def plain_script() -> str:
    return PGBENCH_VARIABLES + _one_line(PLAIN_SALE)


def pgbench_with(
    database_url: str, seconds: int, script: Path, clients: int, **options: str
) -> float:
    """Transactions per second of pgbench running `script`; `options` are the server settings
    of its sessions (PGOPTIONS)."""
    result = subprocess.run(
        [program("pgbench"), "-n", "-M", "prepared", "-c", str(clients), "-j", "2",
         "-T", str(seconds), "-f", str(script), database_url],
        capture_output=True, text=True, check=True,
        env={**os.environ, "PGOPTIONS": " ".join(f"-c {k}={v}" for k, v in options.items())},
    )  # fmt: skip
    found = re.search(r"tps = ([\d.]+)", result.stdout)
    if found is None:
        raise RuntimeError(f"pgbench said: {result.stdout}{result.stderr}")
    return float(found.group(1))


def pgbench(database_url: str, seconds: int) -> float:
    """Sales per second of the cash register's statement under pgbench, counted as the
    service counts them (`statement_rate`)."""
    return statement_rate(database_url, seconds, _written("purchase.pgbench", pgbench_script()))


def statement_rate(database_url: str, seconds: int, script: Path, **options: str) -> float:
    """Sales per second of the cash register's statement as a cash register runs it: each
    session queues its sales for the rollups (FOLD_SALES_LATER) while a folder counts the
    queue every SALES_FOLD_EVERY_SECONDS, on the same server; the fold of what is left when
    pgbench ends is part of the time, so every sale is counted in the rate's seconds.
    `options` are server settings of pgbench's and the folder's sessions."""
    with folding(database_url, options):
        tps = pgbench_with(database_url, seconds, script, PGBENCH_CLIENTS,
                           **FOLD_SALES_LATER, **options)  # fmt: skip
    started = time.perf_counter()
    asyncio.run(_fold(database_url, options))
    rest = time.perf_counter() - started
    return tps * seconds / (seconds + rest)


async def _fold(database_url: str, options: dict[str, str]) -> None:
    connection = await asyncpg.connect(database_url, server_settings=options)
    try:
        await fold_waiting_sales(connection, wait=True)
    finally:
        await connection.close()


@contextmanager
def folding(database_url: str, options: dict[str, str]) -> Iterator[None]:
    """A cash register's folder (one connection, fold, rest, fold) running meanwhile."""
    every = CashRegisterSettings.model_fields["sales_fold_every_seconds"].default
    stop = threading.Event()

    async def fold_until_stopped() -> None:
        connection = await asyncpg.connect(database_url, server_settings=options)
        try:
            while not stop.is_set():
                await fold_waiting_sales(connection, wait=False)
                await asyncio.sleep(every)
        finally:
            await connection.close()

    folder = threading.Thread(target=asyncio.run, args=(fold_until_stopped(),), daemon=True)
    folder.start()
    try:
        yield
    finally:
        stop.set()
        folder.join()


def _written(name: str, text: str) -> Path:
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    path = WORK_DIR / name
    path.write_text(text)
    return path


@dataclass(frozen=True)
class CostPair:
    statement: float  # sales per second, the cash register's statement
    plain: float  # sales per second, the plain insert

    @property
    def ratio(self) -> float:
        """How many plain inserts one sale's statement costs."""
        return self.plain / self.statement


@dataclass(frozen=True)
class ProfiledStatement:
    statement: str
    calls_per_sale: float
    microseconds_per_sale: float
    share: float  # of the top-level statement's time
    plans_per_sale: float
    planning_microseconds_per_sale: float  # apart from the execution time


async def _prepare(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute((ROOT / "bench" / "plain_sale.sql").read_text())
        await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    finally:
        await connection.close()


def cost_pairs(database_url: str, seconds: int) -> list[CostPair]:
    """PAIRS turns of the statement then the plain insert, each `seconds` long, each once no
    autovacuum worker runs: what the runs before left to vacuum would otherwise fall on one
    side of a pair and not the other."""
    asyncio.run(_prepare(database_url))
    statement = _written("purchase.pgbench", pgbench_script())
    plain = _written("plain_sale.pgbench", plain_script())
    pairs = []
    for _ in range(PAIRS):
        asyncio.run(wait_for_quiet(database_url))
        statement_turn = statement_rate(database_url, seconds, statement)
        asyncio.run(wait_for_quiet(database_url))
        pairs.append(
            CostPair(statement_turn, pgbench_with(database_url, seconds, plain, PGBENCH_CLIENTS))
        )
    return pairs


async def _profile(database_url: str) -> list[ProfiledStatement]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            """
            WITH s AS (
                SELECT query, calls, total_exec_time, plans, total_plan_time, toplevel
                FROM pg_stat_statements
                WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            ),
            sale AS (SELECT calls, total_exec_time FROM s
                     WHERE toplevel AND query LIKE 'WITH basket AS%' ORDER BY calls DESC LIMIT 1)
            SELECT regexp_replace(s.query, '\\s+', ' ', 'g') AS statement,
                   s.calls::float8 / sale.calls AS calls_per_sale,
                   1000 * s.total_exec_time / sale.calls AS microseconds_per_sale,
                   s.total_exec_time / sale.total_exec_time AS share,
                   s.plans::float8 / sale.calls AS plans_per_sale,
                   1000 * s.total_plan_time / sale.calls AS planning_microseconds_per_sale
            FROM s, sale
            WHERE s.calls >= sale.calls / 2 OR s.query ILIKE '%fold%'
            ORDER BY s.total_exec_time + s.total_plan_time DESC
            LIMIT $1
            """,
            PROFILED_STATEMENTS,
        )
        return [ProfiledStatement(**row) for row in rows]
    finally:
        await connection.close()


def profile(database_url: str, seconds: int) -> list[ProfiledStatement]:
    """The statement under pgbench with every nested statement tracked: each statement's time
    per sale (nested ones are part of the top-level one's), and its planning apart: a nested
    statement planned afresh on every call spends that time outside its execution's."""
    asyncio.run(_reset_statistics(database_url))
    statement_rate(database_url, seconds, WORK_DIR / "purchase.pgbench",
                   **{"pg_stat_statements.track": "all",
                      "pg_stat_statements.track_planning": "on"})  # fmt: skip
    return asyncio.run(_profile(database_url))


async def _reset_statistics(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("SELECT pg_stat_statements_reset()")
    finally:
        await connection.close()


def profile_table(statements: list[ProfiledStatement]) -> str:
    rows = "\n".join(
        f"| `{s.statement[:90].replace('|', '¦')}…` | {s.calls_per_sale:.1f} | "
        f"{s.microseconds_per_sale:,.0f} | {100 * s.share:.0f}% | {s.plans_per_sale:.2f} | "
        f"{s.planning_microseconds_per_sale:,.0f} |"
        for s in statements
    )
    heading = (
        "| statement (nested ones run inside the first) | calls per sale | µs per sale | share "
        "| plans per sale | planning µs per sale |"
    )
    return f"{heading}\n|---|---:|---:|---:|---:|---:|\n{rows}"
