"""How the services log and who may read their metrics."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from db.settings import SecretFiles


class TelemetrySettings(SecretFiles):
    # One JSON object per line (for log collectors), or plain text for a person at a terminal.
    log_format: Literal["json", "text"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # A line per request (method, route, status, duration, caller); off: warnings and errors only.
    access_log: bool = True
    # Who may read /metrics: `Authorization: Bearer <METRICS_KEY>` (Prometheus' credentials
    # file). Unset: /metrics answers 404.
    metrics_key: SecretStr | None = None
    metrics_key_file: Path | None = None


@lru_cache
def telemetry_settings() -> TelemetrySettings:
    return TelemetrySettings()
