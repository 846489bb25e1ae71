"""The owners' side of the tills' days: each closing as its till got it (JSON and CSV), a
manager's own store only, and each till's open period."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from admin.keys import issue
from tests.conftest import app_client, read_seed
from tests.keys import ChainKeys, till_name

PRICES = read_seed().prices


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
async def till(keys: ChainKeys) -> Any:
    async for client in app_client("cash_register.main"):
        yield client


async def close_a_day(till: httpx.AsyncClient, keys: ChainKeys, store: str) -> dict[str, Any]:
    for items in (["milk", "bread"], ["eggs"]):
        answer = await till.post(
            "/purchase", json={"supermarket_id": store, "items": items},
            headers=keys.till_headers(store),
        )  # fmt: skip
        assert answer.status_code == 201
    closing = await till.post("/till/closings", headers=keys.till_headers(store))
    assert closing.status_code == 201
    body: dict[str, Any] = closing.json()
    return body


async def test_owners_read_each_closing_as_the_till_got_it(
    till: httpx.AsyncClient, keys: ChainKeys, catalog: asyncpg.Connection
) -> None:
    closed = {store: await close_a_day(till, keys, store) for store in ("SMKT001", "SMKT002")}
    async for analytics in app_client("analytics.main", headers=keys.owner_headers()):
        answer = (await analytics.get("/closings")).json()
        assert [c["till_id"] for c in answer["closings"]] == [
            till_name("SMKT001"), till_name("SMKT002")
        ]  # fmt: skip
        for seen in answer["closings"]:
            got = closed[seen["supermarket_id"]]
            for field in (
                "closing_number",
                "receipt_number",
                "sales",
                "sales_amount",
                "net",
                "grand_total",
                "head_hash",
                "units",
                "first_receipt",
                "last_receipt",
            ):
                assert seen[field] == got[field], field
            assert moment(seen["closed_at"]) == moment(got["period_end"])
        one = (await analytics.get("/closings", params={"till_id": till_name("SMKT002")})).json()
        assert [c["supermarket_id"] for c in one["closings"]] == ["SMKT002"]
        # A till id no till can have (a NUL byte, which PostgreSQL's text refuses) is named.
        odd = await analytics.get("/closings", params={"till_id": "till\x00-1"})
        assert odd.status_code == 422, odd.text
        assert "till_id" in odd.text

        table = await analytics.get("/closings", params={"format": "csv"})
        assert table.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(table.content.decode("utf-8-sig"))))
        assert [row["till_id"] for row in rows] == [till_name("SMKT001"), till_name("SMKT002")]
        assert rows[0]["net"] == closed["SMKT001"]["net"]
        expected = PRICES["milk"] + PRICES["bread"] + PRICES["eggs"]
        assert Decimal(rows[1]["sales_amount"]) == expected

    manager = await issue(catalog, "owner", "manager-2", "SMKT002")
    async for analytics in app_client(
        "analytics.main", headers={"Authorization": f"Bearer {manager}"}
    ):
        answer = (await analytics.get("/closings")).json()
        assert [c["supermarket_id"] for c in answer["closings"]] == ["SMKT002"]
        refused = await analytics.get("/closings", params={"supermarket_id": "SMKT001"})
        assert refused.status_code == 403


async def test_each_tills_open_period_and_last_closing(
    till: httpx.AsyncClient, keys: ChainKeys
) -> None:
    closing = await close_a_day(till, keys, "SMKT001")
    answer = await till.post(
        "/purchase", json={"supermarket_id": "SMKT001", "items": ["bread", "bread"]},
        headers=keys.till_headers("SMKT001"),
    )  # fmt: skip
    assert answer.status_code == 201
    async for analytics in app_client("analytics.main", headers=keys.owner_headers()):
        [day] = (await analytics.get("/tills")).json()["tills"]
    assert day["till_id"] == till_name("SMKT001")
    assert day["open_entries"] == 1
    assert Decimal(day["open_net"]) == 2 * PRICES["bread"]
    assert moment(day["last_closed_at"]) == moment(closing["period_end"])
    assert moment(day["period_opened_at"]) == moment(closing["period_end"])
    assert day["last_closing_net"] == closing["net"]
    assert Decimal(day["grand_total"]) == Decimal(closing["grand_total"]) + 2 * PRICES["bread"]
