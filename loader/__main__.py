"""`python -m loader [--data-dir DIR]`: wait for the database, migrate, load the CSV files.

Exit status: 0 loaded (or nothing new to load), 1 refused (invalid rows, nothing written),
2 the database could not be reached or a setting is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from db.errors import DatabaseUnavailable
from db.migrate import apply_migrations
from db.pool import connect
from db.roles import set_role_passwords
from db.settings import MissingSetting, database_settings
from loader.service import LoadRefused, LoadReport, load_chain_data
from loader.settings import loader_settings

MAX_PROBLEMS_SHOWN = 50
HOLDS_A_CHAIN = "SELECT EXISTS (SELECT 1 FROM supermarkets)"
MAX_WARNINGS_SHOWN = 10


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loader", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data"),
        help="folder with supermarkets.csv, products_list.csv, purchases.csv",
    )
    parser.add_argument(
        "--seed-only",
        action="store_true",
        help="load only into a database without stores (compose's start-up seeding); a "
        "database that holds a chain is left as it is, prices changed since included",
    )
    return parser.parse_args(argv)


def _print_report(report: LoadReport) -> None:
    rate = report.purchases_read / report.seconds if report.seconds else 0.0
    print(
        f"loaded {report.supermarkets} supermarkets, {report.products} products, "
        f"{report.purchases_read} purchases read: {report.purchases_stored} stored "
        f"({report.lines_stored} lines), {report.purchases_already_stored} already stored"
    )
    print(f"took {report.seconds:.2f} s ({rate:,.0f} purchases/s)")
    if report.warnings:
        print(f"{len(report.warnings)} warning(s):")
        for warning in report.warnings[:MAX_WARNINGS_SHOWN]:
            print(f"  warning: {warning}")


async def run(data_dir: Path, seed_only: bool = False) -> LoadReport | None:
    """Migrate and load; the loader's whole job. None: seeding only, and already seeded."""
    settings = database_settings()
    connection = await connect(settings)
    try:
        applied = await apply_migrations(connection)
        if applied:
            print(f"applied migrations: {', '.join(applied)}")
        passwords = loader_settings().role_passwords()
        await set_role_passwords(connection, passwords)
        if passwords:
            print(f"set the passwords of the roles of: {', '.join(passwords)}")
        if seed_only and await connection.fetchval(HOLDS_A_CHAIN):
            return None
        return await load_chain_data(
            connection, data_dir, open_connection=lambda: connect(settings)
        )
    finally:
        await connection.close()


def main(argv: list[str] | None = None) -> int:
    arguments = _arguments(argv)
    try:
        report = asyncio.run(run(arguments.data_dir, arguments.seed_only))
    except MissingSetting as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except DatabaseUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except LoadRefused as refused:
        print(f"error: {refused}", file=sys.stderr)
        for problem in refused.problems[:MAX_PROBLEMS_SHOWN]:
            print(f"  {problem}", file=sys.stderr)
        if len(refused.problems) > MAX_PROBLEMS_SHOWN:
            print(f"  ... and {len(refused.problems) - MAX_PROBLEMS_SHOWN} more", file=sys.stderr)
        return 1
    if report is None:
        print(
            "the database already holds a chain: nothing loaded (seeding only; to import "
            "files into it, run python -m loader without --seed-only)"
        )
        return 0
    _print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
