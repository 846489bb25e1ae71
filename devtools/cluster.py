"""`make cluster`: the several-machine topology on this machine, for measurement and tests.

Starts (under `CLUSTER_DIR`, default `.data/cluster`, made fresh each run) etcd and two
PostgreSQL nodes under Patroni, a primary and its synchronous standby (devtools/ha_cluster.py),
with WAL archived to a pgBackRest repository, on the shipped settings (ops/postgres/
server-settings.sh, sized as the compose database); runs the loader and takes a full backup; then
`CASH_REGISTERS` (3) cash register processes behind Debian's nginx on `CASH_REGISTER_PORT`
(8000) and the analytics on `ANALYTICS_PORT` (8001). Prints `DATABASE_URL=…` naming every node
(the owner's, for `python -m admin`; it reaches whichever node is the primary) and where each
part listens, writes the same to `CLUSTER_DIR/cluster.env` for `make backup`, then runs until
Ctrl-C or SIGTERM and stops everything it started. A differential backup is taken every
`CLUSTER_BACKUP_EVERY_SECONDS` (a day).

The services name every node too: the cash registers and the analytics' keys and catalog
connect with `target_session_attrs=primary` (wherever it is now; `read-write` would refuse the
analytics, whose role reads only), the owners' questions with `prefer-standby` (the standby
while it is up, else the primary).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from devtools.embedded_postgres import free_port, service_urls
from devtools.ha_cluster import HaCluster
from devtools.local_secrets import kept_secret
from devtools.nginx_front import NginxFront
from devtools.server_settings import server_settings
from devtools.uvicorn import service_command, wait_until_ready
from httpkit.settings import http_settings

ROOT = Path(__file__).resolve().parent.parent
FOLDER = Path(os.environ.get("CLUSTER_DIR", ROOT / ".data" / "cluster"))
BACKUP_EVERY_SECONDS = float(os.environ.get("CLUSTER_BACKUP_EVERY_SECONDS", 24 * 3600))


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    shutil.rmtree(FOLDER, ignore_errors=True)
    count = int(os.environ.get("CASH_REGISTERS", "3"))
    tills_port = int(os.environ.get("CASH_REGISTER_PORT", "8000"))
    owners_port = int(os.environ.get("ANALYTICS_PORT", "8001"))
    started: list[subprocess.Popen[bytes]] = []
    database = HaCluster(FOLDER, settings=server_settings())
    front: NginxFront | None = None
    try:
        database.start()
        url = database.url()
        assert database.repository is not None
        env = {
            **service_urls(url),
            "LOYALTY_CARD_KEY_FILE": str(kept_secret(ROOT / ".data" / "loyalty_card_key")),
            "METRICS_KEY_FILE": str(kept_secret(ROOT / ".data" / "metrics_key")),
            "SALE_COPIES_EXPECTED": "2",
            **os.environ,
            "DATABASE_URL": url,
            "PGBACKREST_CONFIG": str(database.repository.config),
        }
        (FOLDER / "cluster.env").write_text(
            f"DATABASE_URL={url}\nPGBACKREST_CONFIG={database.repository.config}\n"
        )
        subprocess.run(
            [sys.executable, "-m", "loader", "--data-dir", "data"], cwd=ROOT, env=env, check=True
        )
        scheduled = ScheduledBackups(env)
        scheduled.take("full")
        registers = [free_port() for _ in range(count)]
        for port in registers:
            started.append(
                subprocess.Popen(service_command("cash_register.main:app", port), cwd=ROOT, env=env)
            )
        on_replica = {
            **env,
            "ANALYTICS_PRIMARY_DATABASE_URL": env["ANALYTICS_DATABASE_URL"],
            "ANALYTICS_DATABASE_URL": service_urls(database.url(attrs="prefer-standby"))[
                "ANALYTICS_DATABASE_URL"
            ],
        }
        started.append(
            subprocess.Popen(
                service_command("analytics.main:app", owners_port), cwd=ROOT, env=on_replica
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
        standby = database.standby()
        print(f"replica: {standby.url()} (synchronous standby, node {standby.name})", flush=True)
        for node in database.nodes:
            print(
                f"node_{node.name}: postgresql {node.address}, patroni http://127.0.0.1:"
                f"{node.api_port}",
                flush=True,
            )
        print(f"etcd: http://{database.etcd.address}", flush=True)
        print(f"backups: {database.repository.config} (make backup)", flush=True)
        print(f"tills: http://127.0.0.1:{tills_port} (nginx, {count} cash registers)", flush=True)
        print(f"owners: http://127.0.0.1:{owners_port} (analytics, on the replica)", flush=True)
        print("cluster ready; Ctrl-C or SIGTERM stops it all", flush=True)
        while all(process.poll() is None for process in started):
            time.sleep(0.5)
            scheduled.when_due("diff")
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
        database.stop()


class ScheduledBackups:
    """The cluster's backup schedule: `python -m backup`, as cron would run it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.last = time.monotonic()

    def take(self, kind: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "backup", "backup", "--type", kind],
            cwd=ROOT, env=self.env, capture_output=True, text=True,
        )  # fmt: skip
        self.last = time.monotonic()
        if done.returncode != 0:
            print(f"backup failed: {done.stderr.strip()}", file=sys.stderr, flush=True)

    def when_due(self, kind: str) -> None:
        if time.monotonic() - self.last >= BACKUP_EVERY_SECONDS:
            self.take(kind)


if __name__ == "__main__":
    sys.exit(main())
