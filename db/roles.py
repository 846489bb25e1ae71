"""The services' own login roles (created by migration 007) and their passwords."""

from __future__ import annotations

import asyncpg

SERVICE_ROLES = {
    "cash_register": "supermarket_cash_register",
    "analytics": "supermarket_analytics",
}

# The statement is built by PostgreSQL's format() from bound values: no quoting by hand.
PASSWORD_STATEMENT = "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)"


async def set_role_passwords(connection: asyncpg.Connection, passwords: dict[str, str]) -> None:
    """Give each service's role (by service name) its password; run as the owner."""
    for service, password in passwords.items():
        statement = await connection.fetchval(PASSWORD_STATEMENT, SERVICE_ROLES[service], password)
        await connection.execute(statement)


class ReaderLimitsLifted(RuntimeError):
    """A connection of the analytics without the limits its role sets (migration 007)."""


async def check_reader_limits(connection: asyncpg.Connection) -> None:
    """Every connection the analytics open must be read-only by default and bounded in time,
    as the role `supermarket_analytics` sets them (ALTER ROLE ... SET): a connection made as
    another role, or after the role's settings were reset, is refused, so the analytics never
    run without them."""
    read_only = await connection.fetchval("SHOW default_transaction_read_only")
    timeout = await connection.fetchval("SHOW statement_timeout")
    if read_only != "on" or timeout == "0":
        raise ReaderLimitsLifted(
            "the analytics' database connection must be read-only by default and have a "
            f"statement_timeout (role supermarket_analytics); it has "
            f"default_transaction_read_only={read_only}, statement_timeout={timeout}"
        )
