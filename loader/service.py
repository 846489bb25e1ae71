"""Loading the chain's data: check everything, then write everything in one transaction."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from db.catalog import read_catalog
from loader import queries
from loader.csv_files import ChainData, RowProblem, read_chain_data


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
    existing = await read_catalog(connection)
    data = read_chain_data(data_dir, existing.supermarkets, existing.products.keys())
    if data.problems:
        raise LoadRefused(data.problems)
    report = LoadReport(
        supermarkets=len(data.supermarkets),
        products=len(data.prices),
        purchases_read=len(data.purchases),
        warnings=data.warnings,
    )
    async with connection.transaction():
        await connection.execute(queries.LOCK_LOADER)
        await _store_catalog(connection, data)
        await _stage_purchases(connection, data)
        stored = await connection.fetchrow(queries.STORE_NEW_PURCHASES)
    report.purchases_stored = stored["purchases"]
    report.lines_stored = stored["lines"]
    report.seconds = time.perf_counter() - started
    return report


async def _store_catalog(connection: asyncpg.Connection, data: ChainData) -> None:
    await connection.execute(queries.ADD_SUPERMARKETS, data.supermarkets)
    await connection.execute(queries.UPSERT_PRODUCTS, list(data.prices), list(data.prices.values()))


async def _stage_purchases(connection: asyncpg.Connection, data: ChainData) -> None:
    """COPY the checked purchases and their lines into this transaction's staging tables."""
    product_ids = {
        name: product.id for name, product in (await read_catalog(connection)).products.items()
    }
    await connection.execute(queries.CREATE_STAGING)
    await connection.copy_records_to_table(
        "staged_purchase",
        columns=queries.STAGED_PURCHASE_COLUMNS,
        records=[
            (
                row.import_key,
                row.supermarket_id,
                row.customer_id,
                row.purchased_at,
                row.total_amount,
            )
            for row in data.purchases
        ],
    )
    await connection.copy_records_to_table(
        "staged_line",
        columns=queries.STAGED_LINE_COLUMNS,
        records=[
            (row.import_key, product_ids[name], quantity)
            for row in data.purchases
            for name, quantity in row.quantities.items()
        ],
    )
