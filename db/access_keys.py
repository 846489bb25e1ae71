"""Access keys of tills and owners: issued as random tokens, stored as hashes, held in memory.

A key is shown once, when issued; the database keeps its SHA-256 only. Services hold every
live key's hash in memory (a `NotifiedSnapshot` re-read on NOTIFY access_changed, so a
revocation reaches them within a moment) and so check a key without a database round trip.
When a key was last used is gathered in memory and written every few seconds.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal

import asyncpg

from db.chores import PeriodicChore
from db.settings import DatabaseSettings
from db.snapshot import NotifiedSnapshot

ACCESS_CHANNEL = "access_changed"
Kind = Literal["till", "owner"]

CREDENTIALS = """
SELECT 'till' AS kind, till_id AS name, supermarket_id, key_hash FROM tills
WHERE revoked_at IS NULL
UNION ALL
SELECT 'owner', name, supermarket_id, key_hash FROM owners WHERE revoked_at IS NULL
"""
# Through a function of the owner's: the services may write nothing else of the keys, and the
# analytics write only in the read-write transaction opened for this.
KEYS_USED = "SELECT record_key_use($1::text[], $2::text[])"


@dataclass(frozen=True)
class Credential:
    """Who a valid key belongs to: a till of one store, or an owner of the chain or a store."""

    kind: Kind
    name: str
    supermarket_id: str | None


def new_key(kind: Kind) -> str:
    """A fresh key: the kind, then 256 random bits."""
    return f"{kind}_{secrets.token_urlsafe(32)}"


def key_hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


async def read_credentials(pool: asyncpg.Pool) -> dict[bytes, Credential]:
    """Every live key's hash with whom it belongs to."""
    return {
        row["key_hash"]: Credential(row["kind"], row["name"], row["supermarket_id"])
        for row in await pool.fetch(CREDENTIALS)
    }


class AccessKeys(NotifiedSnapshot[dict[bytes, Credential]]):
    """The live keys, for the life of a service; also notes which were used."""

    def __init__(self, settings: DatabaseSettings, pool: asyncpg.Pool) -> None:
        super().__init__(settings, pool, ACCESS_CHANNEL, read_credentials, {})
        self._pool_for_use = pool
        self._used: set[Credential] = set()

    def find(self, key: str) -> Credential | None:
        """Whom `key` belongs to, or None for an unknown or revoked key."""
        return self.find_hash(key_hash(key))

    def find_hash(self, hashed: bytes) -> Credential | None:
        """Whom the key of this hash belongs to (a screen session's), or None: revoked."""
        credential = self.current.get(hashed)
        if credential is not None:
            self._used.add(credential)
        return credential

    async def write_last_used(self) -> None:
        """Record when the keys used since the last call were used (a chore)."""
        used, self._used = self._used, set()
        if not used:
            return
        tills = [c.name for c in used if c.kind == "till"]
        owners = [c.name for c in used if c.kind == "owner"]
        async with self._pool_for_use.acquire() as connection:
            await connection.execute("BEGIN READ WRITE")
            try:
                await connection.execute(KEYS_USED, tills, owners)
            except BaseException:
                await connection.execute("ROLLBACK")
                raise
            await connection.execute("COMMIT")


def keys_last_used(keys: AccessKeys, every_seconds: float) -> PeriodicChore:
    """Writes when keys were last used, every `every_seconds`."""
    return PeriodicChore("keys-last-used", every_seconds, keys.write_last_used)
