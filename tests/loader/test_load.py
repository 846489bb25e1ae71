"""The loader: BOMs, re-runs, every kind of bad row reported with its line, all or nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from devtools.embedded_postgres import free_port
from loader.service import LoadRefused, load_chain_data
from loader.settings import LoaderSettings
from tests.conftest import ROOT, SEED_DIR, PostgresUnderTest, SeedFacts

GOOD_ROW = 'SMKT001,2025-05-26T19:51:00.539354,01e1e159-8045-43c2-88dd-5682b18bd680,"eggs,milk",4.5'
TABLES = (
    "supermarkets",
    "products",
    "customers",
    "purchases",
    "purchase_items",
    "product_sales",
    "customer_purchase_counts",
)


def data_dir_with(tmp_path: Path, purchases: list[str], bom: bool = True) -> Path:
    """A data folder with the seed's stores and products and the given purchase rows."""
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(SEED_DIR / "supermarkets.csv", folder)
    shutil.copy(SEED_DIR / "products_list.csv", folder)
    text = (
        "supermarket_id,timestamp,user_id,items_list,total_amount\n" + "\n".join(purchases) + "\n"
    )
    (folder / "purchases.csv").write_text(("\ufeff" if bom else "") + text, encoding="utf-8")
    return folder


async def snapshot(connection: asyncpg.Connection) -> dict[str, list[asyncpg.Record]]:
    return {
        table: await connection.fetch(f"SELECT * FROM {table} t ORDER BY t::text")
        for table in TABLES
    }


async def test_seed_loads_with_its_bom_and_counts_match_the_csv(
    db: asyncpg.Connection, seed_facts: SeedFacts
) -> None:
    assert (SEED_DIR / "purchases.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    report = await load_chain_data(db, SEED_DIR)
    assert report.purchases_stored == seed_facts.purchase_count
    assert report.lines_stored == sum(seed_facts.units_per_product.values())  # no repeats in seed
    assert await db.fetchval("SELECT count(*) FROM purchases") == seed_facts.purchase_count
    assert await db.fetchval("SELECT count(*) FROM customers") == len(
        seed_facts.purchases_per_customer
    )
    assert (
        sorted(await db.fetchval("SELECT array_agg(id) FROM supermarkets"))
        == seed_facts.supermarkets
    )
    assert report.warnings == []


async def test_a_second_run_leaves_exactly_the_same_data(db: asyncpg.Connection) -> None:
    await load_chain_data(db, SEED_DIR)
    first = await snapshot(db)
    report = await load_chain_data(db, SEED_DIR)
    assert report.purchases_stored == 0
    assert report.purchases_already_stored == report.purchases_read
    assert await snapshot(db) == first


async def test_the_connection_lent_to_the_loader_comes_back_with_its_own_settings(
    db: asyncpg.Connection,
) -> None:
    """LOADER_WORK_MEM is set for the loader's session while it loads, and no longer."""
    before = await db.fetchval("SHOW work_mem")
    await load_chain_data(db, SEED_DIR, LoaderSettings(loader_work_mem="77MB"))
    assert await db.fetchval("SHOW work_mem") == before != "77MB"


async def test_files_without_bom_load_too(db: asyncpg.Connection, tmp_path: Path) -> None:
    report = await load_chain_data(db, data_dir_with(tmp_path, [GOOD_ROW], bom=False))
    assert report.purchases_stored == 1


async def test_repeated_items_become_a_quantity(db: asyncpg.Connection, tmp_path: Path) -> None:
    row = 'SMKT002,2025-06-01T10:00:00,9b2f6f8e-4c1e-4c38-9d8a-0a6d2a1f7e11,"milk,milk,bread",5'
    await load_chain_data(db, data_dir_with(tmp_path, [row]))
    lines = await db.fetch(
        "SELECT p.name, i.quantity FROM purchase_items i "
        "JOIN products p ON p.id = i.product_id ORDER BY p.name"
    )
    assert [(line["name"], line["quantity"]) for line in lines] == [("bread", 1), ("milk", 2)]


async def test_a_total_that_differs_from_todays_catalog_is_kept_and_warned(
    db: asyncpg.Connection, tmp_path: Path
) -> None:
    row = GOOD_ROW.rsplit(",", 1)[0] + ",4.10"
    report = await load_chain_data(db, data_dir_with(tmp_path, [GOOD_ROW, row]))
    assert report.purchases_stored == 2
    assert [(w.file, w.line) for w in report.warnings] == [("purchases.csv", 3)]
    assert "4.10" in report.warnings[0].reason
    assert await db.fetchval("SELECT min(total_amount) FROM purchases") == Decimal("4.10")


BAD_ROWS = [
    (
        "unknown product",
        'SMKT001,2025-05-26T19:51:00,01e1e159-8045-43c2-88dd-5682b18bd680,"eggs,caviar",4.5',
        "unknown product 'caviar'",
    ),
    (
        "unknown supermarket",
        "SMKT404,2025-05-26T19:51:00,01e1e159-8045-43c2-88dd-5682b18bd680,milk,1.5",
        "unknown supermarket 'SMKT404'",
    ),
    ("malformed uuid", "SMKT001,2025-05-26T19:51:00,not-a-uuid,milk,1.5", "is not a UUID"),
    (
        "malformed timestamp",
        "SMKT001,26/05/2025 19:51,01e1e159-8045-43c2-88dd-5682b18bd680,milk,1.5",
        "not an ISO 8601",
    ),
    (  # casts to a timestamp, so only the form check can refuse it
        "date without a time",
        "SMKT001,2025-05-26,01e1e159-8045-43c2-88dd-5682b18bd680,milk,1.5",
        "timestamp '2025-05-26' is not an ISO 8601",
    ),
    (
        "a word that PostgreSQL reads as a time",
        "SMKT001,now,01e1e159-8045-43c2-88dd-5682b18bd680,milk,1.5",
        "timestamp 'now' is not an ISO 8601",
    ),
    (
        "empty basket",
        "SMKT001,2025-05-26T19:51:00,01e1e159-8045-43c2-88dd-5682b18bd680,,0",
        "empty",
    ),
    (
        "bad number",
        "SMKT001,2025-05-26T19:51:00,01e1e159-8045-43c2-88dd-5682b18bd680,milk,1.5x",
        "total_amount '1.5x' is not a number",
    ),
    (
        "negative total",
        "SMKT001,2025-05-26T19:51:00,01e1e159-8045-43c2-88dd-5682b18bd680,milk,-1",
        "zero or more",
    ),
    ("too many fields", GOOD_ROW + ",extra", "extra data after last expected column"),
]


@pytest.mark.parametrize(
    ("row", "reason"), [case[1:] for case in BAD_ROWS], ids=[case[0] for case in BAD_ROWS]
)
async def test_a_bad_row_refuses_the_whole_load_with_its_line(
    db: asyncpg.Connection, tmp_path: Path, row: str, reason: str
) -> None:
    with pytest.raises(LoadRefused) as refused:
        await load_chain_data(db, data_dir_with(tmp_path, [GOOD_ROW, GOOD_ROW, row]))
    [problem] = refused.value.problems
    assert (problem.file, problem.line) == ("purchases.csv", 4)
    assert reason in problem.reason
    for table in TABLES:
        assert await db.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_every_bad_row_is_reported_in_one_run(db: asyncpg.Connection, tmp_path: Path) -> None:
    """Every bad value is reported at once; a row the CSV parser cannot read stops the reading
    itself, so it is left out here (it has its own case above)."""
    rows = [case[1] for case in BAD_ROWS if case[0] != "too many fields"]
    with pytest.raises(LoadRefused) as refused:
        await load_chain_data(db, data_dir_with(tmp_path, [GOOD_ROW, *rows]))
    assert [problem.line for problem in refused.value.problems] == list(range(3, 3 + len(rows)))


async def test_bad_catalog_rows_are_reported(db: asyncpg.Connection, tmp_path: Path) -> None:
    folder = data_dir_with(tmp_path, [GOOD_ROW])
    (folder / "products_list.csv").write_text(
        "\ufeffproduct_name,unit_price\nmilk,1.5\nbread,free\neggs,0\nmilk,2\n", encoding="utf-8"
    )
    with pytest.raises(LoadRefused) as refused:
        await load_chain_data(db, folder)
    reasons = {problem.line: problem.reason for problem in refused.value.problems}
    assert "not a number" in reasons[3]
    assert "greater than zero" in reasons[4]
    assert "duplicate product 'milk'" in reasons[5]


def run_loader(
    data_dir: Path, database_url: str, *options: str, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DATABASE_URL": database_url, **env}
    return subprocess.run(
        [sys.executable, "-m", "loader", "--data-dir", str(data_dir), *options],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_command_line_loads_and_says_what_and_how_fast(
    db: asyncpg.Connection, postgres: PostgresUnderTest, seed_facts: SeedFacts
) -> None:
    result = run_loader(SEED_DIR, postgres.database_url)
    assert result.returncode == 0, result.stderr
    assert f"{seed_facts.purchase_count} stored" in result.stdout
    assert "purchases/s" in result.stdout


async def test_command_line_refuses_bad_files_with_exit_1_and_a_report(
    db: asyncpg.Connection, postgres: PostgresUnderTest, tmp_path: Path
) -> None:
    result = run_loader(data_dir_with(tmp_path, [GOOD_ROW, BAD_ROWS[0][1]]), postgres.database_url)
    assert result.returncode == 1
    assert "purchases.csv:3: unknown product 'caviar'" in result.stderr
    assert await db.fetchval("SELECT count(*) FROM purchases") == 0


def test_command_line_gives_up_on_an_unreachable_database_with_a_clear_message() -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    result = run_loader(SEED_DIR, url, DB_STARTUP_WAIT_SECONDS="1")
    assert result.returncode == 2
    assert "PostgreSQL did not accept connections within 1 s" in result.stderr


async def test_seeding_leaves_a_chain_that_exists_as_it_is(
    db: asyncpg.Connection, postgres: PostgresUnderTest
) -> None:
    """compose's loader runs at every `docker compose up`: it must not undo a price change."""
    first = run_loader(SEED_DIR, postgres.database_url, "--seed-only")
    assert first.returncode == 0, first.stderr
    assert "stored" in first.stdout
    await db.execute("UPDATE products SET unit_price = 1.65 WHERE name = 'milk'")
    again = run_loader(SEED_DIR, postgres.database_url, "--seed-only")
    assert again.returncode == 0, again.stderr
    assert "already holds a chain" in again.stdout
    assert await db.fetchval("SELECT unit_price FROM products WHERE name = 'milk'") == Decimal(
        "1.65"
    )
