#!/bin/bash
# Run by simple.sh and cluster.sh when PostgreSQL is published (docker-compose.db-port.yml,
# DB_HOST_PORT in .env): the database runs on every setting of ops/postgres/server-settings.sh
# sized for the compose database's memory limit, as `make bench` measures them.
set -euo pipefail
set -a; . ./.env; set +a
PGPASSWORD="$(cat secrets/postgres_password)" .venv/bin/python - <<'PYTHON'
import asyncio
import os

import asyncpg

from devtools.server_settings import server_settings


async def main() -> None:
    connection = await asyncpg.connect(
        host="127.0.0.1", port=int(os.environ["DB_HOST_PORT"]), user=os.environ["POSTGRES_USER"],
        database=os.environ["POSTGRES_DB"], password=os.environ["PGPASSWORD"],
    )
    try:
        for name, value in server_settings().items():
            running = await connection.fetchval("SELECT current_setting($1)", name)
            assert running == value, f"{name} is {running}, not {value}"
    finally:
        await connection.close()
    print(f"PostgreSQL runs on the {len(server_settings())} shipped settings")


asyncio.run(main())
PYTHON
