"""Properties of loading, for any well-formed file (hypothesis): what is stored is what the
file says, counted by the test; and any one bad value refuses the load, naming its line."""

from __future__ import annotations

import asyncio
import csv
import shutil
import tempfile
import uuid
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loader.service import LoadRefused, load_chain_data
from tests.conftest import SEED_DIR, PostgresUnderTest, empty_shop, read_seed
from tests.rows import pairs

SEED = read_seed()
CUSTOMERS = [str(uuid.UUID(int=n, version=4)) for n in range(1, 40)]

rows = st.lists(
    st.tuples(
        st.sampled_from(SEED.supermarkets),
        st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31)),
        st.sampled_from(CUSTOMERS),
        st.lists(st.sampled_from(sorted(SEED.prices)), min_size=1, max_size=12),
        st.decimals(min_value=0, max_value=999, places=2),
        st.sampled_from([",", ", ", " ,"]),  # how the till separated the items
    ),
    min_size=1,
    max_size=40,
)


def write_purchases(folder: Path, purchases: list[tuple[Any, ...]]) -> None:
    shutil.copy(SEED_DIR / "supermarkets.csv", folder)
    shutil.copy(SEED_DIR / "products_list.csv", folder)
    with (folder / "purchases.csv").open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["supermarket_id", "timestamp", "user_id", "items_list", "total_amount"])
        for store, moment, customer, items, total, separator in purchases:
            writer.writerow([store, moment.isoformat(), customer, separator.join(items), total])


async def load_fresh(url: str, folder: Path) -> asyncpg.Connection:
    connection = await asyncpg.connect(url)
    await empty_shop(connection)
    await load_chain_data(connection, folder)
    return connection


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(purchases=rows)
def test_a_well_formed_file_is_stored_as_written(
    postgres: PostgresUnderTest, db: asyncpg.Connection, purchases: list[tuple[Any, ...]]
) -> None:
    # Rows identical in meaning are one purchase exported twice: the test counts them once.
    distinct = {(s, m, c, tuple(i), Decimal(t)): (s, m, c, i, t) for s, m, c, i, t, _ in purchases}

    async def check(folder: Path) -> None:
        connection = await load_fresh(postgres.database_url, folder)
        try:
            assert await connection.fetchval("SELECT count(*) FROM purchases") == len(distinct)
            visits = Counter(c for _, _, c, _, _ in distinct.values())
            stored = pairs(await connection.fetch("SELECT id::text, purchase_count FROM customers"))
            assert stored == dict(visits)
            units = Counter(item for _, _, _, items, _ in distinct.values() for item in items)
            sold = pairs(
                await connection.fetch(
                    "SELECT p.name, sum(s.units_sold)::int FROM product_sales s "
                    "JOIN products p ON p.id = s.product_id GROUP BY p.name"
                )
            )
            assert sold == dict(units)
            times = sorted(m.replace(tzinfo=UTC) for _, m, _, _, _ in distinct.values())
            assert (
                sorted(await connection.fetchval("SELECT array_agg(purchased_at) FROM purchases"))
                == times
            )
        finally:
            await connection.close()

    with tempfile.TemporaryDirectory() as folder:
        write_purchases(Path(folder), purchases)
        asyncio.run(check(Path(folder)))


BAD_VALUES = {
    0: st.sampled_from(["SMKT", "smkt001", "", "SMKT001 "]).filter(lambda v: v != "SMKT001"),
    1: st.sampled_from(["yesterday", "2025-13-01T00:00:00", "2025-02-30T10:00:00", "05/26/2025"]),
    2: st.text(
        alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00\r\n"),
        min_size=1,
        max_size=20,
    ).filter(lambda v: v.strip() != ""),
    3: st.sampled_from(["caviar", "milk,,bread", "", "Milk"]),
    4: st.sampled_from(["-1", "1.234", "abc", "1e3", "NaN"]),
}


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    purchases=rows,
    bad_row=st.integers(min_value=0, max_value=39),
    column=st.sampled_from(list(BAD_VALUES)),
    data=st.data(),
)
def test_any_bad_value_refuses_the_load_naming_its_line(
    postgres: PostgresUnderTest,
    db: asyncpg.Connection,
    purchases: list[tuple[Any, ...]],
    bad_row: int,
    column: int,
    data: st.DataObject,
) -> None:
    bad_row %= len(purchases)
    value = data.draw(BAD_VALUES[column])
    if column == 2:
        try:
            uuid.UUID(value)
            return  # hypothesis found a valid UUID spelling: not a bad value
        except ValueError:
            pass

    async def check(folder: Path) -> None:
        connection = await asyncpg.connect(postgres.database_url)
        try:
            await empty_shop(connection)
            with pytest.raises(LoadRefused) as refused:
                await load_chain_data(connection, folder)
            assert bad_row + 2 in {problem.line for problem in refused.value.problems}
            assert await connection.fetchval("SELECT count(*) FROM purchases") == 0
        finally:
            await connection.close()

    with tempfile.TemporaryDirectory() as folder:
        write_purchases(Path(folder), purchases)
        lines = (Path(folder) / "purchases.csv").read_text(encoding="utf-8-sig").splitlines()
        fields = next(csv.reader([lines[bad_row + 1]]))
        fields[column] = value
        with (Path(folder) / "purchases.csv").open("w", encoding="utf-8", newline="") as handle:
            handle.write("\n".join(lines[: bad_row + 1]) + "\n")
            csv.writer(handle).writerow(fields)
            handle.write("\n".join(lines[bad_row + 2 :]) + "\n")
        asyncio.run(check(Path(folder)))
