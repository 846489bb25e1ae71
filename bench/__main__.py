"""`make bench`: the cash register and the analytics against their goals, in one run.

Purchases: a private PostgreSQL (or BENCH_DATABASE_URL's server) with the seed data, the cash
register with 2 workers, then wrk GET /health (the server's own ceiling), wrk POST /purchase
(the mix of purchase.lua) and pgbench running the very same purchase statement as one
transaction per purchase; every acknowledged purchase must be stored exactly once.
Refunds: POST /refunds of the sales a POST /purchase run acknowledged, between two such runs.
Uploads: live POST /purchase while a till uploads full offline batches flat out, against the
same with nobody uploading, alternating.
Topology: nginx before 1, 2 and 3 cash registers on a primary with a streaming replica.
Failover: POST /purchase with a synchronous standby under Patroni beside an asynchronous one,
and two failovers while keyed tills trade (time to the first accepted sale, sales lost).
Ledger: python -m admin verify-ledger over a million chained entries.
Analytics: each endpoint's latency at the seed's size and after loading generated purchases
with the loader, whose rate is measured against bench/loader_floor.sql in the same run.
Writes bench/results.md (the latest figure of every goal first), bench/latest.json and
bench/history.md; exits 0 exactly when every goal of the sections run holds.
"""

from __future__ import annotations

import argparse
import sys

from bench.analytics import ANALYTICS, run_analytics_benchmark
from bench.failover import FAILOVER, run_failover_benchmark
from bench.goals import Section, goals_table, record
from bench.ledger import LEDGER, run_ledger_benchmark
from bench.purchases import PURCHASES, run_purchase_benchmark
from bench.refunds import REFUNDS, run_refund_benchmark
from bench.topology import TOPOLOGY, run_topology_benchmark
from bench.uploads import UPLOADS, run_upload_benchmark


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20, help="length of each measurement")
    parser.add_argument("--connections", type=int, default=128, help="wrk connections")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (WEB_CONCURRENCY)")
    parser.add_argument(
        "--saturation-runs", type=int, default=3, help="consecutive saturated POST /purchase runs"
    )
    parser.add_argument(
        "--only",
        choices=[PURCHASES, REFUNDS, UPLOADS, TOPOLOGY, FAILOVER, ANALYTICS, LEDGER],
        help="run one section",
    )
    parser.add_argument(
        "--purchases",
        type=int,
        default=1_000_000,
        help="generated purchases for the analytics section",
    )
    parser.add_argument(
        "--ten-million", action="store_true", help="the analytics section with 10,000,000 purchases"
    )
    arguments = parser.parse_args()
    sections: list[Section] = []
    if arguments.only in (None, PURCHASES):
        sections.append(
            run_purchase_benchmark(
                arguments.seconds,
                arguments.connections,
                arguments.workers,
                arguments.saturation_runs,
            )
        )
    if arguments.only in (None, REFUNDS):
        sections.append(
            run_refund_benchmark(arguments.seconds, arguments.connections, arguments.workers)
        )
    if arguments.only in (None, UPLOADS):
        sections.append(run_upload_benchmark(arguments.seconds, arguments.workers))
    if arguments.only in (None, TOPOLOGY):
        sections.append(run_topology_benchmark(arguments.seconds, arguments.connections))
    if arguments.only in (None, FAILOVER):
        sections.append(
            run_failover_benchmark(arguments.seconds, arguments.connections, arguments.workers)
        )
    if arguments.only in (None, ANALYTICS):
        size = 10_000_000 if arguments.ten_million else arguments.purchases
        sections.append(run_analytics_benchmark(size))
    if arguments.only in (None, LEDGER):
        sections.append(run_ledger_benchmark())
    record(sections, [PURCHASES, REFUNDS, UPLOADS, TOPOLOGY, FAILOVER, ANALYTICS, LEDGER])
    for section in sections:
        print(section.report)
    print(goals_table(sections))
    return 0 if all(section.holds for section in sections) else 1


if __name__ == "__main__":
    sys.exit(main())
