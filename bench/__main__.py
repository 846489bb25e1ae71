"""`make bench`: POST /purchase against the references the issue names, in one run.

Starts a private PostgreSQL (or uses BENCH_DATABASE_URL's server), loads the seed data, serves
the cash register with WEB_CONCURRENCY workers, then measures on this machine, one after the
other: wrk GET /health (the server's own ceiling), wrk POST /purchase (the realistic mix in
purchase.lua), and pgbench running the very same purchase statement as one transaction per
purchase. Checks every acknowledged purchase was stored exactly once; writes bench/results.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.purchases import run_purchase_benchmark


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20, help="length of each measurement")
    parser.add_argument("--connections", type=int, default=128, help="wrk connections")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (WEB_CONCURRENCY)")
    parser.add_argument("--results", type=Path, default=Path("bench/results.md"))
    arguments = parser.parse_args()
    passed = run_purchase_benchmark(
        seconds=arguments.seconds,
        connections=arguments.connections,
        workers=arguments.workers,
        results=arguments.results,
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
