"""pgBackRest for the chain's database: its configuration, backups, and restores.

One repository (`repo1-path`, a folder or a volume; object storage is a setting away, see the
operations guide) holds the full and differential backups and every WAL segment archived by
whichever node is the primary. Every node is listed (`pg1-*`, `pg2-*`): pgBackRest finds the
primary itself when it backs up, so a backup taken after a failover needs no change.

A restore goes into a fresh folder only, and a moment before the first backup is refused
before anything is written: PostgreSQL would replay the backup and then stop, unable to go
back in time, with an error far from its cause.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

STANZA = "supermarket"
PGBACKREST = "pgbackrest"


KINDS = ("full", "diff", "incr")


class BackupError(RuntimeError):
    """A backup or restore that cannot be done, with what is wrong."""


@dataclass(frozen=True)
class Backup:
    """One backup in the repository."""

    label: str
    kind: str
    started_at: datetime
    finished_at: datetime

    @classmethod
    def described(cls, info: dict[str, Any]) -> Backup:
        """From one entry of `pgbackrest info --output=json`."""
        return cls(
            label=info["label"],
            kind=info["type"],
            started_at=datetime.fromtimestamp(info["timestamp"]["start"], UTC),
            finished_at=datetime.fromtimestamp(info["timestamp"]["stop"], UTC),
        )


@dataclass(frozen=True)
class Node:
    """A database node as pgBackRest reaches it on this machine."""

    data_dir: Path
    port: int
    socket_dir: Path


@dataclass(frozen=True)
class Repository:
    """The repository at `path` for the nodes; `config` is where its settings are written
    (or, with no path, an existing configuration to use as it is)."""

    path: Path | None
    config: Path
    nodes: list[Node] = field(default_factory=list)
    stanza: str = STANZA
    retention_full: int = 2
    retention_diff: int = 6

    def write_config(self) -> Path:
        """pgBackRest's configuration file for this repository and these nodes."""
        work = self.config.parent
        lines = [
            "[global]",
            f"repo1-path={self.path}",
            f"repo1-retention-full={self.retention_full}",
            f"repo1-retention-diff={self.retention_diff}",
            "compress-type=lz4",
            "start-fast=y",
            "archive-check=y",
            f"log-path={work / 'log'}",
            f"lock-path={work / 'lock'}",
            f"spool-path={work / 'spool'}",
            "log-level-console=warn",
            "log-level-stderr=error",
            "log-level-file=info",
            "",
            f"[{self.stanza}]",
        ]
        for number, node in enumerate(self.nodes, start=1):
            lines += [
                f"pg{number}-path={node.data_dir}",
                f"pg{number}-port={node.port}",
                f"pg{number}-socket-path={node.socket_dir}",
                f"pg{number}-user=postgres",
            ]
        work.mkdir(parents=True, exist_ok=True)
        self.config.write_text("\n".join(lines) + "\n")
        return self.config

    def archive_command(self, node: Node) -> str:
        """PostgreSQL's archive_command on `node`: push each finished WAL segment."""
        return (
            f"{PGBACKREST} --config={self.config} --stanza={self.stanza} "
            f"--pg1-path={node.data_dir} archive-push %p"
        )

    def repository_path(self) -> Path | None:
        """The repository's folder as the configuration names it (None: object storage)."""
        for line in self.config.read_text().splitlines():
            name, found, value = line.partition("=")
            if found and name.strip() == "repo1-path":
                return Path(value.strip())
        return None

    def run(self, *arguments: str, user: dict[str, object] | None = None) -> str:
        """One pgBackRest command; BackupError with its own message when it fails. As root,
        it runs as the owner of the configuration (the database's account)."""
        if not self.config.is_file():
            raise BackupError(f"no pgBackRest configuration at {self.config}")
        folder = self.repository_path()
        if folder is not None and not folder.is_dir():
            raise BackupError(f"the backup repository {folder} does not exist")
        command = [PGBACKREST, f"--config={self.config}", f"--stanza={self.stanza}", *arguments]
        done = subprocess.run(  # type: ignore[call-overload]
            command, capture_output=True, text=True, **(user or self._config_owner())
        )
        if done.returncode != 0:
            said = (done.stderr or done.stdout).strip().splitlines()
            raise BackupError(said[-1] if said else f"pgbackrest {arguments[0]} failed")
        return str(done.stdout)

    def _config_owner(self) -> dict[str, object]:
        owner = self.config.stat()
        if os.geteuid() != 0 or owner.st_uid == 0:
            return {}
        return {"user": owner.st_uid, "group": owner.st_gid, "extra_groups": []}

    def create_stanza(self, user: dict[str, object] | None = None) -> None:
        self.run("stanza-create", user=user)

    def backup(self, kind: str = "full", user: dict[str, object] | None = None) -> Backup:
        """A full, differential or incremental backup of the primary, whichever node it is;
        what the repository says of it once it is done."""
        if kind not in KINDS:
            raise BackupError(f"unknown backup type {kind!r}: one of {', '.join(KINDS)}")
        self.run(f"--type={kind}", "backup", user=user)
        return Backup.described(self.backups(user)[-1])

    def backups(self, user: dict[str, object] | None = None) -> list[dict[str, Any]]:
        """The repository's backups, oldest first, as `pgbackrest info` describes them."""
        [stanza] = json.loads(self.run("--output=json", "info", user=user))
        status = stanza["status"]
        if status["code"] not in (0, 2):  # 2: the stanza exists and has no backup yet
            raise BackupError(f"stanza {self.stanza}: {status['message']}")
        found: list[dict[str, Any]] = stanza["backup"]
        return found

    def restore(
        self, into: Path, moment: datetime | None = None, user: dict[str, object] | None = None
    ) -> None:
        """Restore into the fresh folder `into`: to `moment` (an aware datetime), or to the
        end of the archive. The restored server promotes itself when it gets there."""
        if into.exists() and any(into.iterdir()):
            raise BackupError(f"{into} is not empty: a restore goes into a fresh folder")
        backups = self.backups(user)
        if not backups:
            raise BackupError(f"stanza {self.stanza} has no backup to restore")
        if moment is not None:
            if moment.tzinfo is None:
                raise BackupError("the restore moment needs a time zone (e.g. +00:00)")
            # The repository keeps whole seconds: the backup may have ended up to one later.
            first_end = Backup.described(backups[0]).finished_at + timedelta(seconds=1)
            if moment < first_end:
                raise BackupError(
                    f"{moment.isoformat()} is before the first backup ended "
                    f"({first_end.isoformat()}): there is nothing to restore it from"
                )
        # To the end of the archive, PostgreSQL promotes itself when the WAL runs out.
        target = (
            ["--type=time", f"--target={moment.isoformat(sep=' ')}", "--target-action=promote"]
            if moment
            else []
        )
        self.run(f"--pg1-path={into}", *target, "restore", user=user)

    def check(self, user: dict[str, object] | None = None) -> None:
        """Archive the current WAL segment and wait until it is in the repository: after
        this, every commit so far can be restored."""
        self.run("check", user=user)


def restored_server_options(into: Path, port: int) -> list[str]:
    """PostgreSQL's options to start a restored folder on its own, anywhere: its own port
    and socket, its own pg_hba.conf, no archiving into the repository it came from, and no
    synchronous standby to wait for (the cluster's settings were copied with the data)."""
    return [
        "-c", f"port={port}",
        "-c", "listen_addresses=127.0.0.1",
        "-c", f"unix_socket_directories={into}",
        "-c", f"hba_file={into / 'pg_hba.conf'}",
        "-c", f"ident_file={into / 'pg_ident.conf'}",
        "-c", "archive_mode=off",
        "-c", "synchronous_standby_names=",
        "-c", "hot_standby=on",
    ]  # fmt: skip
