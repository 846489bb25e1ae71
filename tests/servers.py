"""Real servers for tests: each service as its container runs it (the Dockerfile's command,
natively), with its output in a file. `servers` is a fixture for every test (tests/conftest.py
names this module in pytest_plugins)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from devtools.embedded_postgres import free_port
from devtools.uvicorn import NotReady, wait_until_ready
from tests.conftest import ROOT, PostgresUnderTest
from tests.keys import ChainKeys


def dockerfile_cmd(deployable: str) -> list[str]:
    """The CMD of a deployable's Dockerfile, which must be in exec (JSON) form."""
    text = (ROOT / deployable / "Dockerfile").read_text()
    [line] = [line for line in text.splitlines() if line.startswith("CMD ")]
    command: list[str] = json.loads(line.removeprefix("CMD "))
    return command


def native(command: list[str], port: int) -> list[str]:
    """The Dockerfile's command on this host: loopback instead of 0.0.0.0, a free port."""
    replaced = {
        "0.0.0.0": "127.0.0.1",
        "8000": str(port),
        "8001": str(port),
        "telemetry/uvicorn-logging.json": str(ROOT / "telemetry" / "uvicorn-logging.json"),
    }
    program, *arguments = command
    assert program == "python", f"the image runs {program}, not its Python"
    return [sys.executable, *[replaced.get(part, part) for part in arguments]]


def start(
    deployable: str,
    database_url: str,
    *,
    cwd: Path = ROOT,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    **extra_env: str,
) -> tuple[subprocess.Popen[str], str]:
    """The service as its container runs it, its output (every log line) in a file: a pipe
    nobody reads would fill and stop the server once the access log has written 64 KB.
    On `port` (a restart), else a free one; `env` and `extra_env` are added to this
    process's environment."""
    port = port or free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PYTHONPATH": str(ROOT),
        "WEB_CONCURRENCY": "2",
        **(env or {}),
        **extra_env,
    }
    output = tempfile.NamedTemporaryFile(  # noqa: SIM115 (lives as long as the process)
        prefix=f"{deployable}-", suffix=".log", delete=False
    )
    process = subprocess.Popen(
        native(dockerfile_cmd(deployable), port),
        cwd=cwd,
        env=environment,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
    )
    process.log_path = Path(output.name)  # type: ignore[attr-defined]
    output.close()
    return process, f"http://127.0.0.1:{port}"


def output_of(process: subprocess.Popen[str]) -> str:
    """Everything the process has written so far."""
    return str(process.log_path.read_text())  # type: ignore[attr-defined]


def stop(process: subprocess.Popen[str]) -> int:
    """SIGTERM, as the container runtime sends; returns the exit status."""
    process.terminate()
    process.wait(timeout=15)
    return process.returncode


def wait_healthy(process: subprocess.Popen[str], base_url: str) -> None:
    try:
        wait_until_ready(base_url, process, seconds=30)
    except NotReady as error:
        raise AssertionError(f"{error}: {output_of(process)}") from None


@pytest.fixture
def servers(keys: ChainKeys, postgres: PostgresUnderTest) -> Iterator[dict[str, str]]:
    """Both services as their containers run them (uvicorn, two workers each)."""
    started = {name: start(name, postgres.database_url) for name in ("cash_register", "analytics")}
    try:
        for process, url in started.values():
            wait_healthy(process, url)
        yield {name: url for name, (_, url) in started.items()}
    finally:
        for process, _ in started.values():
            stop(process)
