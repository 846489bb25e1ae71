"""Reading rows in tests: a two-column answer as a dict (asyncpg's Record is no pair)."""

from __future__ import annotations

from typing import Any

import asyncpg


def pairs(rows: list[asyncpg.Record]) -> dict[Any, Any]:
    """{first column: second column} of every row."""
    return {row[0]: row[1] for row in rows}


def one(row: asyncpg.Record | None) -> asyncpg.Record:
    """The row a statement that must find one found."""
    assert row is not None, "no row where one was expected"
    return row
