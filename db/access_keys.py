"""Access keys of tills and owners: issued as random tokens, stored as hashes, learned by hash.

A key is shown once, when issued; the database keeps its SHA-256 only. A service cannot list
the keys: it asks whom a key belongs to with the key's hash (`live_credentials`, a function
of the owner's), which only a caller holding the key can give, and keeps the answer in
memory, so each key costs one round trip for the life of the process. On NOTIFY
access_changed (a key issued, replaced or revoked) it asks again for every hash it holds,
so a revocation reaches it within a moment. A string that is not shaped like a key is
refused without asking. When a key was last used is gathered in memory and written every few
seconds, by hash: a service marks only keys that were shown to it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Literal

import asyncpg

from db.chores import PeriodicChore
from db.pool import pooled_connection
from db.settings import DatabaseSettings
from db.snapshot import NotifiedSnapshot

ACCESS_CHANNEL = "access_changed"
Kind = Literal["till", "owner"]

# Whom the keys of these hashes belong to, for the live ones among them.
CREDENTIALS = "SELECT key_hash, kind, name, supermarket_id FROM live_credentials($1::bytea[])"
# Through a function of the owner's: the services may write nothing else of the keys, and the
# analytics write only in the read-write transaction opened for this.
KEYS_USED = "SELECT record_key_use($1::bytea[])"
# What `new_key` makes: the kind, an underscore, 256 bits in URL-safe base64 (43 characters).
KEY_SHAPE = re.compile(r"(?:till|owner)_[A-Za-z0-9_-]{43}")


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


async def read_credentials(pool: asyncpg.Pool, hashes: list[bytes]) -> dict[bytes, Credential]:
    """Whom the live keys among these hashes belong to (the others are unknown or revoked)."""
    if not hashes:
        return {}
    async with pooled_connection(pool) as connection:
        rows = await connection.fetch(CREDENTIALS, hashes)
    return {
        row["key_hash"]: Credential(row["kind"], row["name"], row["supermarket_id"]) for row in rows
    }


class AccessKeys(NotifiedSnapshot[dict[bytes, Credential]]):
    """The keys this process has been shown, for its life; also notes which were used."""

    def __init__(self, settings: DatabaseSettings, pool: asyncpg.Pool) -> None:
        super().__init__(settings, pool, ACCESS_CHANNEL, self._ask_again, {})
        self._pool_for_use = pool
        self._used: set[bytes] = set()
        # Counts the re-reads begun: an answer asked for before one began may predate a
        # revocation, so it is used for its request but not kept.
        self._generation = 0

    async def _ask_again(self, pool: asyncpg.Pool) -> dict[bytes, Credential]:
        """After a change: the keys known so far that are still live."""
        self._generation += 1
        return await read_credentials(pool, list(self.current))

    async def find(self, key: str) -> Credential | None:
        """Whom `key` belongs to, or None for an unknown or revoked key (or no key at all)."""
        if KEY_SHAPE.fullmatch(key) is None:
            return None
        return await self.find_hash(key_hash(key))

    async def find_hash(self, hashed: bytes) -> Credential | None:
        """Whom the key of this hash belongs to (a screen session's), or None: revoked."""
        credential = self.current.get(hashed)
        if credential is None:
            asked_in = self._generation
            credential = (await read_credentials(self._pool_for_use, [hashed])).get(hashed)
            if credential is not None and asked_in == self._generation:
                self.current[hashed] = credential
        if credential is not None:
            self._used.add(hashed)
        return credential

    async def write_last_used(self) -> None:
        """Record when the keys used since the last call were used (a chore)."""
        used, self._used = self._used, set()
        if not used:
            return
        async with self._pool_for_use.acquire() as connection:
            await connection.execute("BEGIN READ WRITE")
            try:
                await connection.execute(KEYS_USED, list(used))
            except BaseException:
                await connection.execute("ROLLBACK")
                raise
            await connection.execute("COMMIT")


def keys_last_used(keys: AccessKeys, every_seconds: float) -> PeriodicChore:
    """Writes when keys were last used, every `every_seconds`."""
    return PeriodicChore("keys-last-used", every_seconds, keys.write_last_used)
