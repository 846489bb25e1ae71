"""The containers' own commands, run natively: real uvicorn processes, real lifespan and pool."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import httpx
import pytest

from devtools.embedded_postgres import free_port
from tests.conftest import ROOT, PostgresUnderTest
from tests.keys import ChainKeys, TillAuth
from tests.servers import dockerfile_cmd, native, start, stop, wait_healthy


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
    assert top[0] == {
        "rank": 1,
        "product": "cereal",
        "units_sold": 10,
        "units_returned": 0,
    }


def test_sigterm_stops_a_service_cleanly(
    catalog: asyncpg.Connection, postgres: PostgresUnderTest
) -> None:
    process, url = start("analytics", postgres.database_url)
    wait_healthy(process, url)
    assert stop(process) == 0


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("deployable", ["cash_register", "analytics"])
def test_a_service_without_settings_stops_at_start_naming_them(
    deployable: str, workers: str, tmp_path: Path
) -> None:
    """With several workers too: each fails the same way, and their supervisor stops rather
    than start them again and again."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.endswith("DATABASE_URL") and not key.startswith("POSTGRES_")
    }
    env |= {"PYTHONPATH": str(ROOT), "WEB_CONCURRENCY": workers}
    command = native(dockerfile_cmd(deployable), free_port())
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 3  # uvicorn's start-up failure
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
