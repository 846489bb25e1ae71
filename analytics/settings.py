"""The analytics' own settings: what one owner may ask, and how much of the database owners'
questions may hold at once."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AnalyticsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Requests per second one owner's key may send, per worker process (bursts to twice that);
    # 0: no limit. A dashboard's refresh asks about ten questions.
    owner_requests_per_second: float = Field(default=20, ge=0)
    # Data questions one analytics worker sends to the database at once; more wait (as long as
    # DB_POOL_ACQUIRE_TIMEOUT_SECONDS, then 503). Owners share the database with the tills:
    # this bounds what a crowd of owners can take from them.
    analytics_concurrent_reads: int = Field(default=3, ge=1, le=64)


@lru_cache
def analytics_settings() -> AnalyticsSettings:
    return AnalyticsSettings()
