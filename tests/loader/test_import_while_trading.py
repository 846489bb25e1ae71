"""An import of history while the stores trade: the tills never wait for it.

8 tills post continuously, selling to customers that the imported history also holds, while
`python -m loader` stores a generated history in chunks, on one connection or on two side by
side. Every sale is answered 201 within a fraction of a second, and afterwards every
customer's count is exactly the file's plus the tills'.
"""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from loader.generate import generate
from tests.conftest import ROOT, PostgresUnderTest
from tests.keys import ChainKeys, TillAuth
from tests.rows import pairs
from tests.servers import start, stop, wait_healthy

TILLS = 8
HISTORY = 30_000
CHUNK = 2_000
LONGEST_WAIT_SECONDS = 0.75


def history(folder: Path) -> tuple[Path, list[str]]:
    generate(
        folder,
        purchases=HISTORY,
        stores=3,
        days=60,
        end=datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1),
        seed=11,
    )
    # A row repeated exactly is one purchase (the loader stores it once, with a warning): the
    # generated times have whole seconds, so now and then two rows of a run coincide.
    with (folder / "purchases.csv").open(encoding="utf-8-sig") as handle:
        rows = {tuple(row.values()) for row in csv.DictReader(handle)}
    customers = [row[2] for row in rows]
    return folder, customers


@pytest.mark.parametrize("workers", [1, 2])
async def test_tills_trade_through_a_history_import(
    catalog: asyncpg.Connection,
    keys: ChainKeys,
    postgres: PostgresUnderTest,
    tmp_path: Path,
    workers: int,
) -> None:
    folder, file_customers = history(tmp_path / "history")
    regulars = [customer for customer, _ in Counter(file_customers).most_common(40)]
    process, url = start("cash_register", postgres.database_url)
    waits: list[float] = []
    statuses: Counter[int] = Counter()
    sold: Counter[str] = Counter()
    importing = True

    async def till(client: httpx.AsyncClient, number: int) -> None:
        sale = 0
        while importing:
            customer = regulars[(number * 7 + sale) % len(regulars)]
            body = {"supermarket_id": f"SMKT00{1 + number % 3}", "user_id": customer}
            began = time.monotonic()
            response = await client.post("/purchase", json=body | {"items": ["milk", "bread"]})
            waits.append(time.monotonic() - began)
            statuses[response.status_code] += 1
            if response.status_code == 201:
                sold[customer] += 1
            sale += 1

    async def load() -> subprocess.CompletedProcess[str]:
        nonlocal importing
        try:
            return await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "loader", "--data-dir", str(folder)],
                cwd=ROOT,
                env={
                    **os.environ,
                    "DATABASE_URL": postgres.database_url,
                    "LOADER_CHUNK_PURCHASES": str(CHUNK),
                    "LOADER_WORKERS": str(workers),
                },
                capture_output=True,
                text=True,
                timeout=300,
            )
        finally:
            importing = False

    try:
        await asyncio.to_thread(wait_healthy, process, url)
        async with httpx.AsyncClient(base_url=url, timeout=30, auth=TillAuth(keys)) as client:
            loaded, *_ = await asyncio.gather(load(), *(till(client, n) for n in range(TILLS)))
    finally:
        stop(process)

    assert loaded is not None
    assert loaded.returncode == 0, loaded.stderr
    assert f"{len(file_customers)} stored" in loaded.stdout
    assert set(statuses) == {201}, statuses
    assert sum(statuses.values()) >= 4 * TILLS, "the tills traded throughout the import"
    assert max(waits) < LONGEST_WAIT_SECONDS, f"a till waited {max(waits):.2f} s"
    expected = Counter(file_customers) + sold
    stored = pairs(await catalog.fetch("SELECT id::text, purchase_count FROM customers"))
    assert stored == dict(expected)
    histogram = pairs(
        await catalog.fetch(
            "SELECT purchase_count, sum(customers)::int FROM customer_purchase_counts "
            "GROUP BY 1 HAVING sum(customers) <> 0"
        )
    )
    assert histogram == dict(Counter(expected.values()))
