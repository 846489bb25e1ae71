"""A database of its own, migrated up to (not including) a given migration, for tests of what a
migration does to a database that already holds data."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from db.migrate import migration_files
from tests.conftest import PostgresUnderTest, _with_database


@asynccontextmanager
async def migrated_before(
    postgres: PostgresUnderTest, number: str
) -> AsyncIterator[tuple[asyncpg.Connection, Path]]:
    """A fresh database with every migration before `number` ("005") applied; yields the
    owner's connection and that migration's file. The database is dropped afterwards."""
    name = f"migration_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(postgres.admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    connection = await asyncpg.connect(_with_database(postgres.admin_url, name))
    try:
        for path in (p for p in migration_files() if p.stem < number):
            await connection.execute(path.read_text())
        [migration] = [p for p in migration_files() if p.stem.startswith(number)]
        yield connection, migration
    finally:
        await connection.close()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
