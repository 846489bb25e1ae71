"""Every table view as CSV for the owners' spreadsheets: the same rows as its JSON, UTF-8 with
a byte order mark, amounts as decimal strings, named after the view."""

from __future__ import annotations

import csv
import io
from typing import Any

import asyncpg
import httpx
import pytest

TABLES = [
    ("/sales/daily", {"from": "2025-05-01", "to": "2025-06-30"}, "days"),
    ("/sales/daily-totals", {"from": "2025-05-01", "to": "2025-06-30"}, "days"),
    ("/sales/by-store", {"from": "2025-05-01", "to": "2025-06-30"}, "supermarkets"),
    ("/supermarkets", {}, "supermarkets"),
    ("/top-products", {"limit": 5}, "products"),
    ("/loyal-customers", {"min_purchases": 2, "limit": 50}, "customers"),
]
# The seed has no refunds: /returned-products as CSV is tested with one in its own file.


def as_text(value: Any) -> str:
    return "" if value is None else str(value)


@pytest.mark.parametrize(("path", "query", "rows"), TABLES)
async def test_a_view_as_csv_holds_the_rows_of_its_json(
    seeded: asyncpg.Connection, analytics: httpx.AsyncClient,
    path: str, query: dict[str, Any], rows: str,
) -> None:  # fmt: skip
    as_json = (await analytics.get(path, params=query)).json()[rows]
    answer = await analytics.get(path, params={**query, "format": "csv"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    name = path.strip("/").replace("/", "-")
    assert answer.headers["content-disposition"] == f'attachment; filename="{name}.csv"'
    assert answer.content.startswith("\ufeff".encode())
    table = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert len(table) == len(as_json) > 0
    for line, row in zip(table, as_json, strict=True):
        assert line == {key: as_text(value) for key, value in row.items()}
    accepted = await analytics.get(path, params=query, headers={"Accept": "text/csv"})
    assert accepted.content == answer.content


async def test_an_unknown_format_is_a_422_naming_it(
    seeded: asyncpg.Connection, analytics: httpx.AsyncClient
) -> None:
    answer = await analytics.get("/supermarkets", params={"format": "xlsx"})
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("format:")
