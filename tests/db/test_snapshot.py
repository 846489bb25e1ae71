"""A snapshot held in memory follows its table: a notice that arrives while it is being read
is not lost (the read starts again)."""

from __future__ import annotations

import asyncio

import asyncpg

from db.settings import database_settings
from db.snapshot import NotifiedSnapshot


async def test_a_notice_during_a_read_reads_again(pool: asyncpg.Pool) -> None:
    reads: list[int] = []
    noticed_during_read = asyncio.Event()

    async def read(connection: asyncpg.Pool) -> int:
        reads.append(len(reads))
        if len(reads) == 2:  # the listener's first read: a change commits while it runs
            await connection.execute("NOTIFY snapshot_test")
            await asyncio.sleep(0.2)  # the notice arrives before this read returns
            noticed_during_read.set()
        return len(reads)

    snapshot = NotifiedSnapshot(database_settings(), pool, "snapshot_test", read, 0)
    await snapshot.start()
    try:
        await asyncio.wait_for(noticed_during_read.wait(), 5)
        for _ in range(100):
            if len(reads) >= 3:
                break
            await asyncio.sleep(0.02)
    finally:
        await snapshot.stop()
    assert len(reads) >= 3, "the notice that came during a read was lost"
    assert snapshot.current == len(reads)
