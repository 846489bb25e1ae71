"""`python -m admin`: access keys and the tills' ledgers, against DATABASE_URL.

    python -m admin till-key --store SMKT001 --till till-07
    python -m admin owner-key --name alice [--store SMKT002]
    python -m admin revoke --till till-07 | --owner alice
    python -m admin list
    python -m admin verify-ledger [--till T | --store S] [--jobs N]
    python -m admin export-ledger --till T [--out FILE]

A new key is printed alone on the last line, once; only its hash is stored. Issuing a key for
a till or owner that has one replaces it. verify-ledger prints a line per till and exits 1 if
any chain is broken. Exit status: 0 done, 1 refused or broken, 2 no database.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import asyncpg
import orjson

from admin.keys import KeyRefused, holders, issue, revoke
from admin.ledger import exported_entries, tills_of_store
from admin.verification import verify_chains
from db.access_keys import Kind
from db.errors import DatabaseUnavailable
from db.pool import connect
from db.settings import MissingSetting, database_settings


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m admin", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    till = commands.add_parser("till-key", help="issue a till's key, bound to its store")
    till.add_argument("--store", required=True)
    till.add_argument("--till", required=True)
    owner = commands.add_parser("owner-key", help="issue an owner's key (--store: one store)")
    owner.add_argument("--name", required=True)
    owner.add_argument("--store")
    gone = commands.add_parser("revoke", help="revoke a till's or an owner's key")
    who = gone.add_mutually_exclusive_group(required=True)
    who.add_argument("--till")
    who.add_argument("--owner")
    commands.add_parser("list", help="every key holder (never the keys)")
    verify = commands.add_parser("verify-ledger", help="recompute every till's hash chain")
    which = verify.add_mutually_exclusive_group()
    which.add_argument("--till")
    which.add_argument("--store")
    verify.add_argument(
        "--jobs", type=int, help="processes to verify with (default: the cores, on a big ledger)"
    )
    export = commands.add_parser("export-ledger", help="a till's chain as JSON Lines")
    export.add_argument("--till", required=True)
    export.add_argument("--out", type=Path, help="the file to write (default: standard output)")
    return parser.parse_args(argv)


class ChainBroken(Exception):
    """verify-ledger found a chain that does not hold."""


async def _verify(connection: asyncpg.Connection, arguments: argparse.Namespace) -> None:
    tills = [arguments.till] if arguments.till else None
    if arguments.store:
        tills = await tills_of_store(connection, arguments.store)
    reports = await verify_chains(connection, tills, arguments.jobs)
    for report in reports:
        print(report.line())
    broken = [report.till for report in reports if report.broken_at is not None]
    named = ", ".join(broken[:10]) + (f" and {len(broken) - 10} more" if len(broken) > 10 else "")
    print(f"{len(reports)} till(s), {sum(r.entries for r in reports)} entries verified: "
          + (f"BROKEN: {named}" if broken else "every chain holds"))  # fmt: skip
    if broken:
        raise ChainBroken(", ".join(broken))


async def _export(connection: asyncpg.Connection, arguments: argparse.Namespace) -> None:
    out = arguments.out.open("wb") if arguments.out else sys.stdout.buffer
    try:
        async for entry in exported_entries(connection, arguments.till):
            out.write(orjson.dumps(entry) + b"\n")
    finally:
        if arguments.out:
            out.close()
        else:
            out.flush()


async def _run(arguments: argparse.Namespace) -> None:
    connection = await connect(database_settings())
    try:
        if arguments.command == "till-key":
            key = await issue(connection, "till", arguments.till, arguments.store)
            print(f"till {arguments.till} of {arguments.store}: its key, shown this once:")
            print(key)
        elif arguments.command == "owner-key":
            key = await issue(connection, "owner", arguments.name, arguments.store)
            sees = arguments.store or "the whole chain"
            print(f"owner {arguments.name} (sees {sees}): the key, shown this once:")
            print(key)
        elif arguments.command == "verify-ledger":
            await _verify(connection, arguments)
        elif arguments.command == "export-ledger":
            await _export(connection, arguments)
        elif arguments.command == "revoke":
            kind: Kind = "till" if arguments.till else "owner"
            name = arguments.till or arguments.owner
            await revoke(connection, kind, name)
            print(f"revoked the key of {kind} {name}")
        else:
            for holder in await holders(connection):
                used = f"{holder.last_used_at:%Y-%m-%d %H:%M}" if holder.last_used_at else "never"
                print(
                    f"{holder.kind:5}  {holder.name:24}  {holder.supermarket_id or 'chain':8}  "
                    f"created {holder.created_at:%Y-%m-%d %H:%M}  last used {used}"
                    f"{'  REVOKED' if holder.revoked_at else ''}"
                )
    finally:
        await connection.close()


def main(argv: list[str] | None = None) -> int:
    arguments = _arguments(argv)
    try:
        asyncio.run(_run(arguments))
    except (MissingSetting, DatabaseUnavailable) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyRefused as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except ChainBroken:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
