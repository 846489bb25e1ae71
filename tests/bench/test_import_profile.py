"""The bench reads the loader's phases from what it prints where nobody watches a terminal:
heartbeats and progress lines between a phase's start and its time."""

from __future__ import annotations

from bench.import_profile import phase_seconds

# What `python -m loader` printed into a pipe during a bench run (1,000,000 purchases).
PRINTED = """  read supermarkets.csv: 0.0 MB
  read purchases.csv: 95.9 MB
  splitting baskets … 0.9 s
  checking and keying purchases …
    still checking and keying purchases: 5 s 5.5 s
  finding repeated rows … 0.8 s
  storing purchases, lines, aggregates and rollups …
    still storing purchases, lines, aggregates and rollups: 5 s
    200,000 of 1,000,000 purchases stored (32,433/s, about 25 s left)

    still storing purchases, lines, aggregates and rollups: 10 s    400,000 of 1,000,000 \
purchases stored (31,782/s, about 19 s left)

    still storing purchases, lines, aggregates and rollups: 30 s 1,032.6 s
  folding customers' visits … 7.8 s
loaded 3 supermarkets, 10 products, 1000000 purchases read: 1000000 stored (2689832 lines)
took 1,049.80 s (953 purchases/s)
"""


def test_every_phase_gets_the_time_that_closed_it() -> None:
    assert phase_seconds(PRINTED) == [
        ("splitting baskets", 0.9),
        ("checking and keying purchases", 5.5),
        ("finding repeated rows", 0.8),
        ("storing purchases, lines, aggregates and rollups", 1032.6),
        ("folding customers' visits", 7.8),
    ]
