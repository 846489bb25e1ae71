"""What an analytics process holds for its life, in one typed container."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends
from starlette.requests import HTTPConnection, Request

from db.access import AccessKeys, keys_last_used
from db.catalog import CatalogWatcher
from db.chores import PeriodicChore
from db.settings import DatabaseSettings
from httpkit.app import Part
from httpkit.observing import pool_in_use, ready_when


@dataclass(frozen=True)
class Analytics:
    """The pool, and the list of stores (to check filters), of one worker process."""

    pool: asyncpg.Pool
    catalog: CatalogWatcher
    keys: AccessKeys
    chores: tuple[PeriodicChore, ...]

    @classmethod
    def build(cls, database: DatabaseSettings, pool: asyncpg.Pool) -> Analytics:
        keys = AccessKeys(database, pool)
        return cls(
            pool=pool,
            catalog=CatalogWatcher(database, pool),
            keys=keys,
            chores=(pool_in_use(pool), keys_last_used(keys, database.keys_last_used_every_seconds)),
        )

    async def readiness(self) -> list[str]:
        """Why this worker should get no traffic now (empty: ready)."""
        return await ready_when(self.pool, {"catalog": self.catalog, "keys": self.keys}, False)

    def parts(self) -> tuple[Part, ...]:
        return (self.catalog, self.keys, *self.chores)

    @property
    def stores(self) -> frozenset[str]:
        return self.catalog.current.supermarkets


async def readiness(request: Request) -> list[str]:
    """/readyz of the analytics: not ready until its lifespan has built it."""
    held = getattr(request.app.state, "analytics", None)
    return await held.readiness() if isinstance(held, Analytics) else ["starting"]


def analytics_of(connection: HTTPConnection) -> Analytics:
    """The running process's `Analytics` (set by the lifespan)."""
    held = connection.app.state.analytics
    assert isinstance(held, Analytics)
    return held


Held = Annotated[Analytics, Depends(analytics_of)]
