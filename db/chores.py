"""Background chores of a service: one piece of database work, repeated on a schedule.

A chore that fails because the database is away is logged and tried again after
`CHORE_RETRY_SECONDS`; it never stops the service. Chores have the same start/stop shape as
every other part a service holds for its life.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from db.errors import OUTAGE_ERRORS
from db.settings import database_tuning

log = logging.getLogger(__name__)


class PeriodicChore:
    def __init__(
        self, name: str, every_seconds: float, work: Callable[[], Awaitable[object]]
    ) -> None:
        self.name = name
        self._every_seconds = every_seconds
        self._work = work
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Run the work now, then every `every_seconds`, in the background."""
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self._work()
                await asyncio.sleep(self._every_seconds)
            except asyncio.CancelledError:
                raise
            except OUTAGE_ERRORS as error:
                log.warning("%s failed, retrying: %s", self.name, error)
                await asyncio.sleep(database_tuning().chore_retry_seconds)
