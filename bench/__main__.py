"""`make bench`: the cash register and the analytics against their targets, in one run.

Purchases (issue 3): a private PostgreSQL (or BENCH_DATABASE_URL's server) with the seed data,
the cash register with 2 workers, then wrk GET /health (the server's own ceiling), wrk POST
/purchase (the mix of purchase.lua) and pgbench running the very same purchase statement as one
transaction per purchase; every acknowledged purchase must be stored exactly once.
Analytics (issue 4): each endpoint's latency at the seed's size and after loading generated
purchases with the loader, whose rate is measured too. Writes bench/results.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.analytics import run_analytics_benchmark
from bench.purchases import run_purchase_benchmark
from bench.topology import run_topology_benchmark

HEADER = """# Benchmark results

Written by `make bench` (`python -m bench`); do not edit by hand. Each section's figures come
from one run on one machine, where PostgreSQL, the service and the load share the cores.
"""


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20, help="length of each measurement")
    parser.add_argument("--connections", type=int, default=128, help="wrk connections")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (WEB_CONCURRENCY)")
    parser.add_argument(
        "--saturation-runs", type=int, default=3, help="consecutive saturated POST /purchase runs"
    )
    parser.add_argument("--results", type=Path, default=Path("bench/results.md"))
    parser.add_argument(
        "--append",
        action="store_true",
        help="add the sections to the results file instead of replacing it",
    )
    parser.add_argument(
        "--only", choices=["purchases", "topology", "analytics"], help="run one section"
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
    passed = True
    sections = []
    if arguments.only in (None, "purchases"):
        section, ok = run_purchase_benchmark(
            arguments.seconds, arguments.connections, arguments.workers, arguments.saturation_runs
        )
        sections.append(section)
        passed &= ok
    if arguments.only in (None, "topology"):
        section, ok = run_topology_benchmark(arguments.seconds, arguments.connections)
        sections.append(section)
        passed &= ok
    if arguments.only in (None, "analytics"):
        size = 10_000_000 if arguments.ten_million else arguments.purchases
        section, ok = run_analytics_benchmark(size)
        sections.append(section)
        passed &= ok
    report = "".join(sections)
    if arguments.append and arguments.results.exists():
        arguments.results.write_text(arguments.results.read_text() + report)
    else:
        arguments.results.write_text(HEADER + report)
    print(report)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
