"""The bench reads the cash register's folds off its metrics: every worker's, only those that
ran, with the time they took."""

from __future__ import annotations

import time

import httpx

from bench.folds import METRICS_KEY, FoldCount, fold_profile, folds_so_far
from tests.conftest import PostgresUnderTest
from tests.keys import ChainKeys
from tests.servers import start, stop, wait_healthy

FOLD_EVERY_SECONDS = 0.2


def test_the_folds_of_both_workers_are_counted_with_their_time(
    keys: ChainKeys, postgres: PostgresUnderTest
) -> None:
    process, url = start(
        "cash_register",
        postgres.database_url,
        WEB_CONCURRENCY="2",
        METRICS_KEY=METRICS_KEY,
        SALES_FOLD_EVERY_SECONDS=str(FOLD_EVERY_SECONDS),
    )
    try:
        wait_healthy(process, url)
        before = folds_so_far(url)
        started = time.monotonic()
        bearer = {"Authorization": f"Bearer {keys.tills['SMKT001']}"}
        with httpx.Client(base_url=url, headers=bearer) as till:
            for _ in range(20):
                sale = {"supermarket_id": "SMKT001", "items": ["milk"]}
                assert till.post("/purchase", json=sale).status_code == 201
                time.sleep(0.1)
        during = folds_so_far(url) - before
        elapsed = time.monotonic() - started
    finally:
        stop(process)
    # Two workers, each folding every 0.2 s unless the other is folding: folds ran (a fold
    # that was skipped is not counted), no more than both workers could run, each took time.
    assert 1 <= during.folds <= 2 * elapsed / FOLD_EVERY_SECONDS + 2
    assert 0 < during.seconds < elapsed
    assert "folds" in fold_profile(during, elapsed)
    assert fold_profile(FoldCount(0, 0), elapsed) == "no fold ran"
