"""The measures `make bench`'s topology section is built on (bench/topology.py): CPU time of
process trees read from /proc, and the batched statement pgbench sends to find the primary's
own ceiling."""

from __future__ import annotations

import subprocess
import sys
import time

import asyncpg

from bench.processes import cpu_seconds
from bench.purchases import pgbench_script
from bench.topology import BATCH, batched_script

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
