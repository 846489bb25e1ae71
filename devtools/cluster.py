"""`make cluster`: the Phase 3 topology on this machine, for measurement and tests.

Starts a private PostgreSQL primary (under `CLUSTER_DIR`, default `.data/cluster`, made fresh
each run) and a hot
standby fed by streaming replication (`pg_basebackup` with a physical replication slot), runs
the loader, then `CASH_REGISTERS` (3) cash register processes behind Debian's nginx on
`CASH_REGISTER_PORT` (8000) and the analytics on `ANALYTICS_PORT` (8001). Prints the primary's
URL as `DATABASE_URL=…` (for `python -m admin`) and where each service listens, then runs until
Ctrl-C or SIGTERM and stops everything it started.

The analytics read the replica (ANALYTICS_DATABASE_URL) and follow keys and the catalog on
the primary (ANALYTICS_PRIMARY_DATABASE_URL): a standby receives no NOTIFY.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from devtools.embedded_postgres import EmbeddedPostgres, free_port, service_urls
from devtools.local_secrets import kept_secret
from devtools.nginx_front import NginxFront
from devtools.uvicorn import uvicorn_command, wait_until_ready
from httpkit.settings import http_settings

ROOT = Path(__file__).resolve().parent.parent
FOLDER = Path(os.environ.get("CLUSTER_DIR", ROOT / ".data" / "cluster"))
SLOT = "replica"


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    shutil.rmtree(FOLDER, ignore_errors=True)
    count = int(os.environ.get("CASH_REGISTERS", "3"))
    tills_port = int(os.environ.get("CASH_REGISTER_PORT", "8000"))
    owners_port = int(os.environ.get("ANALYTICS_PORT", "8001"))
    started: list[subprocess.Popen[bytes]] = []
    servers: list[EmbeddedPostgres] = []
    front: NginxFront | None = None
    try:
        primary = EmbeddedPostgres(FOLDER / "primary").start()
        servers.append(primary)
        replica = EmbeddedPostgres.standby_of(primary, FOLDER / "replica", SLOT)
        servers.append(replica)
        url = primary.url()
        env = {
            **service_urls(url),
            "LOYALTY_CARD_KEY_FILE": str(kept_secret(ROOT / ".data" / "loyalty_card_key")),
            "METRICS_KEY_FILE": str(kept_secret(ROOT / ".data" / "metrics_key")),
            **os.environ,
            "DATABASE_URL": url,
        }
        subprocess.run(
            [sys.executable, "-m", "loader", "--data-dir", "data"], cwd=ROOT, env=env, check=True
        )
        registers = [free_port() for _ in range(count)]
        for port in registers:
            started.append(
                subprocess.Popen(uvicorn_command("cash_register.main:app", port), cwd=ROOT, env=env)
            )
        on_replica = {
            **env,
            "ANALYTICS_PRIMARY_DATABASE_URL": env["ANALYTICS_DATABASE_URL"],
            "ANALYTICS_DATABASE_URL": service_urls(replica.url())["ANALYTICS_DATABASE_URL"],
        }
        started.append(
            subprocess.Popen(
                uvicorn_command("analytics.main:app", owners_port), cwd=ROOT, env=on_replica
            )
        )
        for port in [*registers, owners_port]:
            wait_until_ready(f"http://127.0.0.1:{port}")
        front = NginxFront(
            FOLDER / "nginx",
            tills_port,
            [f"127.0.0.1:{port}" for port in registers],
            http_settings().max_body_bytes,
        ).start()
        print(f"DATABASE_URL={url}", flush=True)
        print(f"replica: {replica.url()} (streaming from the primary, slot {SLOT})", flush=True)
        print(f"tills: http://127.0.0.1:{tills_port} (nginx, {count} cash registers)", flush=True)
        print(f"owners: http://127.0.0.1:{owners_port} (analytics, on the replica)", flush=True)
        print("cluster ready; Ctrl-C or SIGTERM stops it all", flush=True)
        while all(process.poll() is None for process in started):
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        if front is not None:
            front.stop()
        for process in started:
            process.terminate()
        for process in started:
            process.wait(timeout=20)
        for server in reversed(servers):
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
