"""How this machine's tools (make demo, make bench) run a service: as its image does, with
uvicorn's supervisor logging in the services' format, on loopback."""

from __future__ import annotations

import sys


def uvicorn_command(app: str, port: int | str, workers: int = 1) -> list[str]:
    """The command line that serves `app` ("cash_register.main:app") on 127.0.0.1:`port`."""
    return [
        sys.executable, "-m", "uvicorn", app,
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--no-access-log", "--log-config", "telemetry/uvicorn-logging.json",
    ]  # fmt: skip
