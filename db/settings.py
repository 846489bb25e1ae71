"""Database settings, read from the environment (and `.env`) once per process.

Either `DATABASE_URL`, or the `POSTGRES_*` variables that docker-compose shares with the
database container. There is no default password anywhere: a missing setting stops the process
at start with a message naming what to set.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import quote

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class MissingSetting(RuntimeError):
    """A required setting is not in the environment; the message names it."""


class DatabaseSettings(BaseSettings):
    """Where PostgreSQL is and how hard to lean on it."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str | None = None
    postgres_host: str | None = None
    postgres_port: int = 5432
    postgres_user: str | None = None
    postgres_password: str | None = None
    postgres_db: str | None = None

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
        password = quote(self.postgres_password or "", safe="")
        return (
            f"postgresql://{user}:{password}@{self.postgres_host}:{self.postgres_port}"
            f"/{self.postgres_db}"
        )


@lru_cache
def database_settings() -> DatabaseSettings:
    """The process's settings; raises `MissingSetting` naming what is not set.

    `MissingSetting` is a RuntimeError, so pydantic lets it through unwrapped.
    """
    return DatabaseSettings()
