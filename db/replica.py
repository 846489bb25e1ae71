"""Where the analytics read: a streaming replica while it keeps up, else the primary.

A hot standby answers the owners' questions without taking a connection or a CPU second from
the tills' primary, but it lags: it shows the primary's commits a moment after they happen,
and not at all while it is down. `ReplicaReads` measures that lag every second (one cheap
query on the replica, no privilege needed) and routes each read:

- to the replica while it answers and its lag is at most `REPLICA_MAX_LAG_SECONDS`;
- to the primary otherwise (fallback), so an owner gets a correct answer rather than a 503 or
  an old one, and back to the replica as soon as it has caught up.

The lag is 0 while the replica's WAL receiver is streaming and it has replayed all it has
received; else it is the time since the last commit it replayed (or since it was last seen
caught up, if later). "Data as of" is the time of the check minus that lag: every commit the
primary made before it is in the answer (to within the network's delay).

With no replica configured, `PrimaryReads` reads the one database, whose data is current.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg

from db.chores import PeriodicChore
from db.errors import DATABASE_ERRORS, DatabaseUnavailable
from db.pool import one_row, pooled_connection
from db.settings import database_tuning

# What a replica's check survives and reports: the replica refusing, gone, or not answering.
REPLICA_ERRORS: tuple[type[Exception], ...] = (DatabaseUnavailable, *DATABASE_ERRORS)

log = logging.getLogger(__name__)

# One round trip: is it a standby, what it last replayed, and has it replayed all it received
# from a live WAL receiver (the view shows a non-privileged role the receiver's pid only).
REPLICA_LAG = """
SELECT pg_is_in_recovery() AS standby,
       statement_timestamp() AS checked_at,
       pg_last_xact_replay_timestamp() AS replayed_at,
       coalesce(pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn(), false)
           AND EXISTS (SELECT FROM pg_stat_wal_receiver) AS caught_up
"""


@dataclass(frozen=True)
class ReplicaState:
    """The replica at the last check: its lag (None: unknown, or it did not answer)."""

    lag_seconds: float | None
    as_of: datetime | None
    problem: str | None  # why reads go to the primary; None: they go to the replica

    @property
    def usable(self) -> bool:
        return self.problem is None


def measured(
    row: Mapping[str, Any] | asyncpg.Record,
    max_lag_seconds: float,
    caught_up_before: datetime | None,
) -> ReplicaState:
    """What one `REPLICA_LAG` answer says about the replica.

    Behind, its data is as of its last replayed commit, or of the last check that found it
    caught up if that was later (after a quiet hour, the first new sale must not make a
    replica that is a millisecond behind look an hour behind).
    """
    checked_at: datetime = row["checked_at"]
    if not row["standby"] or row["caught_up"]:
        return ReplicaState(0.0, checked_at, None)
    known = [moment for moment in (row["replayed_at"], caught_up_before) if moment is not None]
    if not known:
        return ReplicaState(None, None, "replica has replayed nothing since it started")
    as_of = max(known)
    lag = max((checked_at - as_of).total_seconds(), 0.0)
    if lag > max_lag_seconds:
        return ReplicaState(lag, as_of, f"replica {lag:.1f} s behind (limit {max_lag_seconds:g} s)")
    return ReplicaState(lag, as_of, None)


class Reads(Protocol):
    """Where a data answer is read from, and how fresh it is."""

    def pool(self) -> asyncpg.Pool: ...

    def source(self) -> tuple[str, datetime]:
        """Which database answers ("replica" or "primary") and as of when."""
        ...

    def facts(self) -> dict[str, Any]:
        """What /health and /readyz say about the reads."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class PrimaryReads:
    """No replica: the one database answers, and it is current."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    def pool(self) -> asyncpg.Pool:
        return self._pool

    def source(self) -> tuple[str, datetime]:
        return "primary", datetime.now(UTC)

    def facts(self) -> dict[str, Any]:
        return {"reads_from": "primary"}

    async def start(self) -> None:
        """Nothing to watch."""

    async def stop(self) -> None:
        """Nothing to stop."""


class ReplicaReads:
    """Reads from `replica` while it keeps up, else from `primary`; re-checked each second."""

    def __init__(
        self,
        replica: asyncpg.Pool,
        primary: asyncpg.Pool,
        max_lag_seconds: float,
        every_seconds: float,
    ) -> None:
        self._replica = replica
        self._primary = primary
        self._max_lag_seconds = max_lag_seconds
        self._answer_within = database_tuning().db_health_timeout_seconds
        self.state = ReplicaState(None, None, "replica not checked yet")
        self._caught_up_at: datetime | None = None
        # Told of each check (a service's metrics): the lag, and whether reads fell back.
        self.on_check: Callable[[ReplicaState], None] = lambda _: None
        self.watch = PeriodicChore("replica-lag", every_seconds, self.check)

    async def check(self) -> None:
        """Measure the lag now; route reads by it. Never raises for a missing replica."""
        try:
            async with pooled_connection(self._replica) as connection:
                row = await connection.fetchrow(REPLICA_LAG, timeout=self._answer_within)
            state = measured(one_row(row), self._max_lag_seconds, self._caught_up_at)
            if state.lag_seconds == 0:
                self._caught_up_at = state.as_of
        except REPLICA_ERRORS as error:
            state = ReplicaState(None, None, f"replica not answering: {error}")
        if state.usable != self.state.usable:
            if state.usable:
                log.warning("analytics read the replica again (lag %.1f s)", state.lag_seconds)
            else:
                log.warning("analytics read the primary: %s", state.problem)
        self.state = state
        self.on_check(state)

    def pool(self) -> asyncpg.Pool:
        return self._replica if self.state.usable else self._primary

    def source(self) -> tuple[str, datetime]:
        state = self.state
        if state.usable and state.as_of is not None:
            return "replica", state.as_of
        return "primary", datetime.now(UTC)

    def facts(self) -> dict[str, Any]:
        state = self.state
        facts: dict[str, Any] = {
            "reads_from": "replica" if state.usable else "primary",
            "replication_lag_seconds": (
                round(state.lag_seconds, 3) if state.lag_seconds is not None else None
            ),
            "replica_max_lag_seconds": self._max_lag_seconds,
        }
        if state.problem is not None:
            facts["replica"] = f"{state.problem}; reading from the primary"
        return facts

    async def start(self) -> None:
        """Check now and every second after, in the background; until the first check the
        reads go to the primary, which is never wrong."""
        await self.watch.start()

    async def stop(self) -> None:
        await self.watch.stop()


def as_of_header(moment: datetime) -> str:
    """A moment as the `X-Data-As-Of` header says it: RFC 3339 in UTC, to the millisecond."""
    utc = moment.astimezone(UTC)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")
