"""Settings of the HTTP frame both services share, read from the environment once."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class HttpSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Larger request bodies get 413, counted while they are read.
    max_body_bytes: int = Field(default=1 << 20, ge=1024, le=64 << 20)
    # What a 503 asks the client to wait before it tries again.
    retry_after_seconds: int = Field(default=2, ge=1, le=300)
    # The screens' session cookies are sent over HTTPS only: turn on wherever the services are
    # reached through TLS (a proxy in front); off for http://localhost.
    session_cookie_secure: bool = False
    # Seconds a connection has to deliver a request's headers, from its opening or from the
    # request's first byte; slower connections are closed (they hold a server's sockets).
    http_header_timeout_seconds: float = Field(default=10, gt=0, le=300)
    # The host names the services answer to (the Host header, without its port), comma
    # separated; `*.example.com` takes its subdomains, `*` any host. Any other host is a 400:
    # a forged Host could otherwise end up in the links and redirects of an answer.
    trusted_hosts: Annotated[list[str], NoDecode] = ["localhost", "127.0.0.1", "::1"]
    # Where owners and tills reach the service from outside (`https://tills.example.com`),
    # for the absolute links of `GET /`; unset, those links are relative.
    public_url: str | None = Field(default=None, pattern=r"^https?://[^/?#]+(/[^?#]*)?$")

    @field_validator("trusted_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [host.strip() for host in value.split(",") if host.strip()]
        return value


@lru_cache
def http_settings() -> HttpSettings:
    return HttpSettings()
