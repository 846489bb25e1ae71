"""Loading the chain's data: check everything, then write everything, in one transaction."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from loader import queries
from loader.files import CHAIN_FILES, ChainFile, copy_into_staging, header_problem


@contextmanager
def _phase(name: str) -> Iterator[None]:
    """Say what the loader is doing and how long it took: the progress of the SQL phases."""
    print(f"  {name} …", end="", flush=True)
    started = time.perf_counter()
    yield
    print(f" {time.perf_counter() - started:.1f} s", flush=True)


MAX_PROBLEMS = 10_000
MAX_WARNINGS = 10_000


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
    warnings: list[RowProblem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def purchases_already_stored(self) -> int:
        return self.purchases_read - self.purchases_stored


async def load_chain_data(connection: asyncpg.Connection, data_dir: Path) -> LoadReport:
    """Load the three CSV files of `data_dir`; re-running it stores nothing twice."""
    started = time.perf_counter()
    problems = [
        RowProblem(chain_file.name, 1, problem)
        for chain_file in CHAIN_FILES
        if (problem := header_problem(data_dir / chain_file.name, chain_file))
    ]
    if problems:
        raise LoadRefused(problems)
    transaction = connection.transaction()
    await transaction.start()
    try:
        report = await _check_and_store(connection, data_dir)
    except BaseException:
        await transaction.rollback()
        raise
    with _phase("committing"):
        await transaction.commit()
    report.seconds = time.perf_counter() - started
    return report


async def _check_and_store(connection: asyncpg.Connection, data_dir: Path) -> LoadReport:
    await connection.execute(queries.BEGIN_LOAD)
    await connection.execute(queries.CREATE_STAGING)
    for chain_file in CHAIN_FILES:
        await _copy(connection, data_dir, chain_file)
    await _refuse_problems(connection, queries.CATALOG_PROBLEMS)
    with _phase("splitting baskets"):
        await connection.execute(queries.BASKETS)
    with _phase("checking and keying purchases"):
        await _key_purchases(connection)
    return await _store(connection)


async def _key_purchases(connection: asyncpg.Connection) -> None:
    """One pass types, checks and keys every purchase; the detailed report only on refusal."""
    try:
        async with connection.transaction():  # a savepoint: a value that does not cast
            await connection.execute(queries.KEY_PURCHASES)
            refused = await connection.fetch(queries.REFUSED_ROWS, MAX_PROBLEMS)
    except asyncpg.DataError:
        refused = None
    if refused == []:
        return
    await _refuse_problems(connection, queries.PURCHASE_PROBLEMS)
    # Only if the report and the one-pass check ever disagree: refuse, never store unchecked.
    raise LoadRefused(
        [RowProblem("purchases.csv", row["line"], "row refused by the checks") for row in refused]
        if refused
        else [RowProblem("purchases.csv", 0, "a value could not be read")]
    )


async def _refuse_problems(connection: asyncpg.Connection, query: str) -> None:
    problems = [RowProblem(*row) for row in await connection.fetch(query, MAX_PROBLEMS)]
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


async def _store(connection: asyncpg.Connection) -> LoadReport:
    await connection.execute(queries.ADD_SUPERMARKETS)
    await connection.execute(queries.UPSERT_PRODUCTS)
    report = LoadReport(
        supermarkets=await connection.fetchval("SELECT count(*) FROM staged_supermarket"),
        products=await connection.fetchval("SELECT count(*) FROM staged_product"),
        purchases_read=await connection.fetchval("SELECT count(*) FROM load_purchase"),
    )
    with _phase("finding repeated rows"):
        repeated = await connection.fetch(queries.REPEATED_ROWS)
    for row in repeated:
        report.warnings += [
            RowProblem("purchases.csv", line, f"same as line {row['first_line']}; stored once")
            for line in row["lines"][1:]
        ]
    if repeated:
        await connection.execute(
            queries.DROP_REPEATS, [line for row in repeated for line in row["lines"][1:]]
        )
    with _phase("comparing totals with the catalog"):
        off_catalog = await connection.fetch(queries.TOTALS_OFF_CATALOG, MAX_WARNINGS)
    report.warnings += [
        RowProblem(
            "purchases.csv",
            row["line"],
            f"total_amount {row['total_amount']} differs from today's catalog "
            f"({row['catalog_total']}); kept as recorded",
        )
        for row in off_catalog
    ]
    await connection.fetchval(queries.PURCHASE_MONTHS)
    with _phase("storing purchases, lines, aggregates and rollups"):
        stored = await connection.fetchrow(queries.STORE_NEW_PURCHASES)
    report.purchases_stored = stored["purchases"]
    report.lines_stored = stored["lines"]
    return report
