"""Loading the chain's data: check everything first, then store it in bounded chunks.

The files are checked and keyed in one transaction that writes nothing but work tables (the
session's temporary ones and the owner's unlogged ones in `import_work`): an invalid row
refuses the whole load with nothing written. Then the catalog, the months and the customers'
numbers the purchases need are committed, and the purchases are stored in chunks of
`LOADER_CHUNK_PURCHASES`, each chunk a transaction of whole purchases with their lines and
aggregates, by `LOADER_WORKERS` connections side by side. So an import shares nothing with the
tills that they must wait for longer than one chunk: its aggregate counters use shards of
their own, its months exist before its rows arrive, and a customer's row is held for one
slice of the fold at most. An interrupted import has stored whole purchases; running it again
stores the rest (import keys)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from db.locks import AdvisoryLock
from db.partitions import create_months
from db.pool import one_row
from loader import queries
from loader.files import CHAIN_FILES, ChainFile, copy_into_staging, header_problem
from loader.progress import StoringProgress, still_running
from loader.settings import LoaderSettings, loader_settings
from shop.rules import MAX_ITEMS_PER_PURCHASE, STORE_ID_PATTERN

# The first aggregate shard the import writes, one per storing connection: tills' sessions use
# 0..15 (db/migrations/005).
IMPORT_SHARD = 16
ONE_CHUNK = 2**31 - 1
# Customers folded per transaction at the end of an import: their rows are held that long.
FOLD_SLICE_CUSTOMERS = 10_000
MAX_PROBLEMS = 10_000
MAX_WARNINGS = 10_000

OpenConnection = Callable[[], Awaitable[asyncpg.Connection]]


@asynccontextmanager
async def _phase(name: str) -> AsyncIterator[None]:
    """Say what the loader is doing and how long it took: the progress of the SQL phases.
    Where nobody watches a terminal (Docker logs), a line at least every EVERY_SECONDS says
    the phase is still running, so a long check never looks like a hang."""
    print(f"  {name} …", end="", flush=True)
    started = time.perf_counter()
    heartbeat = asyncio.create_task(still_running(name, started))
    try:
        yield
    finally:
        heartbeat.cancel()
    print(f" {time.perf_counter() - started:.1f} s", flush=True)


@dataclass(frozen=True)
class RowProblem:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


class LoadRefused(Exception):
    """The files have invalid rows; nothing was written."""

    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__(f"{len(problems)} invalid row(s); nothing was loaded")
        self.problems = problems


@dataclass
class LoadReport:
    supermarkets: int = 0
    products: int = 0
    purchases_read: int = 0
    purchases_stored: int = 0
    lines_stored: int = 0
    chunks: int = 0
    warnings: list[RowProblem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def purchases_already_stored(self) -> int:
        return self.purchases_read - self.purchases_stored


async def load_chain_data(
    connection: asyncpg.Connection,
    data_dir: Path,
    settings: LoaderSettings | None = None,
    open_connection: OpenConnection | None = None,
) -> LoadReport:
    """Load the three CSV files of `data_dir`; re-running it stores nothing twice. With
    `open_connection`, up to LOADER_WORKERS connections store the chunks at once."""
    settings = settings or loader_settings()
    started = time.perf_counter()
    problems = [
        RowProblem(chain_file.name, 1, problem)
        for chain_file in CHAIN_FILES
        if (problem := header_problem(data_dir / chain_file.name, chain_file))
    ]
    if problems:
        raise LoadRefused(problems)
    await connection.execute(queries.LOCK_LOADER, AdvisoryLock.LOADER)
    await connection.execute(queries.SESSION_WORK_MEM, settings.loader_work_mem)
    try:
        async with connection.transaction():
            report = await _check(connection, data_dir, settings)
        await _store(connection, report, settings, open_connection)
    finally:
        await connection.execute(queries.DROP_STAGING)
        await connection.execute(queries.RESET_WORK_MEM)
        await connection.execute(queries.UNLOCK_LOADER, AdvisoryLock.LOADER)
    report.seconds = time.perf_counter() - started
    return report


async def _check(
    connection: asyncpg.Connection, data_dir: Path, settings: LoaderSettings
) -> LoadReport:
    """Stage, check and key everything; writes nothing but work tables."""
    await connection.execute(queries.CHECKING_SESSION, settings.chain_timezone)
    await connection.execute(queries.CREATE_STAGING)
    for chain_file in CHAIN_FILES:
        await _copy(connection, data_dir, chain_file)
    await _refuse_problems(connection, queries.CATALOG_PROBLEMS, STORE_ID_PATTERN)
    async with _phase("splitting baskets"):
        await connection.execute(queries.BASKET_LINES)
        await connection.execute(queries.BASKETS, MAX_ITEMS_PER_PURCHASE)
        await connection.execute(queries.ANALYZE_FOR_KEYING)
    async with _phase("checking and keying purchases"):
        await _key_purchases(connection, settings.loader_chunk_purchases or ONE_CHUNK)
    report = LoadReport(
        supermarkets=await connection.fetchval("SELECT count(*) FROM staged_supermarket"),
        products=await connection.fetchval("SELECT count(*) FROM staged_product"),
        purchases_read=await connection.fetchval("SELECT count(*) FROM import_work.load_purchase"),
    )
    async with _phase("finding repeated rows"):
        report.warnings += await _drop_repeats(connection)
    async with _phase("comparing totals with the catalog"):
        report.warnings += await _totals_off_catalog(connection)
    return report


async def _key_purchases(connection: asyncpg.Connection, chunk_size: int) -> None:
    """One pass types, checks and keys every purchase; the detailed report only on refusal."""
    try:
        async with connection.transaction():  # a savepoint: a value that does not cast
            await connection.execute(queries.KEY_PURCHASES, chunk_size)
            refused = await connection.fetch(queries.REFUSED_ROWS, MAX_PROBLEMS)
    except asyncpg.DataError:
        refused = None
    if refused == []:
        await connection.execute(queries.INDEX_PURCHASES)
        return
    await _refuse_problems(connection, queries.PURCHASE_PROBLEMS, MAX_ITEMS_PER_PURCHASE)
    # Only if the report and the one-pass check ever disagree: refuse, never store unchecked.
    raise LoadRefused(
        [RowProblem("purchases.csv", row["line"], "row refused by the checks") for row in refused]
        if refused
        else [RowProblem("purchases.csv", 0, "a value could not be read")]
    )


async def _refuse_problems(connection: asyncpg.Connection, query: str, rule: object) -> None:
    problems = [RowProblem(*row) for row in await connection.fetch(query, MAX_PROBLEMS, rule)]
    if problems:
        raise LoadRefused(problems)


async def _copy(connection: asyncpg.Connection, data_dir: Path, chain_file: ChainFile) -> None:
    """COPY one file; a row PostgreSQL cannot parse refuses the load with its line."""
    try:
        async with connection.transaction():  # a savepoint: the error is reported, not fatal
            await copy_into_staging(connection, data_dir / chain_file.name, chain_file)
    except (asyncpg.DataError, asyncpg.BadCopyFileFormatError) as error:
        raise LoadRefused([_copy_problem(chain_file, error)]) from None


def _copy_problem(chain_file: ChainFile, error: asyncpg.PostgresError) -> RowProblem:
    context = getattr(error, "context", None) or getattr(error, "where", None) or ""
    found = re.search(r"line (\d+)", context)
    return RowProblem(chain_file.name, int(found.group(1)) if found else 0, error.args[0])


async def _drop_repeats(connection: asyncpg.Connection) -> list[RowProblem]:
    """Rows that repeat an earlier row exactly: one purchase exported twice, stored once."""
    repeated = await connection.fetch(queries.REPEATED_ROWS)
    if repeated:
        await connection.execute(
            queries.DROP_REPEATS, [line for row in repeated for line in row["lines"][1:]]
        )
    return [
        RowProblem("purchases.csv", line, f"same as line {row['first_line']}; stored once")
        for row in repeated
        for line in row["lines"][1:]
    ]


async def _totals_off_catalog(connection: asyncpg.Connection) -> list[RowProblem]:
    off_catalog = await connection.fetch(queries.TOTALS_OFF_CATALOG, MAX_WARNINGS)
    return [
        RowProblem(
            "purchases.csv",
            row["line"],
            f"total_amount {row['total_amount']} differs from today's catalog "
            f"({row['catalog_total']}); kept as recorded",
        )
        for row in off_catalog
    ]


async def _store(
    connection: asyncpg.Connection,
    report: LoadReport,
    settings: LoaderSettings,
    open_connection: OpenConnection | None,
) -> None:
    """Commit the catalog, the months and the customers' numbers, then the purchases chunk by
    chunk, then fold the customers' visits the chunks left waiting."""
    written = one_row(await connection.fetchrow(queries.WRITTEN_SPAN))
    await connection.execute(queries.DROP_ALREADY_STORED, written["first"], written["last"])
    span = one_row(await connection.fetchrow(queries.PURCHASE_SPAN))
    async with connection.transaction():
        await connection.execute(queries.ADD_SUPERMARKETS)
        await connection.execute(queries.UPSERT_PRODUCTS)
        if span["chunks"]:
            await create_months(connection, span["first"], span["last"])
    await connection.execute(queries.NUMBER_CUSTOMERS)
    await connection.execute(queries.BASKET_PRODUCTS)
    report.chunks = span["chunks"]
    workers = settings.loader_workers if open_connection and report.chunks > 1 else 1
    async with _workers(connection, open_connection, workers, settings) as connections:
        await _fold_waiting_visits(connections)  # what an interrupted import left, first
        async with _phase("storing purchases, lines, aggregates and rollups"):
            await _store_chunks(connections, report, settings)
        async with _phase("folding customers' visits"):
            await _fold_waiting_visits(connections)


@asynccontextmanager
async def _workers(
    connection: asyncpg.Connection,
    open_connection: OpenConnection | None,
    workers: int,
    settings: LoaderSettings,
) -> AsyncIterator[list[asyncpg.Connection]]:
    """The loader's connection and `workers - 1` more with its memory for sorts and hashes,
    closed again at the end."""
    async with AsyncExitStack() as opened:
        connections = [connection]
        for _ in range(workers - 1):
            assert open_connection is not None
            extra = await open_connection()
            opened.push_async_callback(extra.close)
            connections.append(extra)
        for extra in connections[1:]:
            await extra.execute(queries.SESSION_WORK_MEM, settings.loader_work_mem)
        yield connections


async def _side_by_side(
    connections: list[asyncpg.Connection],
    jobs: int,
    do: Callable[[asyncpg.Connection, int], Awaitable[None]],
) -> None:
    """Jobs 0..jobs-1, each connection taking the next until none is left. Each connection
    writes the aggregate shard of its own (IMPORT_SHARD + its number), so two never wait for
    each other's counters. If one fails, the others stop (their open transactions roll back)."""
    waiting = iter(range(jobs))

    async def take(connection: asyncpg.Connection, shard: int) -> None:
        for job in waiting:
            async with connection.transaction():
                await connection.execute(queries.SHARD_SESSION, str(shard))
                await do(connection, job)

    tasks = [
        asyncio.create_task(take(connection, IMPORT_SHARD + n))
        for n, connection in enumerate(connections)
    ]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def _store_chunks(
    connections: list[asyncpg.Connection], report: LoadReport, settings: LoaderSettings
) -> None:
    """Every chunk, a transaction each. One transaction for the whole file folds the
    customers in it, as tills do; chunks defer them to the fold at the end."""
    defer = "on" if settings.loader_chunk_purchases else "off"
    progress = StoringProgress(report.purchases_read)
    done = 0

    async def store(connection: asyncpg.Connection, chunk: int) -> None:
        nonlocal done
        await connection.execute(queries.DEFER_CUSTOMER_FOLD, defer)
        stored = one_row(await connection.fetchrow(queries.STORE_NEW_PURCHASES, chunk))
        report.purchases_stored += stored["purchases"]
        report.lines_stored += stored["lines"]
        done += 1
        progress.advance(done, report.chunks)

    await _side_by_side(connections, report.chunks, store)


async def _fold_waiting_visits(connections: list[asyncpg.Connection]) -> None:
    """Fold every visit waiting in import_visits (this import's, or what an interrupted one
    left), a slice of customers per transaction, so no customer's row is held for long."""
    connection = connections[0]
    await connection.execute(queries.FOLD_QUEUE, FOLD_SLICE_CUSTOMERS)
    await connection.execute(queries.INDEX_FOLD_QUEUE)

    async def fold(worker: asyncpg.Connection, slice_no: int) -> None:
        await worker.execute(queries.FOLD_SLICE, slice_no)

    await _side_by_side(connections, await connection.fetchval(queries.FOLD_SLICES), fold)
    async with connection.transaction():
        await connection.execute(queries.FOLD_DONE)
