"""Database settings, read from the environment (and `.env`) once per process.

Either `DATABASE_URL`, or the `POSTGRES_*` variables that docker-compose shares with the
database container. There is no default password anywhere: a missing setting stops the process
at start with a message naming what to set.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from pydantic import Field, PrivateAttr, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class MissingSetting(RuntimeError):
    """A required setting is not in the environment; the message names it."""


class SecretFiles(BaseSettings):
    """Every secret `X` may come from a file named by `X_FILE` (compose `secrets:` mount them
    under /run/secrets), so it need not sit in an environment that `docker inspect` shows."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    @model_validator(mode="after")
    def _read_secret_files(self) -> SecretFiles:
        for name in type(self).model_fields:
            path = getattr(self, name)
            if name.endswith("_file") and path is not None and getattr(self, name[:-5]) is None:
                try:
                    value = Path(path).read_text(encoding="utf-8").strip()
                except OSError as error:
                    raise MissingSetting(f"{name.upper()}: cannot read {path}: {error}") from None
                setattr(self, name[:-5], SecretStr(value))
        return self


class DatabaseTuning(BaseSettings):
    """How hard to lean on PostgreSQL, whoever connects: pool, timeouts, retries."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    db_pool_min_size: int = Field(default=2, ge=1)
    db_pool_max_size: int = Field(default=10, ge=1)
    db_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    db_command_timeout_seconds: float = Field(default=10.0, gt=0)
    db_startup_wait_seconds: float = Field(default=30.0, ge=0)
    db_pool_acquire_timeout_seconds: float = Field(default=5.0, gt=0)
    db_health_timeout_seconds: float = Field(default=2.0, gt=0)
    # After a lost connection, how long the catalog listener waits before it connects again.
    catalog_reconnect_seconds: float = Field(default=1.0, gt=0)
    # How long a background chore waits before it tries again after the database failed it.
    chore_retry_seconds: float = Field(default=60.0, gt=0)
    # How often a service writes when its callers' keys were last used (`admin list`).
    keys_last_used_every_seconds: float = Field(default=10.0, gt=0)
    # With a replica (ANALYTICS_PRIMARY_DATABASE_URL set): how far behind it may fall before
    # the analytics read the primary instead, and how often they measure it.
    replica_max_lag_seconds: float = Field(default=10.0, gt=0)
    replica_check_every_seconds: float = Field(default=1.0, gt=0)


class DatabaseSettings(DatabaseTuning, SecretFiles):
    """Where PostgreSQL is, and as whom to connect: the owner's `DATABASE_URL` (loader, admin)
    or, for a service, its own role's URL (`service_database_settings`)."""

    database_url: str | None = None
    postgres_host: str | None = None
    postgres_port: int = 5432
    postgres_user: str | None = None
    postgres_password: SecretStr | None = None
    postgres_password_file: Path | None = None
    postgres_db: str | None = None
    # Shown in pg_stat_activity: which process a connection belongs to (set by code, not env).
    _application_name: str | None = PrivateAttr(default=None)
    # A password given apart from the URL (a service's, from its secret file; set by code).
    _password: SecretStr | None = PrivateAttr(default=None)

    @property
    def application_name(self) -> str | None:
        return self._application_name

    @property
    def database_password(self) -> SecretStr | None:
        return self._password

    @model_validator(mode="after")
    def _require_a_database(self) -> DatabaseSettings:
        if self.database_url:
            return self
        wanted = {
            "POSTGRES_HOST": self.postgres_host,
            "POSTGRES_USER": self.postgres_user,
            "POSTGRES_PASSWORD": self.postgres_password,
            "POSTGRES_DB": self.postgres_db,
        }
        missing = [name for name, value in wanted.items() if value is None]
        if missing:
            raise MissingSetting(
                "Missing setting: "
                + ", ".join(missing)
                + ". Set DATABASE_URL, or all of POSTGRES_HOST, POSTGRES_USER, "
                "POSTGRES_PASSWORD and POSTGRES_DB (see .env.example)."
            )
        return self

    @property
    def dsn(self) -> str:
        """The connection string asyncpg is given."""
        if self.database_url:
            return self.database_url
        user = quote(self.postgres_user or "", safe="")
        secret = self.postgres_password.get_secret_value() if self.postgres_password else ""
        password = quote(secret, safe="")
        return (
            f"postgresql://{user}:{password}@{self.postgres_host}:{self.postgres_port}"
            f"/{self.postgres_db}"
        )


class ServiceDatabaseUrls(SecretFiles):
    """Each service's own login role, never the owner of the tables: its URL, and its password
    in the URL or apart (from a file)."""

    cash_register_database_url: str | None = None
    cash_register_db_password: SecretStr | None = None
    cash_register_db_password_file: Path | None = None
    analytics_database_url: str | None = None
    # Set when ANALYTICS_DATABASE_URL is a streaming replica: the same role on the primary,
    # for what a standby cannot do (LISTEN for changes, note key use) and for fallback reads.
    analytics_primary_database_url: str | None = None
    analytics_db_password: SecretStr | None = None
    analytics_db_password_file: Path | None = None


def service_database_settings(service: str) -> DatabaseSettings:
    """The settings a service connects with: its own URL, named after it in PostgreSQL."""
    urls = ServiceDatabaseUrls()
    url = getattr(urls, f"{service}_database_url")
    if not url:
        raise MissingSetting(
            f"Missing setting: {service.upper()}_DATABASE_URL. The {service} connects as its "
            f"own role (supermarket_{service}, see .env.example); DATABASE_URL is the owner's, "
            "for the loader and admin only."
        )
    return _as_service(service, url, urls)


def primary_database_settings(service: str) -> DatabaseSettings | None:
    """The service's own role on the primary when its main URL is a replica; else None."""
    urls = ServiceDatabaseUrls()
    url = getattr(urls, f"{service}_primary_database_url", None)
    return _as_service(service, url, urls) if url else None


def _as_service(service: str, url: str, urls: ServiceDatabaseUrls) -> DatabaseSettings:
    settings = DatabaseSettings(database_url=url)
    settings._application_name = service.replace("_", "-")
    settings._password = getattr(urls, f"{service}_db_password")
    return settings


@lru_cache
def database_tuning() -> DatabaseTuning:
    """The process's pool sizes, timeouts and retries."""
    return DatabaseTuning()


@lru_cache
def database_settings() -> DatabaseSettings:
    """The process's settings; raises `MissingSetting` naming what is not set.

    `MissingSetting` is a RuntimeError, so pydantic lets it through unwrapped.
    """
    return DatabaseSettings()
