"""`verify-ledger` over a million entries: what proving every till's record costs.

A million sales in 300 tills' chains (bench/ledger_entries.sql, chained by the ledger's own
function, with a closing per till), then `python -m admin verify-ledger` rebuilds every
canonical form from the stored rows, hashes it and checks every closing, timed whole.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.environment import ROOT, bench_database, machine, now
from bench.goals import Section, verdicts
from devtools.embedded_postgres import program

LEDGER = "ledger"
ENTRIES = 1_000_000
VERIFY_SECONDS = 30


def make_entries(database_url: str, entries: int) -> None:
    subprocess.run(
        [program("psql"), "-q", "-X", "-v", "ON_ERROR_STOP=1", "-v", f"entries={entries}",
         "-f", str(ROOT / "bench" / "ledger_entries.sql"), database_url],
        check=True, capture_output=True, text=True,
    )  # fmt: skip


def verify(database_url: str) -> tuple[float, str]:
    """verify-ledger's time and its last line."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "admin", "verify-ledger"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"verify-ledger failed: {done.stdout[-2000:]}{done.stderr}")
    return seconds, done.stdout.strip().splitlines()[-1]


def run_ledger_benchmark(entries: int = ENTRIES) -> Section:
    with bench_database() as database_url:
        print(f"{entries:,} sales chained in 300 tills' ledgers …", flush=True)
        started = time.perf_counter()
        make_entries(database_url, entries)
        made = time.perf_counter() - started
        print("verify-ledger …", flush=True)
        seconds, said = verify(database_url)
    section = Section(LEDGER, "")
    section.add(
        f"verify-ledger over {entries:,} entries ≤ {VERIFY_SECONDS} s",
        f"{seconds:.1f} s ({entries / seconds:,.0f} entries/s)",
        seconds <= VERIFY_SECONDS,
    )
    section.report = f"""
## The tills' ledgers verified

- Date: {now()}
- Machine: {machine()}
- Data: {entries:,} sales of 300 tills (`bench/ledger_entries.sql`: set-based, chained by
  `append_to_chains` in chunks of 50,000, then each till's period closed), made in
  {made:.0f} s.
- Measured: `python -m admin verify-ledger`, every chain rebuilt from the stored rows in
  Python and hashed, every closing checked against its entries, timed whole.

verify-ledger said: `{said}` in **{seconds:.1f} s**.

{verdicts(section.goals)}
"""
    return section
