"""The screens' sessions, kept in the database so every worker and every cash register
knows them: started at sign-in, checked on every request a screen makes, ended at sign-out,
expired after their hours, and dead with the key they were opened with.

The browser holds only a random session id and a CSRF token; the database holds their
SHA-256 hashes, so its rows open no session.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from db.access_keys import Kind, key_hash
from db.pool import pooled_connection

START = "SELECT start_screen_session($1, $2, $3, $4, $5)"
LIVE = "SELECT key_hash, csrf_hash FROM live_screen_session($1)"
END = "SELECT end_screen_session($1)"


def _hashed(token: str) -> bytes:
    """What the database keeps of a session id or a CSRF token (as of a key): its SHA-256."""
    return key_hash(token)


@dataclass(frozen=True)
class StartedSession:
    """What the browser gets at sign-in: its session id and the session's CSRF token."""

    session_id: str
    csrf_token: str


@dataclass(frozen=True)
class LiveSession:
    """A session that has neither ended nor expired: the key it was opened with, and its
    CSRF token's hash (to check a request's token against, in constant time)."""

    key_hash: bytes
    csrf_hash: bytes

    def csrf_matches(self, token: str) -> bool:
        return hmac.compare_digest(self.csrf_hash, _hashed(token))


class ScreenSessions:
    """The sessions of one service, through the pool on the primary (a session is written)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def start(self, key: str, kind: Kind, lasting: timedelta) -> StartedSession:
        started = StartedSession(secrets.token_urlsafe(32), secrets.token_urlsafe(24))
        await self._write(
            START,
            _hashed(started.session_id),
            key_hash(key),
            _hashed(started.csrf_token),
            kind,
            lasting,
        )
        return started

    async def live(self, session_id: str) -> LiveSession | None:
        async with pooled_connection(self._pool) as connection:
            row = await connection.fetchrow(LIVE, _hashed(session_id))
        return None if row is None else LiveSession(row["key_hash"], row["csrf_hash"])

    async def end(self, session_id: str) -> None:
        await self._write(END, _hashed(session_id))

    async def _write(self, statement: str, *arguments: object) -> None:
        """In a read-write transaction: the analytics' role reads only by default."""
        async with pooled_connection(self._pool) as connection:
            await connection.execute("BEGIN READ WRITE")
            try:
                await connection.execute(statement, *arguments)
            except BaseException:
                await connection.execute("ROLLBACK")
                raise
            await connection.execute("COMMIT")
