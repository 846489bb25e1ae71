"""`python -m backup`'s settings, from the environment (or `.env`)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from backup.repository import STANZA


class BackupSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    pgbackrest_config: Path | None = None
    backup_stanza: str = STANZA
    database_url: str | None = None
