"""The measures `make bench` is built on: CPU time of process trees read from /proc, the
batched statement pgbench sends to find the primary's own ceiling (bench/topology.py), and the
sale's statement and the plain insert of the same sale that pgbench compares
(bench/sale_cost.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import asyncpg

from bench.processes import MachineSampler, cpu_seconds
from bench.sale_cost import pgbench_script, plain_script
from bench.topology import BATCH, batched_script
from tests.conftest import ROOT

BUSY = "import time\nend = time.process_time() + {seconds}\nwhile time.process_time() < end: pass"


def test_a_trees_cpu_time_counts_its_living_and_its_reaped_children() -> None:
    # A parent that burns 0.3 s in a child it waits for, then 0.3 s in a child left running.
    parent = subprocess.Popen(
        [
            sys.executable, "-c",
            "import subprocess, sys, time\n"
            f"subprocess.run([sys.executable, '-c', {BUSY.format(seconds=0.3)!r}])\n"
            f"child = subprocess.Popen([sys.executable, '-c', {BUSY.format(seconds=0.3)!r} + "
            "'\\nimport time; time.sleep(30)'])\n"
            "time.sleep(30)",
        ],
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while cpu_seconds(parent.pid) < 0.6:
            assert time.monotonic() < deadline, f"only {cpu_seconds(parent.pid)} s counted"
            time.sleep(0.05)
        assert cpu_seconds(parent.pid) < 2.0  # three interpreters' start-up, and the 0.6 s
    finally:
        subprocess.run(["pkill", "-P", str(parent.pid)], check=False)
        parent.kill()
        parent.wait()


def test_the_machine_sampler_counts_a_busy_core() -> None:
    """A child burning 1 s of CPU inside the sampled span: at least that much busy time on
    the machine, and a share of its cores no smaller than one of them for that second."""
    cores = os.cpu_count() or 1
    with MachineSampler() as sampler:
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", BUSY.format(seconds=1.0)], check=True)
        span = time.monotonic() - started
    busy = sampler.result()
    assert busy.busy_core_seconds >= 0.95
    assert busy.busy_share >= 0.9 / (cores * span)
    assert 0 <= busy.saturated_intervals <= 1


async def test_the_batched_statement_stores_a_full_batch_of_two_line_purchases(
    catalog: asyncpg.Connection,
) -> None:
    await catalog.execute(batched_script())
    stored = await catalog.fetchval("SELECT count(*) FROM purchases WHERE till_id = 'pgbench-till'")
    lines = await catalog.fetchval(
        "SELECT count(*) FROM purchase_items i JOIN purchases p ON p.id = i.purchase_id "
        "WHERE p.till_id = 'pgbench-till'"
    )
    assert (stored, lines) == (BATCH, 2 * BATCH)


async def test_the_pgbench_statement_stores_one_purchase_of_the_drawn_size(
    catalog: asyncpg.Connection,
) -> None:
    drawn = {":store": "2", ":till": "41", ":new": "1", ":customer": "7", ":n": "3"}
    statement = "".join(line for line in pgbench_script().splitlines() if not line.startswith("\\"))
    for variable, value in drawn.items():
        statement = statement.replace(variable, value)
    await catalog.execute(statement)
    rows = await catalog.fetch(
        "SELECT p.supermarket_id, count(*) AS lines FROM purchases p "
        "JOIN purchase_items i ON i.purchase_id = p.id WHERE p.till_id = 'pgbench-till-41' "
        "GROUP BY p.id, p.supermarket_id"
    )
    assert [(r["supermarket_id"], r["lines"]) for r in rows] == [("SMKT002", 3)]
    # The reference pays for the till's ledger as the service does: the sale is chained.
    chained = "SELECT receipt_number FROM till_entries WHERE till_id = 'pgbench-till-41'"
    assert await catalog.fetchval(chained) == 1


async def test_the_plain_insert_stores_the_same_sale_without_rollups(
    catalog: asyncpg.Connection,
) -> None:
    await catalog.execute((ROOT / "bench" / "plain_sale.sql").read_text())
    drawn = {":store": "3", ":till": "9", ":new": "2", ":customer": "12", ":n": "2"}
    statement = "".join(line for line in plain_script().splitlines() if not line.startswith("\\"))
    for variable, value in drawn.items():
        statement = statement.replace(variable, value)
    for _ in range(2):
        await catalog.execute(statement)
    purchases = await catalog.fetch("SELECT id, total_amount FROM plain_purchases ORDER BY id")
    lines = await catalog.fetch(
        "SELECT i.purchase_id, i.unit_price, p.unit_price AS catalog_price "
        "FROM plain_purchase_items i JOIN products p ON p.id = i.product_id"
    )
    assert len(purchases) == 2
    assert len(lines) == 4
    for purchase in purchases:
        mine = [line for line in lines if line["purchase_id"] == purchase["id"]]
        assert all(line["unit_price"] == line["catalog_price"] for line in mine)
        assert purchase["total_amount"] == sum(line["unit_price"] for line in mine)
    customer = await catalog.fetchrow("SELECT id, purchase_count FROM plain_customers")
    assert customer is not None
    assert (str(customer["id"]), customer["purchase_count"]) == (
        "00000000-0000-4000-8000-000000000012", 2,
    )  # fmt: skip
    counter = await catalog.fetchrow(
        "SELECT supermarket_id, purchases, revenue FROM plain_daily_sales"
    )
    assert counter is not None
    assert tuple(counter) == ("SMKT003", 2, sum(p["total_amount"] for p in purchases))
