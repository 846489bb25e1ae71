"""The compose database's own init scripts, run on a real PostgreSQL of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from devtools.embedded_postgres import EmbeddedPostgres
from tests.conftest import ROOT

NARROW_CONNECT = ROOT / "ops" / "postgres" / "narrow-connect.sql"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    """A server as the postgres image makes it: its `postgres` and `template1` as they come."""
    embedded = EmbeddedPostgres(tmp_path / "data").start()
    try:
        yield embedded
    finally:
        embedded.stop()


async def connects(url: str) -> bool:
    try:
        connection = await asyncpg.connect(url)
    except asyncpg.InsufficientPrivilegeError:
        return False
    await connection.close()
    return True


async def test_a_services_role_may_not_connect_to_the_servers_own_databases(
    server: EmbeddedPostgres,
) -> None:
    admin = await asyncpg.connect(server.url())
    try:
        await admin.execute("CREATE ROLE a_service LOGIN PASSWORD 'pw'")
        service_url = f"postgresql://a_service:pw@127.0.0.1:{server.port}/postgres"
        assert await connects(service_url), "PostgreSQL's default: every role may connect"
        await admin.execute(NARROW_CONNECT.read_text())
    finally:
        await admin.close()
    assert not await connects(service_url)
    assert not await connects(service_url.removesuffix("/postgres") + "/template1")


def test_compose_runs_the_script_when_it_creates_the_database() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    mount = "./ops/postgres/narrow-connect.sql:/docker-entrypoint-initdb.d/10-narrow-connect.sql"
    assert mount in compose
