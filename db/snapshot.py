"""A table's contents held in memory for a service's life, read again when PostgreSQL says they
changed (LISTEN on a channel that triggers NOTIFY). After a lost connection the watcher reads
them again, since a notice may have been missed meanwhile.

The catalog and the access keys are both kept this way: every request needs them, they change
rarely, and a change must reach every process within a moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import asyncpg

from db.errors import CONNECTION_ERRORS, DATABASE_ERRORS
from db.pool import connect
from db.settings import DatabaseSettings

log = logging.getLogger(__name__)
Held = TypeVar("Held")


class NotifiedSnapshot(Generic[Held]):
    """Keeps `current` equal to what `read` returns, re-reading on each notice of `channel`."""

    def __init__(
        self,
        settings: DatabaseSettings,
        pool: asyncpg.Pool,
        channel: str,
        read: Callable[[asyncpg.Pool], Awaitable[Held]],
        empty: Held,
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._channel = channel
        self._read = read
        self.current = empty
        self.loaded = False  # read at least once (the services' /readyz asks)
        # Told of each read after a change notice (a service's metrics); nothing by default.
        self.on_reload: Callable[[], None] = lambda: None
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def start(self) -> None:
        """Read now, then follow the changes in the background."""
        self.current = await self._read(self._pool)
        self.loaded = True
        self._task = asyncio.create_task(self._follow(), name=f"{self._channel}-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def refresh(self) -> None:
        """Read again now (also after a notice)."""
        self.current = await self._read(self._pool)
        self.on_reload()

    async def _follow(self) -> None:
        while True:
            try:
                await self._listen_until_disconnected()
            except asyncio.CancelledError:
                raise
            except DATABASE_ERRORS as error:
                log.warning("%s watcher lost PostgreSQL, retrying: %s", self._channel, error)
            await asyncio.sleep(self._settings.catalog_reconnect_seconds)

    async def _listen_until_disconnected(self) -> None:
        connection = await connect(self._settings)
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        try:
            await connection.add_listener(self._channel, self._on_notice)
            self._changed.set()  # read once now: whatever changed while we were not listening
            while not lost.is_set():
                if self._changed.is_set():
                    # Cleared before the read: a notice that arrives during it reads again.
                    self._changed.clear()
                    await self.refresh()
                    continue
                changed = asyncio.create_task(self._changed.wait())
                gone = asyncio.create_task(lost.wait())
                await asyncio.wait({changed, gone}, return_when=asyncio.FIRST_COMPLETED)
                changed.cancel()
                gone.cancel()
        finally:
            with contextlib.suppress(*CONNECTION_ERRORS):
                await connection.close(timeout=2)

    def _on_notice(self, *_: object) -> None:
        self._changed.set()
