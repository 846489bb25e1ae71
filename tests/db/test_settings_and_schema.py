"""Settings that name what is missing; migrations applied once; the schema's own guards."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import asyncpg
import pytest

from analytics.settings import AnalyticsSettings
from backup.settings import BackupSettings
from cash_register.loyalty import LoyaltyCardSettings
from cash_register.settings import CashRegisterSettings
from db.locks import AdvisoryLock
from db.migrate import apply_migrations, migration_files
from db.settings import (
    DatabaseSettings,
    MissingSetting,
    ServiceDatabaseUrls,
    service_database_settings,
)
from httpkit.settings import HttpSettings
from loader.settings import LoaderSettings
from shop.rules import STORE_ID_PATTERN
from shop.settings import ShopSettings
from telemetry.settings import TelemetrySettings
from tests.conftest import ROOT
from tests.rows import pairs

POSTGRES_VARIABLES = (
    "DATABASE_URL",
    "POSTGRES_HOST",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_DB",
    "POSTGRES_PORT",
)


@pytest.fixture
def bare_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in POSTGRES_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env to read
    return monkeypatch


def test_nothing_set_names_every_missing_variable(bare_environment: pytest.MonkeyPatch) -> None:
    with pytest.raises(MissingSetting) as missing:
        DatabaseSettings()
    for name in ("POSTGRES_HOST", "POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"):
        assert name in str(missing.value)


def test_only_the_password_missing_is_named(bare_environment: pytest.MonkeyPatch) -> None:
    for name, value in (
        ("POSTGRES_HOST", "db"),
        ("POSTGRES_USER", "shop"),
        ("POSTGRES_DB", "shop"),
    ):
        bare_environment.setenv(name, value)
    with pytest.raises(MissingSetting, match=r"Missing setting: POSTGRES_PASSWORD\."):
        DatabaseSettings()


def test_postgres_variables_make_a_url_with_the_password_escaped(
    bare_environment: pytest.MonkeyPatch,
) -> None:
    for name, value in (
        ("POSTGRES_HOST", "db"),
        ("POSTGRES_USER", "shop"),
        ("POSTGRES_PASSWORD", "p@ss/word"),
        ("POSTGRES_DB", "shop"),
    ):
        bare_environment.setenv(name, value)
    assert DatabaseSettings().dsn == "postgresql://shop:p%40ss%2Fword@db:5432/shop"


def test_database_url_is_enough(bare_environment: pytest.MonkeyPatch) -> None:
    bare_environment.setenv("DATABASE_URL", "postgresql://a@b/c")
    assert DatabaseSettings().dsn == "postgresql://a@b/c"


async def test_migrations_are_recorded_and_not_applied_twice(db: asyncpg.Connection) -> None:
    assert await apply_migrations(db) == []
    recorded = {row["version"] for row in await db.fetch("SELECT version FROM schema_migrations")}
    assert recorded == {path.stem for path in migration_files()}


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO products (name, unit_price) VALUES ('free lunch', 0)",
        "INSERT INTO products (name, unit_price) VALUES ('milk', 1.00)",  # name taken
        "INSERT INTO supermarkets (id) VALUES ('has space')",
        "INSERT INTO purchase_items (purchase_id, product_id, quantity, unit_price) "
        "VALUES (1, 1, 0, 1.00)",
    ],
)
async def test_schema_refuses_what_must_not_hold(
    catalog: asyncpg.Connection, statement: str
) -> None:
    await catalog.execute(
        "INSERT INTO purchases (supermarket_id, customer_id, purchased_at, total_amount) "
        "VALUES ('SMKT001', $1, now(), 1.5)",
        uuid.uuid4(),
    )
    with pytest.raises(asyncpg.IntegrityConstraintViolationError):
        await catalog.execute(statement)


async def test_a_purchase_of_an_unknown_customer_store_is_refused(
    catalog: asyncpg.Connection,
) -> None:
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await catalog.execute(
            "INSERT INTO purchases (supermarket_id, customer_id, purchased_at, total_amount) "
            "VALUES ('SMKT404', $1, now(), 1.5)",
            uuid.uuid4(),
        )


async def test_money_columns_are_numeric(db: asyncpg.Connection) -> None:
    types = pairs(
        await db.fetch(
            "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
            "WHERE column_name IN ('unit_price', 'total_amount') AND table_schema = 'public'"
        )
    )
    assert set(types.values()) == {"numeric"}
    assert {"products.unit_price", "purchases.total_amount", "purchase_items.unit_price"} <= set(
        types
    )


async def test_the_schema_holds_store_ids_to_the_one_rule(db: asyncpg.Connection) -> None:
    """The CHECK on supermarkets.id and the API and loader share `STORE_ID_PATTERN`."""
    [check] = await db.fetch(
        "SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint "
        "WHERE conrelid = 'supermarkets'::regclass AND contype = 'c' "
        "AND pg_get_constraintdef(oid) LIKE '%id%~%'"
    )
    assert f"'{STORE_ID_PATTERN}'" in check["definition"]


async def test_every_advisory_lock_of_the_schema_comes_from_db_locks(
    db: asyncpg.Connection,
) -> None:
    """No function of the schema names a lock number of its own."""
    bodies = await db.fetch(
        "SELECT proname, prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'public' AND prosrc LIKE '%advisory%'"
    )
    assert bodies, "create_purchase_months takes a lock"
    for body in bodies:
        assert not any(str(int(lock)) in body["prosrc"] for lock in AdvisoryLock), body["proname"]


def test_every_setting_is_documented_in_env_example_and_the_operations_guide() -> None:
    """Every knob of every process is a settings field, and each is written down."""
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "docs" / "operations.md").read_text()
    for settings in (
        DatabaseSettings,
        ServiceDatabaseUrls,
        HttpSettings,
        CashRegisterSettings,
        LoaderSettings,
        LoyaltyCardSettings,
        ShopSettings,
        TelemetrySettings,
        AnalyticsSettings,
        BackupSettings,
    ):
        for name in settings.model_fields:
            variable = name.upper()
            assert re.search(rf"^#? ?{variable}=", example, re.MULTILINE), variable
            assert f"`{variable}`" in readme, variable


def test_secrets_are_read_from_their_files(
    bare_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "owner").write_text("p@ss word\n")
    (tmp_path / "till").write_text("till-secret\n")
    for name, value in (
        ("POSTGRES_HOST", "db"),
        ("POSTGRES_USER", "shop"),
        ("POSTGRES_DB", "shop"),
        ("POSTGRES_PASSWORD_FILE", str(tmp_path / "owner")),
        ("CASH_REGISTER_DATABASE_URL", "postgresql://supermarket_cash_register@db/shop"),
        ("CASH_REGISTER_DB_PASSWORD_FILE", str(tmp_path / "till")),
    ):
        bare_environment.setenv(name, value)
    assert DatabaseSettings().dsn == "postgresql://shop:p%40ss%20word@db:5432/shop"
    service = service_database_settings("cash_register")
    assert service.database_password is not None
    assert service.database_password.get_secret_value() == "till-secret"
    assert "till-secret" not in repr(service)


def test_an_unreadable_secret_file_is_named(bare_environment: pytest.MonkeyPatch) -> None:
    bare_environment.setenv("POSTGRES_PASSWORD_FILE", "/nowhere/postgres_password")
    with pytest.raises(MissingSetting, match="POSTGRES_PASSWORD_FILE"):
        DatabaseSettings()
