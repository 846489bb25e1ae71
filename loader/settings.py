"""The loader's own settings."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator

from db.settings import SecretFiles


class LoaderSettings(SecretFiles):
    # Purchases stored per transaction. A chunk holds no row a till writes (its counters have a
    # shard of their own, its customers' visits wait for the fold), so this bounds only how much
    # an interrupted import leaves to redo. 0 stores the whole file in one transaction with its
    # customers folded as it goes (tills selling to the file's customers wait for all of it).
    loader_chunk_purchases: int = Field(default=50_000, ge=0)
    # Connections storing chunks (and folding customers) at once, each using a core of the
    # server: an import outside trading hours, or on a server with cores to spare, goes faster
    # with 2 or more. While tills trade on a small server, 1 leaves them the other cores.
    loader_workers: int = Field(default=1, ge=1, le=16)
    # Memory for each of the loader's sessions' sorts and hashes: checking a million rows, and
    # folding a million visits, stay in memory.
    loader_work_mem: str = Field(default="256MB", pattern=r"^\d+(kB|MB|GB)$")
    # Where the output is not a terminal (Docker logs): a progress line at least this often.
    loader_progress_every_seconds: float = Field(default=5.0, gt=0, le=60)
    # The chain's IANA time zone: every store's whose row in supermarkets.csv names none. A
    # store's business days, and a purchase time written without an offset, are in its zone.
    chain_timezone: str = "UTC"
    # The services' roles' passwords, set by the loader (as the owner) when given.
    cash_register_db_password: SecretStr | None = None
    cash_register_db_password_file: Path | None = None
    analytics_db_password: SecretStr | None = None
    analytics_db_password_file: Path | None = None

    @field_validator("chain_timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"CHAIN_TIMEZONE: unknown time zone {zone!r}") from None
        return zone

    def role_passwords(self) -> dict[str, str]:
        """By service, the passwords given."""
        given = {
            "cash_register": self.cash_register_db_password,
            "analytics": self.analytics_db_password,
        }
        return {service: secret.get_secret_value() for service, secret in given.items() if secret}


@lru_cache
def loader_settings() -> LoaderSettings:
    return LoaderSettings()
