"""The bench reads the loader's phases from what it prints where nobody watches a terminal:
heartbeats and progress lines between a phase's start and its time."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from bench import import_profile
from bench.import_profile import (
    ProfiledStatement,
    costliest_statements,
    phase_seconds,
    statements_counted,
)
from devtools.embedded_postgres import EmbeddedPostgres
from devtools.server_settings import server_settings

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


# A statement that fires a nested one: what a trigger's statements look like to the profile.
NESTED = """
CREATE TABLE sold (n int);
CREATE FUNCTION sell(n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sold VALUES (n);
END $$;
GRANT INSERT ON sold TO till;
"""


async def _setup(owner: str) -> None:
    connection = await asyncpg.connect(owner)
    try:
        await connection.execute("CREATE ROLE till LOGIN")
        await connection.execute(NESTED)
    finally:
        await connection.close()


async def _sell(url: str, times: int) -> None:
    connection = await asyncpg.connect(url)
    try:
        for n in range(times):
            await connection.execute("SELECT sell($1)", n)
    finally:
        await connection.close()


def _calls(statements: list[ProfiledStatement], starts: str, toplevel: bool) -> int:
    return sum(
        s.calls for s in statements if s.statement.startswith(starts) and s.toplevel == toplevel
    )


def test_only_the_loaders_sessions_count_nested_statements_and_only_inside_the_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The owner's sessions opened inside the block count the statement a function runs;
    another role's (the tills') and every session after the block count top-level ones only;
    the counts start from zero when the block does."""
    monkeypatch.setattr(import_profile, "PROFILED_STATEMENTS", 100)  # every one, not the top
    server = EmbeddedPostgres(tmp_path / "pg", settings=server_settings()).start()
    try:
        owner = server.url()
        till = owner.replace("://postgres@", "://till@", 1)
        asyncio.run(_setup(owner))
        asyncio.run(_sell(owner, 3))  # before the block: not counted
        with statements_counted(owner):
            asyncio.run(_sell(owner, 5))
            asyncio.run(_sell(till, 7))
            during = costliest_statements(owner)
        asyncio.run(_sell(owner, 11))
        after = costliest_statements(owner)
    finally:
        server.destroy()
    assert _calls(during, "SELECT sell", toplevel=True) == 5 + 7
    assert _calls(during, "INSERT INTO sold", toplevel=False) == 5
    assert _calls(after, "SELECT sell", toplevel=True) == 5 + 7 + 11
    assert _calls(after, "INSERT INTO sold", toplevel=False) == 5
