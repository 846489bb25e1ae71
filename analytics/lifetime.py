"""What an analytics process holds for its life, in one typed container."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends
from starlette.requests import HTTPConnection

from db.catalog import CatalogWatcher
from db.settings import DatabaseSettings
from httpkit.app import Part


@dataclass(frozen=True)
class Analytics:
    """The pool, and the list of stores (to check filters), of one worker process."""

    pool: asyncpg.Pool
    catalog: CatalogWatcher

    @classmethod
    def build(cls, database: DatabaseSettings, pool: asyncpg.Pool) -> Analytics:
        return cls(pool=pool, catalog=CatalogWatcher(database, pool))

    def parts(self) -> tuple[Part, ...]:
        return (self.catalog,)

    @property
    def stores(self) -> frozenset[str]:
        return self.catalog.current.supermarkets


def analytics_of(connection: HTTPConnection) -> Analytics:
    """The running process's `Analytics` (set by the lifespan)."""
    held = connection.app.state.analytics
    assert isinstance(held, Analytics)
    return held


Held = Annotated[Analytics, Depends(analytics_of)]
