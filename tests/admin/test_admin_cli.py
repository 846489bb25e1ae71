"""`python -m admin`: issue, revoke and list keys; a key is shown once, stored as a hash."""

from __future__ import annotations

import hashlib

import asyncpg

from tests.conftest import PostgresUnderTest
from tests.ledger.chains import admin
from tests.rows import pairs


async def test_keys_are_issued_listed_and_revoked(
    catalog: asyncpg.Connection, postgres: PostgresUnderTest
) -> None:
    url = postgres.database_url
    till = admin(url, "till-key", "--store", "SMKT001", "--till", "till-07")
    assert till.returncode == 0, till.stderr
    till_key = till.stdout.strip().splitlines()[-1]
    assert till_key.startswith("till_")
    manager = admin(url, "owner-key", "--name", "alice", "--store", "SMKT002")
    manager_key = manager.stdout.strip().splitlines()[-1]
    stored = pairs(await catalog.fetch("SELECT till_id, key_hash FROM tills"))
    assert stored["till-07"] == hashlib.sha256(till_key.encode()).digest()

    listing = admin(url, "list").stdout
    assert "till-07" in listing
    assert "alice" in listing
    assert "SMKT002" in listing
    assert till_key not in listing
    assert manager_key not in listing

    assert admin(url, "revoke", "--till", "till-07").returncode == 0
    assert "REVOKED" in admin(url, "list").stdout
    assert admin(url, "revoke", "--till", "till-07").returncode == 1


async def test_a_till_of_an_unknown_store_is_refused(
    catalog: asyncpg.Connection, postgres: PostgresUnderTest
) -> None:
    result = admin(postgres.database_url, "till-key", "--store", "SMKT404", "--till", "t1")
    assert result.returncode == 1
    assert "SMKT404" in result.stderr
    assert await catalog.fetchval("SELECT count(*) FROM tills") == 0
