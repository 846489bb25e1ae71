"""What a benchmark runs against: a fresh database with the seed data, and real servers."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict

import asyncpg

from admin.keys import issue
from devtools.embedded_postgres import EmbeddedPostgres, free_port, service_urls
from devtools.local_secrets import kept_secret
from devtools.server_settings import server_settings
from devtools.uvicorn import service_command, wait_until_ready

ROOT = Path(__file__).resolve().parent.parent
WORK_DIR = ROOT / "bench" / ".work"
BENCH_DATABASE = "supermarket_bench"
# The settings users run (ops/postgres/server-settings.sh, sized for the compose database's
# memory limit): what the figures are measured on.
SERVER_SETTINGS = server_settings()


WRK_THREADS = 2
QUIET_WAIT_SECONDS = 180


class TillKeysForWrk(TypedDict):
    """The environment bench/purchase.lua reads its till keys from."""

    BENCH_TILL_KEYS: str


# Tills per store: the load comes from 300 tills, each with its own ledger (receipt numbers
# and hash chain), as a chain's does; three tills would make three hot rows.
TILLS_PER_STORE = 100


@dataclass(frozen=True)
class BenchKeys:
    tills: dict[str, list[str]]  # store -> its tills' keys
    owner: str

    def wrk_env(self) -> TillKeysForWrk:
        """For bench/tills.lua: each store's tills' keys."""
        return {"BENCH_TILL_KEYS": ";".join(f"{s}={','.join(k)}" for s, k in self.tills.items())}

    def owner_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.owner}"}


async def _issue_keys(database_url: str) -> BenchKeys:
    connection = await asyncpg.connect(database_url)
    try:
        stores = [row["id"] for row in await connection.fetch("SELECT id FROM supermarkets")]
        tills = {
            s: [
                await issue(connection, "till", f"bench-{s.lower()}-{n:03d}", s)
                for n in range(1, TILLS_PER_STORE + 1)
            ]
            for s in stores
        }
        return BenchKeys(tills, await issue(connection, "owner", "bench-owner", None))
    finally:
        await connection.close()


def bench_keys(database_url: str) -> BenchKeys:
    """TILLS_PER_STORE till keys per store and an owner key on the bench database (its stores
    must exist)."""
    return asyncio.run(_issue_keys(database_url))


@contextmanager
def bench_database() -> Iterator[str]:
    """A fresh database with the seed data loaded; yields its URL.

    On BENCH_DATABASE_URL's server when given, otherwise on a private server made for this run
    (synchronous_commit stays on: a 201 means the purchase is on disk).
    """
    server = None
    admin_url = os.environ.get("BENCH_DATABASE_URL")
    if not admin_url:
        shutil.rmtree(WORK_DIR / "pg", ignore_errors=True)
        server = EmbeddedPostgres(WORK_DIR / "pg", settings=SERVER_SETTINGS).start()
        admin_url = server.url()
    try:
        yield seeded_database(admin_url)
    finally:
        if server is not None:
            server.destroy()


def seeded_database(admin_url: str) -> str:
    """The bench database made afresh on `admin_url`'s server, the seed data loaded; its URL."""
    url = admin_url.rsplit("/", 1)[0] + f"/{BENCH_DATABASE}"
    asyncio.run(_recreate(admin_url))
    subprocess.run(
        [sys.executable, "-m", "loader", "--data-dir", str(ROOT / "data")],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return url


async def _recreate(admin_url: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
    finally:
        await connection.close()


@contextmanager
def serving(
    app: str, database_url: str, workers: int, log_name: str | None = None, **env: str
) -> Iterator[str]:
    """Run `app` under uvicorn as its container does; yields its base URL."""
    with serving_process(app, database_url, workers, log_name, **env) as (base_url, _):
        yield base_url


@contextmanager
def serving_process(
    app: str, database_url: str, workers: int, log_name: str | None = None, **env: str
) -> Iterator[tuple[str, int]]:
    """`serving`, also yielding the server's pid (its CPU time is measured)."""
    port = free_port()
    command = service_command(app, port, workers)
    log = (WORK_DIR / f"{log_name or app.split('.')[0]}.log").open("w")
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={
            "LOYALTY_CARD_KEY_FILE": str(kept_secret(WORK_DIR / "loyalty_card_key")),
            **os.environ,
            "DATABASE_URL": database_url,
            **service_urls(database_url),
            # The bench measures what the analytics answer, not the owners' rate limit (the
            # tills' is raised where they are measured); the read slots stay as shipped.
            "OWNER_REQUESTS_PER_SECOND": "0",
            **env,
        },
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base_url, process)
        yield base_url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _wrk_command(
    url: str, seconds: int, connections: int, script: Path, headers: dict[str, str] | None = None
) -> list[str]:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: `make bench` installs it (apt-get install wrk)")
    return [
        "wrk",
        "-t",
        str(min(WRK_THREADS, connections)),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        *[f"-H{name}: {value}" for name, value in (headers or {}).items()],
        url,
    ]


def _wrk_env(script: Path, env: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "BENCH_DIR": str(script.parent),
        "BENCH_THREADS": str(WRK_THREADS),
        "BENCH_ACKNOWLEDGED_FILE": str(WORK_DIR / "acknowledged-discarded.txt"),
        **env,
    }


def _figures(output: str) -> dict[str, float]:
    line = next(line for line in output.splitlines() if line.startswith("BENCH_JSON "))
    figures: dict[str, float] = json.loads(line.removeprefix("BENCH_JSON "))
    figures["rate"] = figures["requests"] / figures["seconds"]
    return figures


def wrk(
    url: str,
    seconds: int,
    connections: int,
    script: Path,
    headers: dict[str, str] | None = None,
    **env: str,
) -> dict[str, float]:
    """Run wrk with a script that prints a BENCH_JSON line; return those figures."""
    result = subprocess.run(
        _wrk_command(url, seconds, connections, script, headers),
        capture_output=True,
        text=True,
        check=True,
        env=_wrk_env(script, env),
    )
    return _figures(result.stdout)


@contextmanager
def wrk_while(
    url: str,
    connections: int,
    script: Path,
    figures: dict[str, float],
    headers: dict[str, str] | None = None,
    **env: str,
) -> Iterator[None]:
    """wrk running for as long as the block runs (stopped with SIGINT, as Ctrl-C would: it
    still reports); its figures are put into `figures` afterwards."""
    process = subprocess.Popen(
        _wrk_command(url, 3600, connections, script, headers),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_wrk_env(script, env),
    )
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    figures.update(_figures(output))


def machine() -> str:
    """One line about the machine the figures come from."""
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        cpu = found.group(1).strip() if found else cpu
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        found = re.search(r"MemTotal:\s*(\d+)", meminfo.read_text())
        memory = f", {int(found.group(1)) / 1024 / 1024:.0f} GiB" if found else ""
    return f"{os.cpu_count()} cores ({cpu}){memory}, {platform.system()} {platform.release()}"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


async def wait_for_quiet(database_url: str) -> float:
    """Wait until no autovacuum worker runs (what a heavy run leaves behind), at most
    QUIET_WAIT_SECONDS, so what is measured next does not share the cores with it; seconds."""
    connection = await asyncpg.connect(database_url)
    started = time.monotonic()
    try:
        while time.monotonic() - started < QUIET_WAIT_SECONDS:
            if not await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
            ):
                break
            await asyncio.sleep(1)
    finally:
        await connection.close()
    return time.monotonic() - started
