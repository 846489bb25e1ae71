"""A PostgreSQL primary and a synchronous hot standby under Patroni, on this machine.

`make cluster`, the fault tests and `make bench` run the several-machine database this way:
one etcd member (the store Patroni elects the leader in), and one Patroni agent per node, each
running Debian's PostgreSQL 15 in its own folder. Patroni keeps one standby synchronous while
it is healthy and drops back to the primary alone when it is not (`synchronous_mode`, not
strict), promotes only a standby that has every acknowledged commit, and rewinds an old primary
that comes back so it can follow the new one.

A node is killed as its machine would die: SIGKILL to its agent, its postmaster and every
backend at once (`PatroniNode.kill`). The timeouts are shorter than Patroni's defaults (a
leader lease of 10 s instead of 30 s) so a failover completes within about 15 s; the operations
guide says what that trades.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

from backup.repository import Node, Repository
from devtools.embedded_postgres import free_port, open_path_for, server_user

PG_BIN = Path(os.environ.get("CLUSTER_PG_BIN", "/usr/lib/postgresql/15/bin"))
PATRONI = shutil.which("patroni") or "/usr/bin/patroni"
ETCD = shutil.which("etcd") or "/usr/bin/etcd"
SCOPE = "supermarket"
# The leader's lease, how often each agent looks, and how long it retries the store or
# PostgreSQL before it gives up: Patroni requires loop_wait + 2 * retry_timeout <= ttl.
LEADER_TTL_SECONDS = int(os.environ.get("CLUSTER_LEADER_TTL", "10"))
LOOP_WAIT_SECONDS = 1
RETRY_TIMEOUT_SECONDS = 3


def as_server_user() -> dict[str, Any]:
    """Popen's arguments to run as the unprivileged account when we are root."""
    user = server_user()
    return {"user": user, "group": user, "extra_groups": []} if user else {}


def give_to_server_user(path: Path) -> None:
    """Make `path` (a folder we created) the server account's, and its parents passable."""
    user = server_user()
    if user:
        open_path_for(user, path)


def _children_of(pid: int) -> list[int]:
    """Every process whose parent is `pid` (read from /proc, no extra package)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry.name))
    return found


class Etcd:
    """One etcd member on loopback: the store the agents elect the leader in."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.client_port = free_port()
        self.peer_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    def start(self) -> Etcd:
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / "etcd.log").open("wb") as log:
            self.process = subprocess.Popen(
                [
                    ETCD, "--name", "etcd1", "--data-dir", str(self.folder / "data"),
                    "--listen-client-urls", f"http://{self.address}",
                    "--advertise-client-urls", f"http://{self.address}",
                    "--listen-peer-urls", f"http://127.0.0.1:{self.peer_port}",
                    "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer_port}",
                    "--initial-cluster", f"etcd1=http://127.0.0.1:{self.peer_port}",
                ],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urlopen(f"http://{self.address}/health", timeout=1) as answer:
                    if json.load(answer).get("health") == "true":
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"etcd did not start: {(self.folder / 'etcd.log').read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


class PatroniNode:
    """One database machine: a Patroni agent and the PostgreSQL it runs."""

    def __init__(
        self,
        name: str,
        folder: Path,
        etcd: Etcd,
        archive_command: str | None = None,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.settings = settings or {}
        self.folder = folder
        self.data_dir = folder / "data"
        self.port = free_port()
        self.api_port = free_port()
        self.etcd = etcd
        self.archive_command = archive_command
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def config(self) -> dict[str, Any]:
        parameters: dict[str, Any] = {
            "max_connections": 200,
            "max_wal_senders": 10,
            "max_replication_slots": 10,
            "wal_level": "replica",
            "wal_log_hints": "on",  # pg_rewind needs it to bring an old primary back
            "hot_standby": "on",
            "synchronous_commit": "on",
            "unix_socket_directories": str(self.folder),
            "archive_mode": "on" if self.archive_command else "off",
            "archive_command": self.archive_command or "/bin/true",
            "archive_timeout": "60s",
            "shared_buffers": "128MB",
            **self.settings,
        }
        trust = [
            "local all all trust",
            "host all all 127.0.0.1/32 trust",
            "host replication all 127.0.0.1/32 trust",
        ]
        return {
            "scope": SCOPE,
            "name": self.name,
            "restapi": {
                "listen": f"127.0.0.1:{self.api_port}",
                "connect_address": f"127.0.0.1:{self.api_port}",
            },
            "etcd3": {"hosts": [self.etcd.address]},
            "bootstrap": {
                "dcs": {
                    "ttl": LEADER_TTL_SECONDS,
                    "loop_wait": LOOP_WAIT_SECONDS,
                    "retry_timeout": RETRY_TIMEOUT_SECONDS,
                    "maximum_lag_on_failover": 16 * 1024 * 1024,
                    "synchronous_mode": True,
                    "postgresql": {
                        "use_pg_rewind": True,
                        "use_slots": True,
                        "parameters": parameters,
                    },
                },
                "initdb": [{"encoding": "UTF8"}, {"locale": "C"}, {"auth": "trust"}],
                "pg_hba": trust,
            },
            "postgresql": {
                "listen": self.address,
                "connect_address": self.address,
                "data_dir": str(self.data_dir),
                "bin_dir": str(PG_BIN),
                "pgpass": str(self.folder / "pgpass"),
                # A standby's copy checkpoints at once, not spread over minutes.
                "basebackup": [{"checkpoint": "fast"}],
                "authentication": {
                    "superuser": {"username": "postgres"},
                    "replication": {"username": "postgres"},
                    "rewind": {"username": "postgres"},
                },
                "pg_hba": trust,
                "parameters": parameters,
            },
        }

    def start(self) -> PatroniNode:
        """Start the agent; it bootstraps the cluster, or joins it as a standby."""
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "patroni.yml"
        config.write_text(json.dumps(self.config(), indent=2))  # JSON is YAML
        give_to_server_user(self.folder)
        with (self.folder / "patroni.log").open("ab") as log:
            self.process = subprocess.Popen(
                [PATRONI, str(config)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **as_server_user(),
            )  # fmt: skip
        return self

    def state(self) -> dict[str, Any]:
        """What the agent says of its node ({} when it does not answer)."""
        try:
            with urlopen(f"http://127.0.0.1:{self.api_port}/patroni", timeout=1) as answer:
                found: dict[str, Any] = json.load(answer)
                return found
        except (OSError, ValueError):
            return {}

    def is_primary(self) -> bool:
        state = self.state()
        return state.get("role") == "master" and state.get("state") == "running"

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def kill(self) -> None:
        """The machine dies: the agent, the postmaster and every backend get SIGKILL at once."""
        victims = []
        if self.process is not None and self.process.poll() is None:
            victims.append(self.process.pid)
        postmaster = self.postmaster_pid()
        if postmaster is not None and Path(f"/proc/{postmaster}").exists():
            victims += [postmaster, *_children_of(postmaster)]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=10)
        self._wait_gone(postmaster)

    def stop(self) -> None:
        """A clean stop: the agent stops its PostgreSQL, then itself."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        postmaster = self.postmaster_pid()
        if postmaster is not None and Path(f"/proc/{postmaster}").exists():
            os.kill(postmaster, signal.SIGQUIT)
            self._wait_gone(postmaster)

    @staticmethod
    def _wait_gone(pid: int | None) -> None:
        deadline = time.monotonic() + 10
        while pid is not None and Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)


class HaCluster:
    """etcd and two Patroni nodes in `folder`; node a bootstraps, node b follows it."""

    def __init__(
        self, folder: Path, backups: bool = True, settings: dict[str, str] | None = None
    ) -> None:
        self.folder = folder
        self.etcd = Etcd(folder / "etcd")
        self.nodes = [
            PatroniNode(name, folder / name, self.etcd, settings=settings) for name in ("a", "b")
        ]
        self.repository: Repository | None = None
        if backups:
            self.repository = Repository(
                folder / "backups" / "repository",
                folder / "backups" / "pgbackrest.conf",
                [Node(node.data_dir, node.port, node.folder) for node in self.nodes],
            )
            for node, seen in zip(self.nodes, self.repository.nodes, strict=True):
                node.archive_command = self.repository.archive_command(seen)

    def start(self, timeout: float = 90) -> HaCluster:
        """etcd, the first node (it makes the database), the second (it copies the first and
        becomes its synchronous standby), and the backup repository's stanza."""
        self.etcd.start()
        if self.repository is not None:
            self.repository.write_config()
            (self.folder / "backups" / "repository").mkdir(parents=True, exist_ok=True)
            give_to_server_user(self.repository.config.parent)
        first, second = self.nodes
        first.start()
        self.wait_for_primary(timeout)
        if self.repository is not None:
            self.repository.create_stanza(as_server_user())
        second.start()
        self.wait_synchronous(timeout)
        return self

    def backup(self, kind: str = "full") -> None:
        """A backup of whichever node is the primary now."""
        assert self.repository is not None, "this cluster has no backup repository"
        self.repository.backup(kind, as_server_user())

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        self.etcd.stop()

    def url(
        self, database: str = "postgres", user: str = "postgres", attrs: str = "primary"
    ) -> str:
        """Every node in one URL: a client connects to whichever is the primary."""
        hosts = ",".join(node.address for node in self.nodes)
        return f"postgresql://{user}@{hosts}/{database}?target_session_attrs={attrs}"

    def primary(self) -> PatroniNode | None:
        for node in self.nodes:
            if node.is_primary():
                return node
        return None

    def standby(self) -> PatroniNode:
        primary = self.primary()
        [other] = [node for node in self.nodes if node is not primary]
        return other

    def wait_for_primary(self, timeout: float = 60) -> PatroniNode:
        return self._wait_for(self.primary, timeout, "no primary")

    def _wait_for(
        self, find: Callable[[], PatroniNode | None], timeout: float, missing: str
    ) -> PatroniNode:
        """`find()`'s node once it has one; RuntimeError saying `missing` after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = find()
            if found is not None:
                return found
            time.sleep(0.1)
        raise RuntimeError(f"{missing} within {timeout:g} s: {self.describe()}")

    def synchronous_standby(self) -> PatroniNode | None:
        """The node the primary waits for at each commit, if any."""
        try:
            primary = self.primary()
            if primary is None:
                return None
            with urlopen(f"http://127.0.0.1:{primary.api_port}/cluster", timeout=1) as answer:
                members = json.load(answer)["members"]
        except (OSError, ValueError, KeyError):
            return None
        for member in members:
            if member.get("role") == "sync_standby" and member.get("state") in (
                "running",
                "streaming",
            ):
                return next(node for node in self.nodes if node.name == member["name"])
        return None

    def wait_synchronous(self, timeout: float = 60) -> PatroniNode:
        return self._wait_for(self.synchronous_standby, timeout, "no synchronous standby")

    def set_synchronous(self, synchronous: bool, timeout: float = 60) -> None:
        """Turn synchronous replication on or off for the whole cluster (Patroni's dynamic
        configuration, as `patronictl edit-config` would), and wait until it is so."""
        primary = self.wait_for_primary(timeout)
        request = Request(
            f"http://127.0.0.1:{primary.api_port}/config",
            data=json.dumps({"synchronous_mode": synchronous}).encode(),
            method="PATCH",
            headers={"Content-Type": "application/json"},
        )
        with urlopen(request, timeout=5):
            pass
        if synchronous:
            self.wait_synchronous(timeout)
            return
        deadline = time.monotonic() + timeout
        while self.synchronous_standby() is not None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"still synchronous after {timeout:g} s: {self.describe()}")
            time.sleep(0.2)

    def describe(self) -> str:
        return "; ".join(f"{node.name}: {node.state() or 'not answering'}" for node in self.nodes)
