"""Schema migrations: numbered plain SQL files in `db/migrations/`, applied in order, once.

Each file runs in its own transaction and is recorded in `schema_migrations`; an advisory
lock makes two processes that migrate at the same moment (two containers starting) safe.
Run it alone with `python -m db.migrate`; the loader runs it before every load.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from db.locks import AdvisoryLock

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
APPLIED_VERSIONS = "SELECT version FROM schema_migrations"
RECORD_VERSION = "INSERT INTO schema_migrations (version) VALUES ($1)"


def migration_files() -> list[Path]:
    """The migration files in the order they must run (by their number)."""
    return sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9]_*.sql"))


async def apply_migrations(connection: asyncpg.Connection) -> list[str]:
    """Apply every migration not yet recorded; return the names of those applied now."""
    applied_now: list[str] = []
    await connection.execute("SELECT pg_advisory_lock($1)", AdvisoryLock.MIGRATIONS)
    try:
        await connection.execute(CREATE_LEDGER)
        done = {row["version"] for row in await connection.fetch(APPLIED_VERSIONS)}
        for path in migration_files():
            if path.stem in done:
                continue
            async with connection.transaction():
                await connection.execute(path.read_text(encoding="utf-8"))
                await connection.execute(RECORD_VERSION, path.stem)
            applied_now.append(path.stem)
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", AdvisoryLock.MIGRATIONS)
    return applied_now


async def _main() -> None:
    from db.pool import connect
    from db.settings import database_settings

    connection = await connect(database_settings())
    try:
        applied = await apply_migrations(connection)
    finally:
        await connection.close()
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none needed'}")


if __name__ == "__main__":
    asyncio.run(_main())
