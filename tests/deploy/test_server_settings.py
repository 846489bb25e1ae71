"""PostgreSQL's shipped settings (ops/postgres/server-settings.sh): sized for the memory given,
refused by name when the figure is wrong, valid for a real server, and the same for compose,
the Patroni nodes, `make cluster` and `make bench`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import asyncpg
import pytest
import yaml

from devtools.embedded_postgres import EmbeddedPostgres
from devtools.server_settings import database_memory_limit, memory_bytes, server_settings
from tests.conftest import ROOT

SCRIPT = ROOT / "ops" / "postgres" / "server-settings.sh"
GIB = 1024**3


def _megabytes(value: str) -> int:
    number, unit = int(value[:-2]), value[-2:]
    return number * {"MB": 1, "GB": 1024}[unit]


def _run(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(SCRIPT), *arguments], capture_output=True, text=True)


@pytest.mark.parametrize("gib", [1, 2, 8, 32])
def test_the_memory_settings_follow_the_memory_given(gib: int) -> None:
    settings = server_settings(gib * GIB)
    megabytes = gib * 1024
    assert _megabytes(settings["shared_buffers"]) == megabytes // 4
    assert _megabytes(settings["effective_cache_size"]) == megabytes * 3 // 4
    assert _megabytes(settings["maintenance_work_mem"]) == min(megabytes // 16, 1024)
    assert 4 <= _megabytes(settings["work_mem"]) <= megabytes // 64
    # What does not depend on memory: a sale is on disk when acknowledged, an import has WAL
    # room between checkpoints, the statements' statistics are kept.
    assert settings["synchronous_commit"] == "on"
    assert _megabytes(settings["max_wal_size"]) >= 4096
    assert settings["shared_preload_libraries"] == "pg_stat_statements"


def test_without_a_figure_the_container_limit_or_the_machine_memory_sizes_them() -> None:
    machine = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0]) * 1024
    limit_file = Path("/sys/fs/cgroup/memory.max")
    limit = limit_file.read_text().strip() if limit_file.exists() else "max"
    expected = machine if limit == "max" else min(int(limit), machine)
    printed = dict(line.split("=", 1) for line in _run().stdout.splitlines())
    assert _megabytes(printed["shared_buffers"]) == expected // 1024**2 // 4


@pytest.mark.parametrize(
    ("figure", "named"),
    [("2g", "must be a number of bytes, not '2g'"), (str(100 * 1024**2), "100 MB is too little")],
)
def test_a_wrong_memory_figure_is_refused_by_name(figure: str, named: str) -> None:
    result = _run(figure)
    assert result.returncode == 2
    assert named in result.stderr
    assert result.stdout == ""


def test_compose_memory_limits_are_read_in_bytes() -> None:
    assert [memory_bytes(v) for v in ("2g", "512m", "64k", "1048576", "3GB")] == [
        2 * GIB, 512 * 1024**2, 64 * 1024, 1024**2, 3 * GIB,
    ]  # fmt: skip
    with pytest.raises(ValueError, match="not a memory limit"):
        memory_bytes("lots")


async def test_a_real_server_runs_with_every_setting(tmp_path: Path) -> None:
    settings = server_settings()
    server = EmbeddedPostgres(tmp_path / "pg", settings=settings).start()
    try:
        connection = await asyncpg.connect(server.url())
        try:
            for name, value in settings.items():
                assert await connection.fetchval("SELECT current_setting($1)", name) == value
            await connection.execute("CREATE EXTENSION pg_stat_statements")
            await connection.fetchval("SELECT count(*) FROM pg_stat_statements")
        finally:
            await connection.close()
    finally:
        server.destroy()


def test_the_compose_database_starts_postgres_with_the_settings_for_its_limit(
    tmp_path: Path,
) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    db = compose["services"]["db"]
    assert db["entrypoint"] == ["/bin/sh", "/etc/supermarket/sized-postgres.sh"]
    mounted = {volume.split(":")[1]: volume.split(":")[0] for volume in db["volumes"][1:]}
    assert mounted["/etc/supermarket/server-settings.sh"] == "./ops/postgres/server-settings.sh"
    assert mounted["/etc/supermarket/sized-postgres.sh"] == "./ops/postgres/sized-postgres.sh"
    # The official entrypoint, stood in for by one that prints what it was given.
    (tmp_path / "docker-entrypoint.sh").write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    (tmp_path / "docker-entrypoint.sh").chmod(0o755)
    started = subprocess.run(
        ["sh", str(ROOT / "ops/postgres/sized-postgres.sh"), *db["command"]],
        env={**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}",
             "SERVER_SETTINGS_SCRIPT": str(SCRIPT)},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    arguments = started.stdout.splitlines()
    assert arguments[0] == "postgres"
    assert all(flag == "-c" for flag in arguments[1::2])
    given = dict(value.split("=", 1) for value in arguments[2::2])
    assert given == dict(line.split("=", 1) for line in _run().stdout.splitlines())


def test_each_patroni_node_gets_the_same_settings_for_its_limit() -> None:
    printed = subprocess.run(
        ["sh", str(ROOT / "ops/patroni/patroni-config.sh"), str(database_memory_limit())],
        env={**os.environ, "PATRONI_TEMPLATE": str(ROOT / "ops/patroni/patroni.yml"),
             "SERVER_SETTINGS_SCRIPT": str(SCRIPT)},
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    parameters = yaml.safe_load(printed)["postgresql"]["parameters"]
    assert parameters["unix_socket_directories"] == "/tmp"
    assert {name: parameters[name] for name in server_settings()} == server_settings()


def test_make_bench_measures_the_shipped_settings() -> None:
    from bench.environment import SERVER_SETTINGS

    assert server_settings(database_memory_limit()) == SERVER_SETTINGS
