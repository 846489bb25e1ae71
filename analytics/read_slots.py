"""A cap on the data questions one analytics worker sends to the database at once.

Owners share the database with the tills. Each data answer holds a slot while it asks; past
ANALYTICS_CONCURRENT_READS, a question waits for a slot as long as a pooled connection would
be waited for (DB_POOL_ACQUIRE_TIMEOUT_SECONDS), then is a 503 like a busy pool. So a crowd
of owners asking two-year questions takes at most that many of the database's cores from
the tills, whatever the pool's size.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from db.errors import PoolExhausted


class ReadSlots:
    def __init__(self, slots: int, wait_seconds: float) -> None:
        self._slots = asyncio.Semaphore(slots)
        self._wait_seconds = wait_seconds

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """A slot for one data answer, for as long as it asks."""
        try:
            await asyncio.wait_for(self._slots.acquire(), self._wait_seconds)
        except TimeoutError:
            raise PoolExhausted(self._wait_seconds) from None
        try:
            yield
        finally:
            self._slots.release()
