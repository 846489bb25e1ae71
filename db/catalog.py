"""The catalog (products with their prices) and the list of stores, held in memory.

Every purchase needs both, and they change rarely, so services read them once and again only
when PostgreSQL says they changed (LISTEN `catalog_changed`, sent by triggers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

import asyncpg

from db.settings import DatabaseSettings
from db.snapshot import NotifiedSnapshot

CATALOG_CHANNEL = "catalog_changed"
PRODUCTS = "SELECT id, name, unit_price FROM products ORDER BY name"
SUPERMARKETS = "SELECT id, time_zone FROM supermarkets ORDER BY id"


@dataclass(frozen=True)
class Product:
    id: int
    name: str
    unit_price: Decimal


@dataclass(frozen=True)
class Catalog:
    """Products by name, the known store ids and each store's time zone, as of one read."""

    products: dict[str, Product] = field(default_factory=dict)
    supermarkets: frozenset[str] = frozenset()
    time_zones: dict[str, str] = field(default_factory=dict)  # IANA name, by store id

    def product_names(self) -> list[str]:
        return sorted(self.products)

    @cached_property
    def names_by_id(self) -> dict[int, str]:
        """Each product's name by its id (a stored sale names its lines by id)."""
        return {product.id: name for name, product in self.products.items()}


async def read_catalog(connection: asyncpg.Connection | asyncpg.Pool) -> Catalog:
    """Read products and stores as they are now."""
    products = await connection.fetch(PRODUCTS)
    supermarkets = await connection.fetch(SUPERMARKETS)
    return Catalog(
        products={
            row["name"]: Product(row["id"], row["name"], row["unit_price"]) for row in products
        },
        supermarkets=frozenset(row["id"] for row in supermarkets),
        time_zones={row["id"]: row["time_zone"] for row in supermarkets},
    )


class CatalogWatcher(NotifiedSnapshot[Catalog]):
    """Keeps `current` equal to the database's catalog, for the life of a service."""

    def __init__(self, settings: DatabaseSettings, pool: asyncpg.Pool) -> None:
        super().__init__(settings, pool, CATALOG_CHANNEL, read_catalog, Catalog())
