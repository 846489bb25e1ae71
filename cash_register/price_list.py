"""GET /catalog: the stores and the products with their current prices, as a till caches them.

The answer is the same bytes until the catalog changes, so it is built once per catalog
version and tagged with a hash of those bytes: a till that sends the tag back in
`If-None-Match` gets a 304 with no body, and a catalog change (a new price) changes the tag.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson

from db.catalog import Catalog
from shop.settings import shop_settings


@dataclass(frozen=True)
class PriceList:
    catalog: Catalog
    body: bytes
    etag: str

    @classmethod
    def of(cls, catalog: Catalog) -> PriceList:
        body = orjson.dumps(
            {
                "currency": shop_settings().currency,
                "supermarkets": sorted(catalog.supermarkets),
                "products": [
                    {"id": p.id, "name": p.name, "unit_price": str(p.unit_price)}
                    for p in sorted(catalog.products.values(), key=lambda p: p.name)
                ],
            }
        )
        return cls(catalog, body, f'"{hashlib.sha256(body).hexdigest()[:32]}"')

    def matches(self, if_none_match: str | None) -> bool:
        """Whether the till's cached copy (its `If-None-Match`) is this one."""
        if not if_none_match:
            return False
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or self.etag in tags


class PriceLists:
    """The price list of the current catalog, rebuilt only when the catalog changed."""

    def __init__(self) -> None:
        self._last: PriceList | None = None

    def of(self, catalog: Catalog) -> PriceList:
        if self._last is None or self._last.catalog is not catalog:
            self._last = PriceList.of(catalog)
        return self._last
