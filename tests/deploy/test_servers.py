"""The containers' own commands, run natively: real uvicorn processes, real lifespan and pool."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from devtools.embedded_postgres import free_port
from tests.conftest import ROOT, PostgresUnderTest
from tests.deploy.test_docker_files import dockerfile_cmd
from tests.keys import ChainKeys, TillAuth


def native(command: list[str], port: int) -> list[str]:
    """The Dockerfile's command on this host: loopback instead of 0.0.0.0, a free port."""
    replaced = {
        "0.0.0.0": "127.0.0.1",
        "8000": str(port),
        "8001": str(port),
        "telemetry/uvicorn-logging.json": str(ROOT / "telemetry" / "uvicorn-logging.json"),
    }
    return [sys.executable, "-m", *[replaced.get(part, part) for part in command]]


def start(
    deployable: str, database_url: str, cwd: Path = ROOT, **extra_env: str
) -> tuple[subprocess.Popen, str]:
    """The service as its container runs it, its output (every log line) in a file: a pipe
    nobody reads would fill and stop the server once the access log has written 64 KB."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PYTHONPATH": str(ROOT),
        "WEB_CONCURRENCY": "2",
        **extra_env,
    }
    output = tempfile.NamedTemporaryFile(  # noqa: SIM115 (lives as long as the process)
        prefix=f"{deployable}-", suffix=".log", delete=False
    )
    process = subprocess.Popen(
        native(dockerfile_cmd(deployable), port),
        cwd=cwd,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
    )
    process.log_path = Path(output.name)  # type: ignore[attr-defined]
    output.close()
    return process, f"http://127.0.0.1:{port}"


def output_of(process: subprocess.Popen) -> str:
    """Everything the process has written so far."""
    return process.log_path.read_text()  # type: ignore[attr-defined]


def stop(process: subprocess.Popen) -> int:
    """SIGTERM, as the container runtime sends; returns the exit status."""
    process.terminate()
    process.wait(timeout=15)
    return process.returncode


def wait_healthy(process: subprocess.Popen, base_url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {output_of(process)}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{base_url} did not become ready")


@pytest.fixture
def servers(keys: ChainKeys, postgres: PostgresUnderTest) -> Iterator[dict[str, str]]:
    started = {name: start(name, postgres.database_url) for name in ("cash_register", "analytics")}
    try:
        for process, url in started.values():
            wait_healthy(process, url)
        yield {name: url for name, (_, url) in started.items()}
    finally:
        for process, _ in started.values():
            stop(process)


def test_both_services_serve_with_two_workers(servers: dict[str, str], keys: ChainKeys) -> None:
    owner = keys.owner_headers()
    with httpx.Client(timeout=10, auth=TillAuth(keys)) as client:
        unique = f"{servers['analytics']}/unique-customers"
        before = client.get(unique, headers=owner).json()["unique_customers"]
        for _ in range(10):  # several requests, so both workers are likely to answer
            response = client.post(
                f"{servers['cash_register']}/purchase",
                json={"supermarket_id": "SMKT002", "items": ["cereal"]},
            )
            assert response.status_code == 201
        after = client.get(unique, headers=owner).json()["unique_customers"]
        top = client.get(f"{servers['analytics']}/top-products", headers=owner).json()["products"]
    assert after == before + 10
    assert top[0] == {"rank": 1, "product": "cereal", "units_sold": 10}


def test_sigterm_stops_a_service_cleanly(
    catalog: asyncpg.Connection, postgres: PostgresUnderTest
) -> None:
    process, url = start("analytics", postgres.database_url)
    wait_healthy(process, url)
    assert stop(process) == 0


@pytest.mark.parametrize("deployable", ["cash_register", "analytics"])
def test_a_service_without_settings_stops_at_start_naming_them(
    deployable: str, tmp_path: Path
) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.endswith("DATABASE_URL") and not key.startswith("POSTGRES_")
    }
    env |= {"PYTHONPATH": str(ROOT), "WEB_CONCURRENCY": "1"}
    command = native(dockerfile_cmd(deployable), free_port())
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert f"Missing setting: {deployable.upper()}_DATABASE_URL" in result.stderr
    assert f"supermarket_{deployable}" in result.stderr


def test_loader_command_is_the_containers(
    postgres: PostgresUnderTest, db: asyncpg.Connection
) -> None:
    command = dockerfile_cmd("loader")
    assert command[:3] == ["python", "-m", "loader"]
    native_command = [sys.executable, *command[1:]]
    native_command[native_command.index("/app/data")] = str(ROOT / "data")
    result = subprocess.run(
        native_command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DATABASE_URL": postgres.database_url},
    )
    assert result.returncode == 0, result.stderr
    assert "stored" in result.stdout
