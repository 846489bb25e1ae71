"""Facts about the chain that no table holds: the currency its prices are in."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ShopSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # ISO 4217 code of the catalog's prices; the screens show every amount with it.
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")


@lru_cache
def shop_settings() -> ShopSettings:
    return ShopSettings()
