"""`make cluster` (devtools/cluster.py): it prints a URL naming both Patroni nodes for
`python -m admin`, a till's sale through nginx reaches the primary and then the synchronous
standby, `make backup` backs the running cluster up, and SIGTERM leaves nothing running."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from devtools.embedded_postgres import free_port
from devtools.server_settings import server_settings
from tests.conftest import ROOT

pytestmark = pytest.mark.cluster


def _lines_until_ready(process: subprocess.Popen[str]) -> dict[str, str]:
    """What the cluster printed, by the name before its first `=` or `:`."""
    said: dict[str, str] = {}
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("cluster ready"):
            return said
        for separator in ("=", ":"):
            name, found, rest = line.strip().partition(separator)
            if found and " " not in name:
                said[name] = rest.strip()
                break
    raise AssertionError(f"the cluster stopped before it was ready: {said}")


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    with log.open("w") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "devtools.cluster"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=output, text=True,
        )  # fmt: skip


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _running_under(folder: Path) -> list[str]:
    found = subprocess.run(["pgrep", "-af", str(folder)], capture_output=True, text=True)
    return [line for line in found.stdout.splitlines() if "pgrep" not in line]


async def _seen_by_the_owners(port: int, key: str, database_url: str, sold_at: float) -> None:
    """The analytics read the replica, and show every sale of the primary within the lag
    bound (REPLICA_MAX_LAG_SECONDS, 10 s by default) of its 201."""
    primary = await asyncpg.connect(database_url)
    try:
        stored = await primary.fetchval("SELECT count(*) FROM purchases")
    finally:
        await primary.close()
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}
    ) as owner:
        while True:
            answer = await owner.get("/supermarkets")
            assert answer.status_code == 200, answer.text
            shown = sum(store["purchases"] for store in answer.json()["supermarkets"])
            if shown == stored:
                break
            assert time.monotonic() - sold_at < 10, f"{shown} of {stored} sales shown"
            await asyncio.sleep(0.05)
        assert answer.headers["x-data-source"] == "replica"
        health = (await owner.get("/health")).json()
    assert health["reads_from"] == "replica"
    assert health["replication_lag_seconds"] <= health["replica_max_lag_seconds"]


async def test_make_cluster_serves_replicates_and_stops_clean(tmp_path: Path) -> None:
    folder = tmp_path / "cluster"
    tills_port, owners_port = free_port(), free_port()
    env = {
        **os.environ,
        "CLUSTER_DIR": str(folder),
        "CASH_REGISTERS": "2",
        "CASH_REGISTER_PORT": str(tills_port),
        "ANALYTICS_PORT": str(owners_port),
    }
    for name in ("DATABASE_URL", "CASH_REGISTER_DATABASE_URL", "ANALYTICS_DATABASE_URL"):
        env.pop(name, None)
    process = _start(env, tmp_path / "cluster.log")
    try:
        said = await asyncio.to_thread(_lines_until_ready, process)
        database_url = said["DATABASE_URL"]
        replica_url = said["replica"].split(" ")[0]
        issued = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "admin", "till-key", "--store", "SMKT001", "--till", "t-1"],
            cwd=ROOT, env={**env, "DATABASE_URL": database_url},
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        key = issued.stdout.strip().splitlines()[-1]
        owner_issued = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "admin", "owner-key", "--name", "cluster-owner"],
            cwd=ROOT, env={**env, "DATABASE_URL": database_url},
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        owner_key = owner_issued.stdout.strip().splitlines()[-1]
        await asyncio.sleep(0.5)  # the new key reaches the cash registers
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{tills_port}") as till:
            sold = await till.post(
                "/purchase",
                json={"supermarket_id": "SMKT001", "items": ["milk"]},
                headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "cluster-1"},
            )
        sold_at = time.monotonic()
        assert sold.status_code == 201, sold.text
        assert sold.headers["x-cash-register"].startswith("127.0.0.1:")
        replica = await asyncpg.connect(replica_url)
        try:
            assert await replica.fetchval("SELECT pg_is_in_recovery()")
            # The nodes run on the shipped settings, sized as the compose database.
            for name, value in server_settings().items():
                assert await replica.fetchval("SELECT current_setting($1)", name) == value, name
            deadline = time.monotonic() + 5
            while not await replica.fetchval(
                "SELECT count(*) FROM purchases WHERE id = $1", sold.json()["purchase_id"]
            ):
                assert time.monotonic() < deadline, "the sale never reached the replica"
                await asyncio.sleep(0.05)
        finally:
            await replica.close()
        await _seen_by_the_owners(owners_port, owner_key, database_url, sold_at)
        assert "target_session_attrs=primary" in database_url
        assert said["node_a"].startswith("postgresql 127.0.0.1:")
        assert said["node_b"].startswith("postgresql 127.0.0.1:")
        # make cluster took a full backup at start; `make backup` takes one more of it.
        backed_up = await asyncio.to_thread(
            subprocess.run,
            ["make", "-s", "backup", "TYPE=diff"],
            cwd=ROOT, env=env, capture_output=True, text=True,
        )  # fmt: skip
        assert backed_up.returncode == 0, backed_up.stderr
        listed = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "backup", "info"],
            cwd=ROOT, env={**env, "PGBACKREST_CONFIG": said["backups"].split(" ")[0]},
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        kinds = [line.split("\t")[1] for line in listed.stdout.splitlines()]
        assert kinds == ["full", "diff"], listed.stdout
    finally:
        process.send_signal(signal.SIGTERM)
        exit_code = await asyncio.to_thread(process.wait, 60)
        if process.stdout is not None:
            process.stdout.close()
    assert exit_code == 0
    assert _running_under(folder) == []
    assert not _listening(tills_port)
    assert not _listening(owners_port)
