"""Properties of a basket and its receipt, for any list of catalog products (hypothesis)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from decimal import Decimal

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cash_register.api import receipt
from cash_register.service import RecordedPurchase, make_basket, record_purchases
from db.catalog import Catalog, Product, read_catalog
from tests.conftest import PostgresUnderTest, read_seed

SEED = read_seed()
NAMES = st.lists(st.sampled_from(sorted(SEED.prices)), min_size=1, max_size=100)


@given(names=NAMES)
def test_a_basket_has_one_line_per_product_with_its_count(names: list[str]) -> None:
    catalog = Catalog(
        {name: Product(i, name, price) for i, (name, price) in enumerate(SEED.prices.items())},
        frozenset(SEED.supermarkets),
    )
    basket = make_basket(catalog, SEED.supermarkets[0], None, names)
    assert [line.product.name for line in basket.lines] == list(dict.fromkeys(names))
    assert {line.product.name: line.quantity for line in basket.lines} == Counter(names)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(baskets=st.lists(NAMES, min_size=1, max_size=8))
def test_receipts_price_every_line_from_the_catalog(
    postgres: PostgresUnderTest, catalog: asyncpg.Connection, baskets: list[list[str]]
) -> None:
    """Whatever the baskets, stored together: each receipt's lines are catalog price times
    count, its total their sum, and the database holds the same."""

    async def check() -> None:
        async with asyncpg.create_pool(postgres.database_url, min_size=1, max_size=2) as pool:
            shop = await read_catalog(pool)
            made = [make_basket(shop, "SMKT002", uuid.uuid4(), names) for names in baskets]
            for recorded, names in zip(await record_purchases(pool, made), baskets, strict=True):
                assert isinstance(recorded, RecordedPurchase)
                answer = receipt(recorded)
                for line in answer["items"]:
                    price = SEED.prices[line["product"]]
                    assert line["unit_price"] == price
                    assert line["quantity"] == names.count(line["product"])
                    assert line["line_total"] == price * line["quantity"]
                expected = sum((SEED.prices[name] for name in names), Decimal(0))
                assert answer["total_amount"] == expected
                stored = await pool.fetchval(
                    "SELECT total_amount FROM purchases WHERE id = $1", recorded.purchase_id
                )
                assert stored == expected

    asyncio.run(check())
