"""What an analytics process holds for its life, in one typed container."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Response
from starlette.requests import HTTPConnection, Request

from analytics.counting import SalesCounted
from analytics.read_slots import ReadSlots
from analytics.settings import analytics_settings
from analytics.visitors import Visitors
from db.access_keys import AccessKeys, keys_last_used
from db.catalog import CatalogWatcher
from db.chores import PeriodicChore
from db.replica import PrimaryReads, Reads, ReplicaReads, as_of_header
from db.screen_sessions import ScreenSessions
from db.settings import DatabaseSettings, database_tuning
from db.snapshot import NotifiedSnapshot
from httpkit.app import Part
from httpkit.observing import Ready, pool_in_use, ready_when


@dataclass(frozen=True)
class Analytics:
    """One worker process's pools, the list of stores (to check filters) and the keys.

    `primary` is the pool on the primary: the catalog and keys are read and followed there (a
    standby receives no NOTIFY) and key use is written there. `reads` chooses where the data
    answers come from: the replica when one is configured and keeps up, else the primary.
    """

    primary: asyncpg.Pool
    reads: Reads
    catalog: CatalogWatcher
    keys: AccessKeys
    sessions: ScreenSessions
    visitors: Visitors
    read_slots: ReadSlots
    counted: SalesCounted
    chores: tuple[PeriodicChore, ...]

    @classmethod
    def build(
        cls, database: DatabaseSettings, primary: asyncpg.Pool, replica: asyncpg.Pool | None
    ) -> Analytics:
        keys = AccessKeys(database, primary)
        reads: Reads = (
            PrimaryReads(primary)
            if replica is None
            else ReplicaReads(
                replica,
                primary,
                database.replica_max_lag_seconds,
                database.replica_check_every_seconds,
            )
        )
        return cls(
            primary=primary,
            reads=reads,
            catalog=CatalogWatcher(database, primary),
            keys=keys,
            sessions=ScreenSessions(primary),
            visitors=Visitors(reads),
            read_slots=ReadSlots(
                analytics_settings().analytics_concurrent_reads,
                database_tuning().db_pool_acquire_timeout_seconds,
            ),
            counted=SalesCounted(primary),
            chores=(
                pool_in_use(primary),
                keys_last_used(keys, database.keys_last_used_every_seconds),
            ),
        )

    async def readiness(self) -> Ready:
        """Why this worker should get no traffic now (empty: ready): the database it reads
        from now must answer. A replica that is down or behind is reported, not a reason:
        the primary answers meanwhile."""
        loaded: dict[str, NotifiedSnapshot[Any]] = {"catalog": self.catalog, "keys": self.keys}
        return Ready(await ready_when(self.reads.pool(), loaded, False), self.reads.facts())

    def parts(self) -> tuple[Part, ...]:
        return (self.catalog, self.keys, self.reads, self.visitors, *self.chores)

    @property
    def stores(self) -> frozenset[str]:
        return self.catalog.current.supermarkets

    def time_zones(self, store: str | None) -> dict[str, str]:
        """The time zone of the store in view (none for a store that does not exist: the
        filters refuse it), or of every store."""
        zones = self.catalog.current.time_zones
        if store is None:
            return dict(sorted(zones.items()))
        return {store: zones[store]} if store in zones else {}


async def readiness(request: Request) -> Ready:
    """/readyz of the analytics: not ready until its lifespan has built it."""
    held = getattr(request.app.state, "analytics", None)
    return await held.readiness() if isinstance(held, Analytics) else Ready(["starting"])


def analytics_of(connection: HTTPConnection) -> Analytics:
    """The running process's `Analytics` (set by the lifespan)."""
    held = connection.app.state.analytics
    assert isinstance(held, Analytics)
    return held


Held = Annotated[Analytics, Depends(analytics_of)]


async def data_source(
    connection: HTTPConnection, response: Response
) -> AsyncIterator[asyncpg.Pool]:
    """The pool this data answer reads from, with one of the worker's read slots held while it
    asks, once the waiting sales are counted; the answer says which database it was
    (`X-Data-Source`) and that it holds every sale committed before `X-Data-As-Of`."""
    held = analytics_of(connection)
    async with held.read_slots.held():
        source, as_of = held.reads.source()
        counted_through = await held.counted.before_answer(source == "replica")
        response.headers["X-Data-Source"] = source
        response.headers["X-Data-As-Of"] = as_of_header(min(as_of, counted_through))
        yield held.reads.pool()


Source = Annotated[asyncpg.Pool, Depends(data_source)]
