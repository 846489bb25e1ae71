"""PostgreSQL's settings as this system ships them, for the servers `make cluster` and
`make bench` start: the figures are measured on the configuration users run.

The one source is `ops/postgres/server-settings.sh`, which sizes them for a memory budget (the
compose database runs it on its container's limit); here the budget is the compose database's
`mem_limit`, read from docker-compose.yml.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_SCRIPT = ROOT / "ops" / "postgres" / "server-settings.sh"
COMPOSE_FILE = ROOT / "docker-compose.yml"
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def memory_bytes(limit: str | int) -> int:
    """A compose memory limit ("2g", "512m", 1073741824) in bytes."""
    found = re.fullmatch(r"(\d+)\s*([bkmg]?)b?", str(limit).strip().lower())
    if found is None:
        raise ValueError(f"not a memory limit: {limit!r}")
    return int(found.group(1)) * _UNITS[found.group(2)]


def database_memory_limit(compose_file: Path = COMPOSE_FILE) -> int:
    """The compose database's memory limit in bytes."""
    compose = yaml.safe_load(compose_file.read_text())
    return memory_bytes(compose["services"]["db"]["mem_limit"])


def server_settings(memory: int | None = None) -> dict[str, str]:
    """The shipped settings sized for `memory` bytes (the compose database's limit if None)."""
    budget = database_memory_limit() if memory is None else memory
    printed = subprocess.run(
        ["sh", str(SETTINGS_SCRIPT), str(budget)], capture_output=True, text=True, check=True
    ).stdout
    return dict(line.split("=", 1) for line in printed.splitlines() if line)
