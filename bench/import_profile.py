"""Where a history import's time goes: the loader's own phases as it printed them, and the
statements it and its triggers ran, by pg_stat_statements at every level (a trigger's
statements show inside the time of the statement that fired them)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import asyncpg

# "  storing purchases … " starts a phase; its time, "12.3 s", ends the line that closes it
# (heartbeats say whole seconds, progress lines end with "left)").
PHASE_START = re.compile(r"^\s*(?P<name>[a-z][^…]*?) …")
PHASE_END = re.compile(r"(?P<seconds>\d[\d,]*\.\d) s$")
PROFILED_STATEMENTS = 10
SHOWN_CHARACTERS = 110
TRACK_EVERY_LEVEL = """
DO $$ BEGIN
    EXECUTE format('ALTER ROLE CURRENT_USER IN DATABASE %I SET pg_stat_statements.track = %L',
                   current_database(), 'all');
END $$;
SELECT pg_stat_statements_reset();
"""
TRACK_TOP_LEVEL = """
DO $$ BEGIN
    EXECUTE format('ALTER ROLE CURRENT_USER IN DATABASE %I RESET pg_stat_statements.track',
                   current_database());
END $$
"""
STATEMENTS = """
SELECT regexp_replace(query, '\\s+', ' ', 'g') AS statement, calls, rows, toplevel,
       total_exec_time / 1000 AS seconds
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY total_exec_time DESC
LIMIT $1
"""


@dataclass(frozen=True)
class ProfiledStatement:
    statement: str
    calls: int
    rows: int
    toplevel: bool
    seconds: float


def phase_seconds(loader_output: str) -> list[tuple[str, float]]:
    """Each phase the loader printed, with the seconds it took."""
    phases = []
    name = None
    for line in loader_output.splitlines():
        started = PHASE_START.match(line)
        if started and not line.lstrip().startswith("still"):
            name = started["name"]
        ended = PHASE_END.search(line)
        if name is not None and ended:
            phases.append((name, float(ended["seconds"].replace(",", ""))))
            name = None
    return phases


async def _run(database_url: str, sql: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await connection.execute(sql)
    finally:
        await connection.close()


@contextmanager
def statements_counted(database_url: str) -> Iterator[None]:
    """Inside the block, the sessions the loader opens (as the database's owner, not the
    tills' role) count their statements at every level; the counts start from zero."""
    asyncio.run(_run(database_url, TRACK_EVERY_LEVEL))
    try:
        yield
    finally:
        asyncio.run(_run(database_url, TRACK_TOP_LEVEL))


async def _statements(database_url: str) -> list[ProfiledStatement]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(STATEMENTS, PROFILED_STATEMENTS)
        return [ProfiledStatement(**row) for row in rows]
    finally:
        await connection.close()


def costliest_statements(database_url: str) -> list[ProfiledStatement]:
    """The statements that took the most time since `statements_counted` began."""
    return asyncio.run(_statements(database_url))


def profile_report(loader_output: str, statements: list[ProfiledStatement], purchases: int) -> str:
    """The phases and the costliest statements, as markdown."""
    phases = "\n".join(
        f"| {name} | {seconds:,.1f} |" for name, seconds in phase_seconds(loader_output)
    )
    rows = "\n".join(
        f"| `{_shown(s.statement)}` | {'top' if s.toplevel else 'nested'} | {s.calls:,} | "
        f"{s.seconds:,.1f} | {1e6 * s.seconds / purchases:,.1f} |"
        for s in statements
    )
    return f"""
Where the import's time goes: its phases as the loader printed them, then the costliest
statements on the server meanwhile (pg_stat_statements at every level for the loader's
sessions; a nested statement's time is inside that of the statement that fired it, and the
tills' statements count at their top level only).

| phase | s |
|---|---:|
{phases}

| statement | level | calls | total s | µs per imported purchase |
|---|---|---:|---:|---:|
{rows}
"""


def _shown(statement: str) -> str:
    """The start of a statement, safe inside a markdown table cell."""
    short = statement if len(statement) <= SHOWN_CHARACTERS else statement[:SHOWN_CHARACTERS] + "…"
    return short.replace("|", "\\|").replace("`", "'")
