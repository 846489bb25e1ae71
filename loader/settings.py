"""The loader's own settings."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LoaderSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Purchases stored per transaction. Small enough that a till selling to a customer of the
    # chunk waits a fraction of a second at most; 0 stores the whole file in one transaction
    # (a maintenance window only: tills selling to the file's customers wait for all of it).
    loader_chunk_purchases: int = Field(default=5000, ge=0)
    # Memory for the checking queries' sorts and hashes (a million rows stay in memory).
    loader_work_mem: str = Field(default="256MB", pattern=r"^\d+(kB|MB|GB)$")


@lru_cache
def loader_settings() -> LoaderSettings:
    return LoaderSettings()
