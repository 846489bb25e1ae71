"""The purchase statement's parameter: one typed row per sale, whose Python fields are the
database type's attributes in the same order, with matching types, so no field can land in
another's column."""

from __future__ import annotations

import types
import typing
import uuid
from datetime import datetime

import asyncpg
import pytest

from cash_register import queries

# What each Python annotation must be in PostgreSQL.
SQL_TYPE_OF: dict[object, str] = {
    str: "text",
    uuid.UUID: "uuid",
    datetime: "timestamp with time zone",
    bytes: "bytea",
    int: "integer",
    list[queries.ArrivingLine]: "arriving_line[]",
}

ATTRIBUTES = """
SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
FROM pg_attribute a JOIN pg_type t ON t.typrelid = a.attrelid
WHERE t.typname = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""


def _sql_type(annotation: object) -> str:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    optional = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    bare = args[0] if optional else annotation
    return SQL_TYPE_OF[bare]


@pytest.mark.parametrize(
    ("row", "type_name"),
    [(queries.ArrivingSale, "arriving_sale"), (queries.ArrivingLine, "arriving_line")],
)
async def test_the_rows_fields_are_the_database_types_attributes_in_order(
    db: asyncpg.Connection, row: type, type_name: str
) -> None:
    attributes = [(r["name"], r["type"]) for r in await db.fetch(ATTRIBUTES, type_name)]
    hints = typing.get_type_hints(row)
    fields = [(name, _sql_type(hints[name])) for name in row._fields]  # type: ignore[attr-defined]
    assert fields == attributes


def test_both_forms_of_the_statement_are_written_out_and_differ_only_before_the_lines() -> None:
    plain, with_cards = queries.RECORD_PURCHASES, queries.RECORD_PURCHASES_WITH_CARDS
    assert "loyalty_cards" not in plain
    assert "loyalty_cards" in with_cards
    assert plain[plain.index("line AS (") :] == with_cards[with_cards.index("line AS (") :]
    for statement in (plain, with_cards):
        assert "$2" not in statement  # one parameter: the typed rows
        assert "unnest($1::arriving_sale[])" in statement
