"""The till's ledger through the cash register: receipt numbers gapless per till, each entry
chained to the one before, closings (Z) and the open period (X) that add up to the receipts."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import PostgresUnderTest, app_client, read_seed
from tests.keys import ChainKeys, till_name
from tests.ledger.chains import admin, check_with_hashlib, exported

PRICES = read_seed().prices  # from the CSV, not from the code under test


@pytest.fixture
async def till(keys: ChainKeys) -> Any:
    async for client in app_client("cash_register.main"):
        yield client


async def sell(
    client: httpx.AsyncClient, keys: ChainKeys, store: str, items: list[str], **headers: str
) -> dict[str, Any]:
    answer = await client.post(
        "/purchase",
        json={"supermarket_id": store, "items": items},
        headers={**keys.till_headers(store), **headers},
    )
    assert answer.status_code == 201, answer.text
    receipt: dict[str, Any] = answer.json()
    return receipt


async def test_each_till_numbers_its_entries_from_one_and_chains_them(
    till: httpx.AsyncClient, keys: ChainKeys, postgres: PostgresUnderTest
) -> None:
    first = [await sell(till, keys, "SMKT001", ["milk", "bread", "milk"]) for _ in range(3)]
    second = [await sell(till, keys, "SMKT002", ["eggs"]) for _ in range(2)]
    assert [r["receipt_number"] for r in first] == [1, 2, 3]
    assert [r["receipt_number"] for r in second] == [1, 2]
    for store, receipts in (("SMKT001", first), ("SMKT002", second)):
        entries = exported(postgres.database_url, till_name(store))
        check_with_hashlib(till_name(store), entries)
        assert [e["entry_hash"] for e in entries] == [r["entry_hash"] for r in receipts]
        for entry, receipt in zip(entries, receipts, strict=True):
            canonical = json.loads(entry["canonical"])
            assert canonical["till"] == till_name(store)
            assert canonical["kind"] == "sale"
            assert canonical["store"] == store
            assert canonical["customer"] == receipt["user_id"]
            assert canonical["total"] == receipt["total_amount"]
            at = datetime.fromisoformat(canonical["time"].replace("Z", "+00:00"))
            assert at == datetime.fromisoformat(receipt["purchased_at"])
            assert canonical["lines"] == sorted(
                (
                    {"product": line["product"], "quantity": line["quantity"],
                     "unit_price": f"{PRICES[line['product']]:.2f}"}
                    for line in receipt["items"]
                ),
                key=lambda line: line["product"],
            )  # fmt: skip


async def test_a_replay_answers_the_original_receipt_number_and_takes_none(
    till: httpx.AsyncClient, keys: ChainKeys
) -> None:
    key = f"replay-{uuid.uuid4()}"
    original = await sell(till, keys, "SMKT001", ["milk"], **{"Idempotency-Key": key})
    again = await sell(till, keys, "SMKT001", ["milk"], **{"Idempotency-Key": key})
    following = await sell(till, keys, "SMKT001", ["bread"])
    assert again["receipt_number"] == original["receipt_number"] == 1
    assert again["entry_hash"] == original["entry_hash"]
    assert following["receipt_number"] == 2


async def test_a_refund_is_the_refunding_tills_next_entry_and_the_receipt_shows_its_place(
    till: httpx.AsyncClient, keys: ChainKeys, postgres: PostgresUnderTest
) -> None:
    sold = await sell(till, keys, "SMKT001", ["milk", "milk"])
    await sell(till, keys, "SMKT002", ["bread"])
    looked_up = await till.get(
        f"/purchases/{sold['purchase_id']}", headers=keys.till_headers("SMKT002")
    )
    assert looked_up.json()["receipt_number"] == 1
    assert looked_up.json()["entry_hash"] == sold["entry_hash"]
    assert looked_up.json()["imported"] is False
    answer = await till.post(
        "/refunds",
        json={"purchase_id": sold["purchase_id"], "lines": "all", "reason": "returned"},
        headers=keys.till_headers("SMKT002"),
    )
    assert answer.status_code == 201, answer.text
    refund = answer.json()
    assert refund["till_id"] == till_name("SMKT002")
    assert refund["receipt_number"] == 2
    entries = exported(postgres.database_url, till_name("SMKT002"))
    check_with_hashlib(till_name("SMKT002"), entries)
    canonical = json.loads(entries[1]["canonical"])
    assert canonical["kind"] == "refund"
    assert canonical["sale"] == sold["purchase_id"]
    assert canonical["reason"] == "returned"
    assert canonical["customer"] == sold["user_id"]
    assert canonical["total"] == f"{2 * PRICES['milk']:.2f}"
    assert entries[1]["entry_hash"] == refund["entry_hash"]


async def test_imported_history_belongs_to_no_chain(
    seeded: asyncpg.Connection, keys: ChainKeys, till: httpx.AsyncClient
) -> None:
    imported = await seeded.fetchval("SELECT min(id) FROM purchases")
    answer = await till.get(f"/purchases/{imported}", headers=keys.till_headers("SMKT001"))
    assert answer.json()["imported"] is True
    assert answer.json()["receipt_number"] is None
    assert await seeded.fetchval("SELECT count(*) FROM till_entries") == 0


def period_of(receipts: list[dict[str, Any]], refunds: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures a closing must show, added up from the answers the till got."""
    sold: Counter[str] = Counter()
    returned: Counter[str] = Counter()
    for receipt in receipts:
        for line in receipt["items"]:
            sold[line["product"]] += line["quantity"]
    for refund in refunds:
        for line in refund["lines"]:
            returned[line["product"]] += line["quantity"]
    sales_amount = sum((Decimal(r["total_amount"]) for r in receipts), Decimal("0.00"))
    refunded = sum((Decimal(r["total_amount"]) for r in refunds), Decimal("0.00"))
    return {
        "sales": len(receipts),
        "sales_amount": str(sales_amount),
        "refunds": len(refunds),
        "refunded": str(refunded),
        "net": str(sales_amount - refunded),
        "units": [
            {"product": name, "sold": sold[name], "returned": returned[name]}
            for name in sorted(set(sold) | set(returned))
        ],
    }


def figures(closing: dict[str, Any]) -> dict[str, Any]:
    return {name: closing[name] for name in ("sales", "sales_amount", "refunds", "refunded",
                                             "net", "units")}  # fmt: skip


async def test_closings_add_up_their_period_and_a_late_offline_sale_lands_in_the_open_one(
    till: httpx.AsyncClient, keys: ChainKeys, postgres: PostgresUnderTest
) -> None:
    headers = keys.till_headers("SMKT001")
    receipts = [await sell(till, keys, "SMKT001", items) for items in
                (["milk", "bread"], ["milk"], ["eggs", "eggs"])]  # fmt: skip
    answer = await till.post(
        "/refunds",
        json={"purchase_id": receipts[0]["purchase_id"], "lines": [
            {"product": "milk", "quantity": 1}], "reason": "damaged"},
        headers=headers,
    )  # fmt: skip
    refund = answer.json()
    current = (await till.get("/till/current", headers=headers)).json()
    assert figures(current) == period_of(receipts, [refund])
    assert (current["closing_number"], current["receipt_number"]) == (1, 5)

    closed = await till.post("/till/closings", headers=headers)
    assert closed.status_code == 201, closed.text
    z = closed.json()
    assert figures(z) == period_of(receipts, [refund])
    assert (z["closing_number"], z["receipt_number"]) == (1, 5)
    assert (z["first_receipt"], z["last_receipt"]) == (1, 4)
    assert z["grand_total"] == z["net"]
    assert z["automatic"] is False

    made_before = datetime.now(UTC) - timedelta(hours=1)  # sold offline before the close
    upload = await till.post(
        "/purchases",
        json={"purchases": [{"client_purchase_id": "late-1", "supermarket_id": "SMKT001",
                             "items": ["bread"], "purchased_at": made_before.isoformat()}]},
        headers=headers,
    )  # fmt: skip
    assert upload.status_code == 200, upload.text
    assert upload.json()["outcomes"][0]["receipt_number"] == 6
    late = await till.get(
        f"/purchases/{upload.json()['outcomes'][0]['purchase_id']}", headers=headers
    )
    assert datetime.fromisoformat(late.json()["purchased_at"]) == made_before
    second = (await till.post("/till/closings", headers=headers)).json()
    assert (second["closing_number"], second["receipt_number"]) == (2, 7)
    assert (second["first_receipt"], second["last_receipt"]) == (6, 6)
    assert figures(second) == period_of([late.json()], [])
    assert Decimal(second["grand_total"]) == Decimal(z["grand_total"]) + PRICES["bread"]
    assert second["period_start"] == z["period_end"]

    entries = exported(postgres.database_url, till_name("SMKT001"))
    check_with_hashlib(till_name("SMKT001"), entries)
    assert [e["kind"] for e in entries] == ["sale"] * 3 + ["refund", "closing", "sale", "closing"]
    assert entries[-1]["entry_hash"] == second["head_hash"]
    assert json.loads(entries[4]["canonical"])["grand_total"] == z["grand_total"]
    verified = admin(postgres.database_url, "verify-ledger")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{till_name('SMKT001')}  entries 7  last receipt 7" in verified.stdout
    assert "closings 2  ok" in verified.stdout


async def test_an_owner_neither_closes_nor_reads_a_tills_day(
    till: httpx.AsyncClient, keys: ChainKeys
) -> None:
    for answer in (
        await till.post("/till/closings", headers=keys.owner_headers()),
        await till.get("/till/current", headers=keys.owner_headers()),
    ):
        assert answer.status_code == 403
        assert answer.json()["type"].endswith("owner-cannot-close-till")
    assert (await till.post("/till/closings")).status_code == 401
