"""Each service connects as its own role holding the least it needs; sales are append-only
for everyone but an explicit maintenance session."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from db.access_keys import CREDENTIALS, key_hash
from db.roles import ReaderLimitsLifted, check_reader_limits
from tests.conftest import PostgresUnderTest
from tests.keys import ChainKeys, till_name

# As the cash register's statement writes a sale: the id from the sequence, nothing read back
# from the sales (the role may not read them).
SALE = """
WITH n AS (SELECT nextval('purchases_id_seq') AS id, now() AS at),
p AS (
    INSERT INTO purchases (id, purchased_at, supermarket_id, customer_id, total_amount)
    SELECT id, at, 'SMKT001', $1, 1.50 FROM n
)
INSERT INTO purchase_items (purchase_id, purchased_at, supermarket_id, product_id, quantity,
                            unit_price)
SELECT id, at, 'SMKT001', (SELECT min(id) FROM products), 1, 1.50 FROM n
"""


async def as_role(service: str) -> asyncpg.Connection:
    return await asyncpg.connect(os.environ[f"{service.upper()}_DATABASE_URL"])


@pytest.fixture
async def cash_register_role(catalog: asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    connection = await as_role("cash_register")
    yield connection
    await connection.close()


@pytest.fixture
async def analytics_role(catalog: asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    connection = await as_role("analytics")
    yield connection
    await connection.close()


async def test_the_services_are_neither_superusers_nor_owners(
    cash_register_role: asyncpg.Connection, analytics_role: asyncpg.Connection
) -> None:
    for connection, role in (
        (cash_register_role, "supermarket_cash_register"),
        (analytics_role, "supermarket_analytics"),
    ):
        assert await connection.fetchval("SELECT current_user") == role
        assert not await connection.fetchval(
            "SELECT rolsuper FROM pg_roles WHERE rolname = $1", role
        )
        owned = await connection.fetchval(
            "SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles "
            "WHERE rolname = $1)",
            role,
        )
        assert owned == 0


@pytest.mark.parametrize(
    "statement",
    [
        "DROP TABLE purchases",
        "UPDATE purchases SET total_amount = 0",
        "DELETE FROM purchases",
        "TRUNCATE purchase_items",
        "UPDATE products SET unit_price = 0.01",
        "INSERT INTO customers (id, purchase_count, first_purchase_at, last_purchase_at) "
        "VALUES (gen_random_uuid(), 99, now(), now())",
        "SELECT * FROM customers",
        "COPY (SELECT 1) TO PROGRAM 'true'",
        "CREATE TABLE mine (x int)",
        "SELECT fold_customer_visits(NULL, NULL, NULL, NULL, NULL)",
        "UPDATE loyalty_cards SET customer_id = gen_random_uuid()",
        "DELETE FROM loyalty_cards",
        "SELECT create_purchase_months('2999-01-01', '2999-12-01', 1)",
        "CREATE TEMP TABLE mine (x int)",
        "SELECT * FROM purchases",
        "SELECT * FROM purchase_items",
        "SELECT key_hash FROM tills",
        "SELECT key_hash FROM owners",
    ],
)
async def test_the_cash_register_may_not(
    cash_register_role: asyncpg.Connection, statement: str
) -> None:
    with pytest.raises(asyncpg.PostgresError):
        await cash_register_role.execute(statement)


async def test_the_cash_register_records_a_sale_and_its_aggregates(
    cash_register_role: asyncpg.Connection, catalog: asyncpg.Connection
) -> None:
    await cash_register_role.execute(SALE, uuid.uuid4())
    assert await catalog.fetchval("SELECT count(*) FROM purchases") == 1
    assert await catalog.fetchval("SELECT sum(units_sold) FROM product_sales") == 1


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO supermarkets (id) VALUES ('SMKT999')",
        "DELETE FROM idempotency_keys",
        "SELECT * FROM offline_sales",
        "SELECT * FROM loyalty_cards",
        "SELECT create_purchase_months('2040-01-01', '2040-02-01', 1)",
        "SELECT create_coming_months(1)",
        "CREATE TEMP TABLE mine (x int)",
        "SELECT key_hash FROM tills",
        "SELECT key_hash FROM owners",
        "SELECT * FROM sales_claimed_by(ARRAY['t'], ARRAY['k'], ARRAY[NULL])",
    ],
)
async def test_the_analytics_only_read(analytics_role: asyncpg.Connection, statement: str) -> None:
    with pytest.raises(asyncpg.PostgresError):
        await analytics_role.execute(statement)
    assert await analytics_role.fetchval("SHOW default_transaction_read_only") == "on"
    assert await analytics_role.fetchval("SHOW statement_timeout") == "5s"
    assert await analytics_role.fetchval("SELECT count(*) FROM customers") == 0


async def test_sales_are_append_only_even_for_the_owner(catalog: asyncpg.Connection) -> None:
    await catalog.execute(SALE, uuid.uuid4())
    for statement in (
        "UPDATE purchases SET total_amount = 0",
        "DELETE FROM purchase_items",
        "TRUNCATE purchases CASCADE",
        "UPDATE supermarkets SET id = 'SMKT100' WHERE id = 'SMKT001'",
        "UPDATE products SET name = 'skimmed milk' WHERE name = 'milk'",
    ):
        with pytest.raises(asyncpg.RestrictViolationError):
            await catalog.execute(statement)
    async with catalog.transaction():  # the explicit maintenance path
        await catalog.execute("SET LOCAL shop.maintenance = on")
        await catalog.execute("UPDATE purchases SET total_amount = 2.00")
    assert await catalog.fetchval("SELECT total_amount FROM purchases") == 2


async def test_no_function_is_executable_by_public(
    db: asyncpg.Connection, postgres: PostgresUnderTest
) -> None:
    public = await db.fetch(
        "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'public' AND has_function_privilege('public', p.oid, 'EXECUTE')"
    )
    assert [row["proname"] for row in public] == []


async def test_the_cash_register_makes_the_coming_months_and_no_others(
    cash_register_role: asyncpg.Connection, catalog: asyncpg.Connection
) -> None:
    await cash_register_role.fetchval("SELECT create_coming_months(1)")
    months = await catalog.fetch(
        "SELECT relname FROM pg_class WHERE relname ~ '^purchases_y[0-9]{4}m[0-9]{2}$'"
    )
    assert months
    assert not [m for m in months if m["relname"] >= "purchases_y2999"]


async def test_only_the_services_and_the_owner_may_connect(catalog: asyncpg.Connection) -> None:
    database = await catalog.fetchval("SELECT current_database()")
    grants = await catalog.fetchval(
        "SELECT datacl::text[] FROM pg_database WHERE datname = $1", database
    )
    assert not [g for g in grants if g.startswith("=")], grants  # nothing for PUBLIC
    assert any(g.startswith("supermarket_cash_register=c/") for g in grants), grants
    assert any(g.startswith("supermarket_analytics=c/") for g in grants), grants


async def test_the_analytics_refuse_a_connection_without_their_role_limits(
    analytics_role: asyncpg.Connection, catalog: asyncpg.Connection
) -> None:
    await check_reader_limits(analytics_role)  # the role's own settings: accepted
    with pytest.raises(ReaderLimitsLifted, match="default_transaction_read_only=off"):
        await check_reader_limits(catalog)  # the owner's connection has neither limit


async def test_a_service_learns_a_key_only_by_its_hash(
    cash_register_role: asyncpg.Connection, keys: ChainKeys
) -> None:
    """Asked with the hashes of a live key and a made-up one, the function answers for the
    live key alone: nothing lists the others (the key tables are not readable at all)."""
    live = key_hash(keys.tills["SMKT001"])
    made_up = key_hash("till_" + "x" * 43)
    rows = await cash_register_role.fetch(CREDENTIALS, [live, made_up])
    assert [(row["kind"], row["name"]) for row in rows] == [("till", till_name("SMKT001"))]
    assert await cash_register_role.fetch(CREDENTIALS, []) == []
