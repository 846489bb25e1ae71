"""`python -m backup`: back up the chain's database, list the backups, restore one.

    python -m backup backup [--type full|diff|incr]   a backup of the primary, recorded in the
                                                      database for the metrics (DATABASE_URL)
    python -m backup info                             the backups in the repository
    python -m backup restore --into DIR [--to TIME]   into a fresh folder, to TIME (ISO 8601
                                                      with a zone) or to the end of the archive

Settings: PGBACKREST_CONFIG (pgBackRest's configuration: the repository and every node),
BACKUP_STANZA (supermarket), DATABASE_URL (the owner's; without it a backup is not recorded).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path

import asyncpg

from backup.repository import (
    KINDS,
    Backup,
    BackupError,
    Repository,
    restored_server_options,
)
from backup.settings import BackupSettings

RECORD = """
INSERT INTO backups_taken (label, kind, started_at, finished_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (label) DO NOTHING
"""


async def record(database_url: str, taken: Backup) -> None:
    """Note the backup where the services' metrics read its age."""
    connection = await asyncpg.connect(database_url, timeout=10)
    try:
        await connection.execute(
            RECORD, taken.label, taken.kind, taken.started_at, taken.finished_at
        )
    finally:
        await connection.close()


def moment(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone (add +00:00 or Z)")
    return parsed


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m backup", description=__doc__.split("\n")[0])
    commands = top.add_subparsers(dest="command", required=True)
    taking = commands.add_parser("backup", help="back up the primary")
    taking.add_argument("--type", choices=KINDS, default="full")
    commands.add_parser("info", help="the backups in the repository")
    restoring = commands.add_parser("restore", help="restore into a fresh folder")
    restoring.add_argument("--into", type=Path, required=True)
    restoring.add_argument("--to", type=moment, default=None, help="ISO 8601 with a zone")
    return top


def main(argv: list[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    settings = BackupSettings()
    if settings.pgbackrest_config is None:
        print("Missing setting: PGBACKREST_CONFIG (pgBackRest's configuration)", file=sys.stderr)
        return 2
    repository = Repository(None, settings.pgbackrest_config, stanza=settings.backup_stanza)
    try:
        if arguments.command == "backup":
            taken = repository.backup(arguments.type)
            if settings.database_url:
                asyncio.run(record(settings.database_url, taken))
            print(f"{taken.label} ({taken.kind}) finished at {taken.finished_at.isoformat()}")
        elif arguments.command == "info":
            for entry in repository.backups():
                listed = Backup.described(entry)
                print(f"{listed.label}\t{listed.kind}\t{listed.finished_at.isoformat()}")
        else:
            repository.restore(arguments.into, arguments.to)
            options = " ".join(restored_server_options(arguments.into.resolve(), 5432))
            print(
                f"restored into {arguments.into}; to replay the WAL and open it on its own:\n"
                f'  pg_ctl -D {arguments.into} -w start -o "{options}"'
            )
    except BackupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
