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
