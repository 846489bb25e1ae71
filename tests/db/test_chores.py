"""A background chore outlives a database outage however the outage reaches it: as asyncpg's
own error, or as the services' DatabaseUnreachable from a pooled connection (which once ended
the chore for good: the automatic closing of tills, the durability watch)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from db.chores import PeriodicChore
from db.pool import pooled_connection
from db.settings import database_tuning
from devtools.embedded_postgres import free_port


async def test_a_chore_goes_on_after_the_database_was_unreachable(
    monkeypatch: pytest.MonkeyPatch, postgres: object
) -> None:
    monkeypatch.setenv("CHORE_RETRY_SECONDS", "0.05")
    database_tuning.cache_clear()
    # A pool whose server is gone: nothing listens on its port.
    gone = await asyncpg.create_pool(
        f"postgresql://postgres@127.0.0.1:{free_port()}/postgres", min_size=0, max_size=1
    )
    outcomes: list[str] = []
    done = asyncio.Event()

    async def work() -> None:
        if len(outcomes) < 2:
            outcomes.append("unreachable")
            async with pooled_connection(gone):
                pass
        outcomes.append("done")
        done.set()

    chore = PeriodicChore("test-chore", 0.01, work)
    try:
        await chore.start()
        await asyncio.wait_for(done.wait(), 5)
    finally:
        await chore.stop()
        await gone.close()
        database_tuning.cache_clear()
    assert outcomes[:3] == ["unreachable", "unreachable", "done"]
