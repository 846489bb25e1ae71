"""How many copies a sale has when it is acknowledged, and how the backups are going.

With a synchronous standby, PostgreSQL acknowledges a commit only once the standby has it:
the sale is on two machines. When the standby is down, the HA manager (Patroni) lets the
primary go on alone rather than stop the tills: sales are then on one copy, which the
operators must hear about at once. `DurabilityWatch` asks the database every few seconds and
keeps the answer for /readyz and the metrics: the synchronous standbys streaming now, WAL
archiving failures, and the age of the last backup `python -m backup` recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from db.chores import PeriodicChore
from db.errors import OUTAGE_ERRORS
from db.pool import pooled_connection

log = logging.getLogger(__name__)

DATABASE_SAFETY = "SELECT * FROM database_safety()"


@dataclass(frozen=True)
class Durability:
    """One reading: `copies` is 1 plus the synchronous standbys that have each commit."""

    copies: int
    expected_copies: int
    archive_failures: int
    last_archive_failure: datetime | None
    last_backup_at: datetime | None
    as_of: datetime

    @property
    def on_one_copy(self) -> bool:
        return self.copies < min(self.expected_copies, 2)

    @property
    def backup_age_seconds(self) -> float | None:
        if self.last_backup_at is None:
            return None
        return (self.as_of - self.last_backup_at).total_seconds()

    def warnings(self) -> list[str]:
        """What /readyz says while the service still takes sales."""
        if self.on_one_copy:
            return [
                "sales are on one copy: no synchronous standby is streaming, "
                "the primary acknowledges sales alone"
            ]
        return []


class DurabilityWatch:
    """Reads `database_safety()` every `every_seconds`; `reading` is None until it has."""

    def __init__(self, pool: asyncpg.Pool, expected_copies: int, every_seconds: float) -> None:
        self._pool = pool
        self._expected = expected_copies
        self.reading: Durability | None = None
        self.on_reading: Callable[[Durability], None] = lambda _: None
        self.chore = PeriodicChore("durability", every_seconds, self.check)

    async def check(self) -> None:
        """Read now. While the database is away (a failover) the last reading stands and the
        next try comes at the usual interval, not after a chore's long retry pause."""
        try:
            async with pooled_connection(self._pool) as connection:
                row = await connection.fetchrow(DATABASE_SAFETY)
        except OUTAGE_ERRORS as error:
            log.info("durability not read: %s", error)
            return
        assert row is not None
        reading = Durability(
            copies=1 + int(row["synchronous_standbys"]),
            expected_copies=self._expected,
            archive_failures=int(row["archive_failures"]),
            last_archive_failure=row["last_archive_failure"],
            last_backup_at=row["last_backup_at"],
            as_of=datetime.now(UTC),
        )
        was = self.reading
        if reading.on_one_copy and (was is None or not was.on_one_copy):
            log.warning("sales are on one copy: no synchronous standby is streaming")
        elif was is not None and was.on_one_copy and not reading.on_one_copy:
            log.warning("sales are on %d copies again", reading.copies)
        self.reading = reading
        self.on_reading(reading)

    async def start(self) -> None:
        await self.chore.start()

    async def stop(self) -> None:
        await self.chore.stop()

    def facts(self) -> dict[str, object]:
        """What /readyz adds where a standby is expected (one database has nothing to say)."""
        reading = self.reading
        if reading is None or self._expected < 2:
            return {}
        return {
            "sale_copies": reading.copies,
            "sale_copies_expected": reading.expected_copies,
            "warnings": reading.warnings(),
        }
