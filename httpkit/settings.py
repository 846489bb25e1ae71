"""Settings of the HTTP frame both services share, read from the environment once."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class HttpSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Larger request bodies get 413, counted while they are read.
    max_body_bytes: int = Field(default=1 << 20, ge=1024, le=64 << 20)
    # What a 503 asks the client to wait before it tries again.
    retry_after_seconds: int = Field(default=2, ge=1, le=300)
    # The screens' session cookies are sent over HTTPS only: turn on wherever the services are
    # reached through TLS (a proxy in front); off for http://localhost.
    session_cookie_secure: bool = False


@lru_cache
def http_settings() -> HttpSettings:
    return HttpSettings()
