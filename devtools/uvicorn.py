"""How this machine's tools (make demo, make bench) run a service: as its image does, with
uvicorn's supervisor logging in the services' format, on loopback."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import httpx


def service_command(app: str, port: int | str, workers: int = 1) -> list[str]:
    """The command line that serves `app` ("cash_register.main:app") on 127.0.0.1:`port`,
    with the images' workers' supervisor (httpkit/workers.py) and uvicorn options."""
    return [
        sys.executable, "-m", "httpkit.workers", app,
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--no-access-log", "--log-config", "telemetry/uvicorn-logging.json",
        "--http", "httpkit.connections:HeadersInTime", "--timeout-keep-alive", "5",
        "--limit-concurrency", "1000",
    ]  # fmt: skip


class NotReady(RuntimeError):
    """A service that exited, or did not become ready in time."""


def wait_until_ready(
    base_url: str, process: subprocess.Popen[Any] | None = None, seconds: float = 60
) -> None:
    """Until `base_url`/readyz answers 200; NotReady if `process` exits first or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise NotReady(f"{base_url}: the server exited with {process.returncode}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise NotReady(f"{base_url} did not become ready within {seconds:g} s")
