"""`verify-ledger` against someone holding the database's keys: each change to the stored
sales, refunds or numbers is named by its till and receipt, and every other till still
verifies."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import PostgresUnderTest, app_client
from tests.keys import ChainKeys, till_name
from tests.ledger.chains import admin

TAMPERED = till_name("SMKT001")
UNTOUCHED = till_name("SMKT002")


@dataclass(frozen=True)
class Trading:
    """A day of two tills: SMKT001's sales, a refund and a closing; SMKT002's sales."""

    sales: list[dict[str, Any]]  # SMKT001's receipts 1-3
    refund: dict[str, Any]  # SMKT001's receipt 4
    database_url: str


async def trade(client: httpx.AsyncClient, keys: ChainKeys) -> tuple[list[Any], dict[str, Any]]:
    sales = []
    for items in (["milk", "bread"], ["milk"], ["eggs", "milk"]):
        answer = await client.post(
            "/purchase", json={"supermarket_id": "SMKT001", "items": items},
            headers=keys.till_headers("SMKT001"),
        )  # fmt: skip
        sales.append(answer.json())
    refund = await client.post(
        "/refunds",
        json={"purchase_id": sales[0]["purchase_id"], "lines": "all", "reason": "mistake"},
        headers=keys.till_headers("SMKT001"),
    )
    assert refund.status_code == 201, refund.text
    assert (await client.post("/till/closings", headers=keys.till_headers("SMKT001"))).is_success
    for _ in range(2):
        answer = await client.post(
            "/purchase", json={"supermarket_id": "SMKT002", "items": ["bread"]},
            headers=keys.till_headers("SMKT002"),
        )  # fmt: skip
        assert answer.status_code == 201
    return sales, refund.json()


@pytest.fixture
async def trading(keys: ChainKeys, postgres: PostgresUnderTest) -> Trading:
    async for client in app_client("cash_register.main"):
        sales, refund = await trade(client, keys)
    return Trading(sales, refund, postgres.database_url)


async def as_maintenance(db: asyncpg.Connection, *statements: str) -> None:
    """The database owner with maintenance on: the append-only triggers let it through."""
    async with db.transaction():
        await db.execute("SET LOCAL shop.maintenance = on")
        for statement in statements:
            await db.execute(statement)


def verdicts(database_url: str, *arguments: str) -> tuple[int, dict[str, str]]:
    """verify-ledger's exit status and its line per till."""
    done = admin(database_url, "verify-ledger", *arguments)
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if line.startswith("till")}
    return done.returncode, lines


async def test_an_untouched_ledger_verifies(trading: Trading) -> None:
    status, lines = verdicts(trading.database_url)
    assert status == 0
    assert lines[TAMPERED].endswith("closings 1  ok")
    assert "entries 5  last receipt 5" in lines[TAMPERED]
    assert "entries 2  last receipt 2" in lines[UNTOUCHED]
    status, lines = verdicts(trading.database_url, "--till", UNTOUCHED)
    assert status == 0
    assert list(lines) == [UNTOUCHED]
    status, lines = verdicts(trading.database_url, "--store", "SMKT001")
    assert status == 0
    assert list(lines) == [TAMPERED]


async def test_workers_verify_one_moment_while_tills_trade(
    trading: Trading, keys: ChainKeys
) -> None:
    """Three worker processes, each its share of the tills, while two tills go on selling: the
    heads the coordinator reads and the chains the workers read are the same moment."""
    async for client in app_client("cash_register.main"):
        selling = asyncio.create_task(sell_until_cancelled(client, keys))
        try:
            outcomes = [
                await asyncio.to_thread(verdicts, trading.database_url, "--jobs", "3")
                for _ in range(3)
            ]
        finally:
            selling.cancel()
            sold = await asyncio.gather(selling, return_exceptions=True)
    assert all(status == 0 for status, _ in outcomes), outcomes
    assert {TAMPERED, UNTOUCHED} <= set(outcomes[-1][1])
    assert isinstance(sold[0], asyncio.CancelledError)


async def sell_until_cancelled(client: httpx.AsyncClient, keys: ChainKeys) -> None:
    while True:
        for store in ("SMKT001", "SMKT002"):
            answer = await client.post(
                "/purchase", json={"supermarket_id": store, "items": ["milk"]},
                headers=keys.till_headers(store),
            )  # fmt: skip
            assert answer.status_code == 201, answer.text


Tamper = Callable[[asyncpg.Connection, Trading], Awaitable[None]]


async def change_a_total(db: asyncpg.Connection, trading: Trading) -> None:
    sale = trading.sales[1]["purchase_id"]
    await as_maintenance(
        db, f"UPDATE purchases SET total_amount = total_amount - 0.50 WHERE id = {sale}"
    )


async def delete_the_refund(db: asyncpg.Connection, trading: Trading) -> None:
    refund = trading.refund["refund_id"]
    await as_maintenance(
        db,
        f"DELETE FROM refund_lines WHERE refund_id = {refund}",
        f"DELETE FROM refunds WHERE id = {refund}",
    )


async def forge_a_sale(db: asyncpg.Connection, trading: Trading) -> None:
    await as_maintenance(
        db,
        "INSERT INTO purchases (id, purchased_at, supermarket_id, customer_id, total_amount, "
        f"till_id) VALUES (nextval('purchases_id_seq'), now(), 'SMKT001', '{uuid.uuid4()}', "
        f"1.00, '{TAMPERED}')",
    )


async def swap_two_receipt_numbers(db: asyncpg.Connection, trading: Trading) -> None:
    moved = f"UPDATE till_entries SET receipt_number = %s WHERE till_id = '{TAMPERED}' AND " \
            "receipt_number = %s"  # fmt: skip
    await as_maintenance(db, moved % (1000, 2), moved % (2, 3), moved % (3, 1000))


@pytest.mark.parametrize(
    ("tamper", "receipt", "why"),
    [
        (change_a_total, "receipt 2", "its content does not match its hash"),
        (delete_the_refund, "receipt 4", "is not stored"),
        (forge_a_sale, "sale ", "in no entry of its chain"),
        (swap_two_receipt_numbers, "receipt 2", "its content does not match its hash"),
    ],
)
async def test_each_change_is_named_by_its_till_and_receipt(
    trading: Trading, db: asyncpg.Connection, tamper: Tamper, receipt: str, why: str
) -> None:
    await tamper(db, trading)
    status, lines = verdicts(trading.database_url)
    assert status == 1
    assert f"BROKEN at {receipt}" in lines[TAMPERED]
    assert why in lines[TAMPERED]
    assert lines[UNTOUCHED].endswith("  ok")
    assert verdicts(trading.database_url, "--jobs", "2") == (status, lines)
    status, _ = verdicts(trading.database_url, "--till", UNTOUCHED)
    assert status == 0
