"""Backups of the HA cluster (tests/ha.py) into its pgBackRest repository, and restores from
them: to a moment between two acknowledged sales, and to the end of the archive. A restore
that cannot be done says why and writes nothing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from backup.repository import BackupError, Repository, restored_server_options
from devtools.embedded_postgres import free_port
from devtools.ha_cluster import PG_BIN, as_server_user, give_to_server_user
from devtools.till_drill import until
from tests.conftest import ROOT
from tests.ha import Topology, healthy, sample

pytestmark = pytest.mark.cluster


async def sell(topology: Topology, count: int) -> list[int]:
    """`count` sales, one after another through nginx; their purchase ids."""
    key, store = topology.tills[0]
    sold = []
    async with httpx.AsyncClient(base_url=topology.front.url, timeout=15) as client:
        for _ in range(count):
            answer = await client.post(
                "/purchase",
                json={"supermarket_id": store, "items": ["milk"]},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert answer.status_code == 201, answer.text
            sold.append(answer.json()["purchase_id"])
    return sold


def repository_of(topology: Topology) -> Repository:
    assert topology.database.repository is not None
    return topology.database.repository


def backup_command(topology: Topology, *arguments: str) -> subprocess.CompletedProcess[str]:
    """`python -m backup` as an operator runs it, with the cluster's settings."""
    env = {
        **os.environ,
        "PGBACKREST_CONFIG": str(repository_of(topology).config),
        "DATABASE_URL": topology.owner_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "backup", *arguments],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@contextmanager
def restored_server(into: Path) -> Iterator[str]:
    """PostgreSQL started on a restored folder, once it has replayed to its target and
    promoted itself; the owner's URL of its shop database."""
    port = free_port()
    pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(into)]
    options = " ".join(f"'{part}'" if part.endswith("=") else part
                       for part in restored_server_options(into, port))  # fmt: skip
    subprocess.run(
        [*pg_ctl, "-w", "-t", "120", "-l", str(into / "restored.log"), "-o", options, "start"],
        check=True, capture_output=True, **as_server_user(),
    )  # fmt: skip
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/supermarket"
    finally:
        subprocess.run(
            [*pg_ctl, "-m", "immediate", "stop"], capture_output=True, **as_server_user()
        )


async def purchases_once_promoted(url: str) -> set[int]:
    deadline = time.monotonic() + 60
    while True:
        try:
            connection = await asyncpg.connect(url)
        except (OSError, asyncpg.PostgresError):
            assert time.monotonic() < deadline, "the restored server never opened"
            await asyncio.sleep(0.2)
            continue
        try:
            if not await connection.fetchval("SELECT pg_is_in_recovery()"):
                return {row["id"] for row in await connection.fetch("SELECT id FROM purchases")}
        finally:
            await connection.close()
        assert time.monotonic() < deadline, "the restored server never finished recovery"
        await asyncio.sleep(0.2)


async def stored_now(topology: Topology) -> set[int]:
    connection = await asyncpg.connect(topology.owner_url)
    try:
        return {row["id"] for row in await connection.fetch("SELECT id FROM purchases")}
    finally:
        await connection.close()


def fresh_folder(parent: Path, name: str) -> Path:
    """A place for a restore: its parent belongs to the database's account, it not yet made."""
    parent.mkdir(parents=True, exist_ok=True)
    give_to_server_user(parent)
    return parent / name


async def test_restore_to_a_moment_and_to_the_end(ha_topology: Topology, tmp_path: Path) -> None:
    topology = ha_topology
    await healthy(topology)
    await sell(topology, 5)
    taken = await asyncio.to_thread(backup_command, topology, "backup", "--type", "full")
    assert taken.returncode == 0, taken.stderr
    # The backup is recorded where the cash register watches its age.
    await until(lambda: sample(topology, "last_backup_age_seconds") < 120, 10, "age not seen")
    await sell(topology, 5)
    await asyncio.sleep(1.1)  # past the backup's last whole second
    before = await sell(topology, 3)
    await asyncio.sleep(0.3)
    moment = datetime.now(UTC)
    await asyncio.sleep(0.3)
    after = await sell(topology, 4)
    await asyncio.to_thread(repository_of(topology).check, as_server_user())
    everything = await stored_now(topology)
    assert set(before) | set(after) <= everything

    to_moment = fresh_folder(tmp_path / "restores", "to-moment")
    said = await asyncio.to_thread(
        backup_command, topology, "restore", "--into", str(to_moment), "--to", moment.isoformat()
    )
    assert said.returncode == 0, said.stderr
    with restored_server(to_moment) as url:
        restored = await purchases_once_promoted(url)
    assert set(before) <= restored
    assert restored == everything - set(after), "the moment's restore is not the sales before it"

    to_end = fresh_folder(tmp_path / "restores", "to-end")
    said = await asyncio.to_thread(backup_command, topology, "restore", "--into", str(to_end))
    assert said.returncode == 0, said.stderr
    with restored_server(to_end) as url:
        assert await purchases_once_promoted(url) == everything


async def test_a_restore_that_cannot_be_done_says_why_and_writes_nothing(
    ha_topology: Topology, tmp_path: Path
) -> None:
    topology = ha_topology
    repository = repository_of(topology)
    backups = await asyncio.to_thread(repository.backups, as_server_user())
    if not backups:
        await asyncio.to_thread(repository.backup, "full", as_server_user())
        backups = await asyncio.to_thread(repository.backups, as_server_user())
    first_started = datetime.fromtimestamp(backups[0]["timestamp"]["start"], UTC)

    too_early = fresh_folder(tmp_path / "bad", "too-early")
    said = await asyncio.to_thread(
        backup_command, topology, "restore", "--into", str(too_early),
        "--to", (first_started - timedelta(minutes=5)).isoformat(),
    )  # fmt: skip
    assert said.returncode == 1
    assert "is before the first backup ended" in said.stderr
    assert not too_early.exists()

    occupied = fresh_folder(tmp_path / "bad", "occupied")
    occupied.mkdir()
    (occupied / "keep.txt").write_text("an operator's file")
    said = await asyncio.to_thread(backup_command, topology, "restore", "--into", str(occupied))
    assert said.returncode == 1
    assert "is not empty" in said.stderr
    assert [path.name for path in occupied.iterdir()] == ["keep.txt"]

    missing = replace(repository, config=tmp_path / "missing.conf")
    missing.config.write_text(
        repository.config.read_text().replace(
            f"repo1-path={repository.repository_path()}", f"repo1-path={tmp_path / 'nowhere'}"
        )
    )
    give_to_server_user(missing.config)
    with pytest.raises(BackupError, match=f"backup repository {tmp_path / 'nowhere'} does not"):
        missing.restore(fresh_folder(tmp_path / "bad", "no-repository"))

    wrong = replace(repository, stanza="no-such-stanza")
    with pytest.raises(BackupError, match="no-such-stanza") as refused:
        wrong.restore(fresh_folder(tmp_path / "bad", "wrong-stanza"), user=as_server_user())
    assert "does not exist" in str(refused.value) or "missing" in str(refused.value)
    assert not (tmp_path / "bad" / "wrong-stanza").exists()


def test_backup_names_its_missing_setting() -> None:
    env = {name: value for name, value in os.environ.items() if name != "PGBACKREST_CONFIG"}
    said = subprocess.run(
        [sys.executable, "-m", "backup", "info"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert said.returncode == 2
    assert "PGBACKREST_CONFIG" in said.stderr
