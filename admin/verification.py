"""`verify-ledger` over the whole chain: every till's chain checked from one snapshot, by as
many processes as the machine has cores when the ledger is big.

One process rebuilding and hashing a million canonical forms keeps one core busy while the
database waits, then the other way round. So the tills are shared out among worker processes
(each its own connection, each a share of the tills by a hash of their ids), and every worker
reads the snapshot the coordinating connection exported (`pg_export_snapshot`, as `pg_dump
--jobs` does): the parts together are exactly one moment of the ledger, however the tills trade
meanwhile. The coordinator checks, in that same snapshot, the tills' heads and the sales and
refunds that slipped in beside the chains.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import asyncpg

from admin.ledger import HEADS, UNCHAINED, ChainReport, check_chains
from db.pool import connect
from db.settings import database_settings

# Below this many entries the workers' start (a second or so) costs more than they save.
ENTRIES_WORTH_WORKERS = 100_000
MOST_WORKERS = 8


def workers_for(entries: int) -> int:
    """How many processes to verify `entries` entries with, when the caller did not say."""
    if entries < ENTRIES_WORTH_WORKERS:
        return 1
    return max(1, min(os.cpu_count() or 1, MOST_WORKERS))


async def verify_chains(
    connection: asyncpg.Connection, tills: list[str] | None, jobs: int | None = None
) -> list[ChainReport]:
    """Verify the chains of `tills` (None: every till), from one consistent snapshot, with
    `jobs` processes (None: as many as the ledger's size is worth)."""
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        heads = await connection.fetch(HEADS, tills)
        jobs = jobs or workers_for(sum(head["entries"] for head in heads))
        if jobs == 1:
            checked = await check_chains(connection, tills)
            unchained = await connection.fetch(UNCHAINED, tills)
        else:
            snapshot = await connection.fetchval("SELECT pg_export_snapshot()")
            checked, unchained = await _in_workers(connection, snapshot, tills, jobs)
    reports = {report.till: report for report in checked}
    for till in tills or []:
        reports.setdefault(till, ChainReport(till))
    for row in unchained:
        reports.setdefault(row["till_id"], ChainReport(row["till_id"])).unchained(
            row["kind"], row["id"]
        )
    for row in heads:
        reports.setdefault(row["till_id"], ChainReport(row["till_id"])).head_stored(
            row["entries"], row["head_hash"]
        )
    return [reports[till] for till in sorted(reports)]


async def _in_workers(
    connection: asyncpg.Connection, snapshot: str, tills: list[str] | None, jobs: int
) -> tuple[list[ChainReport], list[asyncpg.Record]]:
    """The chains checked by `jobs` processes while this connection finds the unchained rows.

    The processes are spawned, not forked: a fork would copy this running event loop."""
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        parts = [
            loop.run_in_executor(pool, check_part, snapshot, tills, jobs, part)
            for part in range(jobs)
        ]
        unchained = await connection.fetch(UNCHAINED, tills)
        checked = [report for part in await asyncio.gather(*parts) for report in part]
    return checked, unchained


def check_part(snapshot: str, tills: list[str] | None, parts: int, part: int) -> list[ChainReport]:
    """A worker process: its share of the tills, checked in the coordinator's snapshot."""
    return asyncio.run(_check_part(snapshot, tills, parts, part))


async def _check_part(
    snapshot: str, tills: list[str] | None, parts: int, part: int
) -> list[ChainReport]:
    connection = await connect(database_settings())
    try:
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            await connection.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            return await check_chains(connection, tills, parts, part)
    finally:
        await connection.close()
