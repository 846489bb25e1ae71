"""Issuing and revoking keys: each key is shown once and stored only as its hash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from db.access_keys import Kind, key_hash, new_key

ISSUE_TILL_KEY = """
INSERT INTO tills (till_id, supermarket_id, key_hash) VALUES ($1, $2, $3)
ON CONFLICT (till_id) DO UPDATE
    SET supermarket_id = excluded.supermarket_id, key_hash = excluded.key_hash,
        created_at = now(), last_used_at = NULL, revoked_at = NULL
"""
ISSUE_OWNER_KEY = """
INSERT INTO owners (name, supermarket_id, key_hash) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE
    SET supermarket_id = excluded.supermarket_id, key_hash = excluded.key_hash,
        created_at = now(), last_used_at = NULL, revoked_at = NULL
"""
REVOKE = {
    "till": "UPDATE tills SET revoked_at = now() WHERE till_id = $1 AND revoked_at IS NULL",
    "owner": "UPDATE owners SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL",
}
LIST = """
SELECT 'till' AS kind, till_id AS name, supermarket_id, created_at, last_used_at, revoked_at
FROM tills
UNION ALL
SELECT 'owner', name, supermarket_id, created_at, last_used_at, revoked_at FROM owners
ORDER BY kind DESC, name
"""


class KeyRefused(Exception):
    """The key cannot be issued or revoked as asked; the message says why."""


@dataclass(frozen=True)
class KeyHolder:
    kind: str
    name: str
    supermarket_id: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


async def issue(
    connection: asyncpg.Connection, kind: Kind, name: str, supermarket_id: str | None
) -> str:
    """A new key for the till or owner `name` (replacing any earlier one); returns the key."""
    key = new_key(kind)
    statement = ISSUE_TILL_KEY if kind == "till" else ISSUE_OWNER_KEY
    try:
        await connection.execute(statement, name, supermarket_id, key_hash(key))
    except asyncpg.ForeignKeyViolationError:
        raise KeyRefused(f"unknown supermarket {supermarket_id!r}") from None
    except asyncpg.CheckViolationError:
        raise KeyRefused(f"{kind} name {name!r}: 1 to 64 of A-Z a-z 0-9 _ . -") from None
    return key


async def revoke(connection: asyncpg.Connection, kind: Kind, name: str) -> None:
    status = await connection.execute(REVOKE[kind], name)
    if status.split()[-1] == "0":
        raise KeyRefused(f"no live key for {kind} {name!r}")


async def holders(connection: asyncpg.Connection) -> list[KeyHolder]:
    return [KeyHolder(**dict(row)) for row in await connection.fetch(LIST)]
