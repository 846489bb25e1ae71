"""The catalog (products with their prices) and the list of stores, held in memory.

Every purchase needs both, and they change rarely, so services read them once and again only
when PostgreSQL says they changed (LISTEN `catalog_changed`, sent by triggers). After a lost
connection the watcher reads them again, since a notice may have been missed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from decimal import Decimal

import asyncpg

from db.errors import CONNECTION_ERRORS
from db.pool import connect
from db.settings import DatabaseSettings

log = logging.getLogger(__name__)

CATALOG_CHANNEL = "catalog_changed"
PRODUCTS = "SELECT id, name, unit_price FROM products ORDER BY name"
SUPERMARKETS = "SELECT id FROM supermarkets ORDER BY id"


@dataclass(frozen=True)
class Product:
    id: int
    name: str
    unit_price: Decimal


@dataclass(frozen=True)
class Catalog:
    """Products by name and the known store ids, as of one read."""

    products: dict[str, Product] = field(default_factory=dict)
    supermarkets: frozenset[str] = frozenset()

    def product_names(self) -> list[str]:
        return sorted(self.products)


async def read_catalog(connection: asyncpg.Connection | asyncpg.Pool) -> Catalog:
    """Read products and stores as they are now."""
    products = await connection.fetch(PRODUCTS)
    supermarkets = await connection.fetch(SUPERMARKETS)
    return Catalog(
        products={
            row["name"]: Product(row["id"], row["name"], row["unit_price"]) for row in products
        },
        supermarkets=frozenset(row["id"] for row in supermarkets),
    )


class CatalogWatcher:
    """Keeps `current` equal to the database's catalog, for the life of a service."""

    def __init__(self, settings: DatabaseSettings, pool: asyncpg.Pool) -> None:
        self._settings = settings
        self._pool = pool
        self.current = Catalog()
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def start(self) -> None:
        """Read the catalog now, then follow its changes in the background."""
        self.current = await read_catalog(self._pool)
        self._task = asyncio.create_task(self._follow(), name="catalog-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def refresh(self) -> None:
        """Read the catalog again now (also after a notice)."""
        self.current = await read_catalog(self._pool)

    async def _follow(self) -> None:
        while True:
            try:
                await self._listen_until_disconnected()
            except asyncio.CancelledError:
                raise
            except (*CONNECTION_ERRORS, asyncpg.PostgresError) as error:
                log.warning("catalog watcher lost PostgreSQL, retrying: %s", error)
            await asyncio.sleep(self._settings.catalog_reconnect_seconds)

    async def _listen_until_disconnected(self) -> None:
        connection = await connect(self._settings)
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        try:
            await connection.add_listener(CATALOG_CHANNEL, self._on_notice)
            await self.refresh()  # whatever changed while we were not listening
            while not lost.is_set():
                self._changed.clear()
                changed = asyncio.create_task(self._changed.wait())
                gone = asyncio.create_task(lost.wait())
                await asyncio.wait({changed, gone}, return_when=asyncio.FIRST_COMPLETED)
                changed.cancel()
                gone.cancel()
                if self._changed.is_set():
                    await self.refresh()
        finally:
            with contextlib.suppress(*CONNECTION_ERRORS):
                await connection.close(timeout=2)

    def _on_notice(self, *_: object) -> None:
        self._changed.set()
