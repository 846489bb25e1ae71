"""Refunds: a sale taken back at any till of the chain, at the prices it charged, never more
than was sold, booked at the refunding store; sales stay as they were."""

from __future__ import annotations

import asyncio
import logging
import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from admin.keys import issue
from tests.conftest import app_client, read_seed
from tests.keys import ChainKeys, till_name

PRICES = read_seed().prices  # from the CSV, not from the code under test


async def sale(client: httpx.AsyncClient, keys: ChainKeys, items: list[str]) -> dict[str, Any]:
    answer = await client.post(
        "/purchase",
        json={"supermarket_id": "SMKT001", "items": items},
        headers=keys.till_headers("SMKT001"),
    )
    assert answer.status_code == 201, answer.text
    receipt: dict[str, Any] = answer.json()
    return receipt


async def refund(
    client: httpx.AsyncClient, keys: ChainKeys, body: dict[str, Any], store: str = "SMKT002",
    **headers: str,
) -> httpx.Response:  # fmt: skip
    return await client.post("/refunds", json=body, headers={**keys.till_headers(store), **headers})


async def stored_refunds(catalog: asyncpg.Connection) -> int:
    return int(await catalog.fetchval("SELECT count(*) FROM refunds"))


@pytest.fixture
async def till(keys: ChainKeys) -> Any:
    async for client in app_client("cash_register.main"):
        yield client


async def test_any_till_looks_up_a_receipt_with_what_is_refundable(
    till: httpx.AsyncClient, keys: ChainKeys
) -> None:
    sold = await sale(till, keys, ["milk", "milk", "bread"])
    answer = await till.get(
        f"/purchases/{sold['purchase_id']}", headers=keys.till_headers("SMKT003")
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["purchase_id"] == sold["purchase_id"]
    assert body["total_amount"] == sold["total_amount"]
    lines = {line["product"]: line for line in body["items"]}
    assert lines["milk"]["quantity"] == 2
    assert (lines["milk"]["refunded"], lines["milk"]["refundable"]) == (0, 2)
    assert Decimal(lines["bread"]["unit_price"]) == PRICES["bread"]
    unknown = await till.get("/purchases/987654321", headers=keys.till_headers("SMKT003"))
    assert unknown.status_code == 404
    assert unknown.json()["type"] == "/problems/unknown-sale"


async def test_a_partial_refund_at_another_store_at_the_sales_prices(
    till: httpx.AsyncClient, keys: ChainKeys, catalog: asyncpg.Connection
) -> None:
    sold = await sale(till, keys, ["milk", "milk", "cheese"])
    await catalog.execute("UPDATE products SET unit_price = unit_price * 3 WHERE name = 'milk'")
    answer = await refund(
        till, keys,
        {"purchase_id": sold["purchase_id"], "lines": [{"product": "milk", "quantity": 1}],
         "reason": "returned"},
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert Decimal(body["total_amount"]) == PRICES["milk"]  # the sale's price, not today's
    assert body["supermarket_id"] == "SMKT002"  # booked at the refunding till's store
    assert body["refundable"] == {"milk": 1, "cheese": 1}
    row = await catalog.fetchrow("SELECT till_id, reason, request_id FROM refunds")
    assert row is not None
    assert (row["till_id"], row["reason"]) == (till_name("SMKT002"), "returned")
    assert row["request_id"] == answer.headers["x-request-id"]
    # The owners' figures of the refunding store's day.
    day = await catalog.fetchrow("SELECT supermarket_id, refunds, refunded FROM daily_refunds")
    assert day is not None
    assert (day["supermarket_id"], day["refunds"], day["refunded"]) == (
        "SMKT002", 1, PRICES["milk"],
    )  # fmt: skip
    # The sale itself is as it was.
    total = await catalog.fetchval("SELECT total_amount FROM purchases WHERE id = $1",
                                   sold["purchase_id"])  # fmt: skip
    assert total == Decimal(sold["total_amount"])


async def test_never_more_than_was_sold(
    till: httpx.AsyncClient, keys: ChainKeys, catalog: asyncpg.Connection
) -> None:
    sold = await sale(till, keys, ["eggs", "eggs"])
    purchase = sold["purchase_id"]
    first = await refund(till, keys, {"purchase_id": purchase, "reason": "damaged",
                                      "lines": [{"product": "eggs", "quantity": 1}]})  # fmt: skip
    assert first.status_code == 201
    over = await refund(till, keys, {"purchase_id": purchase, "reason": "damaged",
                                     "lines": [{"product": "eggs", "quantity": 2}]})  # fmt: skip
    assert over.status_code == 409
    assert over.json()["type"] == "/problems/more-than-refundable"
    assert (over.json()["product"], over.json()["sold"], over.json()["refunded"]) == ("eggs", 2, 1)
    rest = await refund(till, keys, {"purchase_id": purchase, "reason": "damaged", "lines": "all"})
    assert rest.status_code == 201
    [line] = rest.json()["lines"]
    assert (line["product"], line["quantity"]) == ("eggs", 1)
    assert Decimal(line["unit_price"]) == Decimal(line["line_total"]) == PRICES["eggs"]
    nothing = await refund(
        till, keys, {"purchase_id": purchase, "reason": "damaged", "lines": "all"}
    )
    assert nothing.status_code == 409
    assert nothing.json()["type"] == "/problems/nothing-left-to-refund"
    assert await stored_refunds(catalog) == 2


@pytest.mark.parametrize(
    ("lines", "status", "kind"),
    [
        ([{"product": "cheese", "quantity": 1}], 422, "product-not-in-sale"),
        ([{"product": "unicorn", "quantity": 1}], 422, "product-not-in-sale"),
        ([{"product": "milk", "quantity": 1}, {"product": "milk", "quantity": 1}], 422,
         "repeated-refund-line"),
        ([{"product": "milk", "quantity": 0}], 422, "invalid-request"),
        ([], 422, "invalid-request"),
    ],
)  # fmt: skip
async def test_a_bad_refund_is_refused_and_stores_nothing(
    till: httpx.AsyncClient, keys: ChainKeys, catalog: asyncpg.Connection,
    lines: list[dict[str, Any]], status: int, kind: str,
) -> None:  # fmt: skip
    sold = await sale(till, keys, ["milk", "milk"])
    answer = await refund(
        till, keys, {"purchase_id": sold["purchase_id"], "lines": lines, "reason": "mistake"}
    )
    assert answer.status_code == status
    assert answer.json()["type"] == f"/problems/{kind}"
    assert await stored_refunds(catalog) == 0


async def test_a_sale_older_than_the_window_cannot_be_refunded(
    till: httpx.AsyncClient, keys: ChainKeys, catalog: asyncpg.Connection
) -> None:
    old = await catalog.fetchval(
        """
        WITH n AS (SELECT nextval('purchases_id_seq') AS id, now() - interval '91 days' AS at),
        p AS (INSERT INTO purchases (id, purchased_at, supermarket_id, customer_id, total_amount)
              SELECT id, at, 'SMKT001', $1, 1.50 FROM n)
        INSERT INTO purchase_items (purchase_id, purchased_at, supermarket_id, product_id,
                                    quantity, unit_price)
        SELECT id, at, 'SMKT001', (SELECT id FROM products WHERE name = 'milk'), 1, 1.50 FROM n
        RETURNING purchase_id
        """,
        uuid.uuid4(),
    )
    answer = await refund(till, keys, {"purchase_id": old, "lines": "all", "reason": "returned"})
    assert answer.status_code == 422
    assert answer.json()["type"] == "/problems/refund-window-passed"
    assert await stored_refunds(catalog) == 0


async def test_an_owner_cannot_refund(till: httpx.AsyncClient, keys: ChainKeys) -> None:
    sold = await sale(till, keys, ["milk"])
    answer = await till.post(
        "/refunds",
        json={"purchase_id": sold["purchase_id"], "lines": "all", "reason": "returned"},
        headers=keys.owner_headers(),
    )
    assert answer.status_code == 403
    assert answer.json()["type"] == "/problems/owner-cannot-refund"


async def test_a_large_refund_needs_an_owner_of_the_store_to_approve(
    till: httpx.AsyncClient, keys: ChainKeys, catalog: asyncpg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    sold = await sale(till, keys, ["chicken"] * 10)  # 65.00: above the 50.00 threshold
    body = {"purchase_id": sold["purchase_id"], "lines": "all", "reason": "returned"}
    other_manager = await issue(catalog, "owner", "manager-3", "SMKT003")
    without = await refund(till, keys, body)
    wrong = await refund(till, keys, body, **{"Approval-Key": other_manager})
    assert [without.status_code, wrong.status_code] == [403, 403]
    assert without.json()["type"] == wrong.json()["type"] == "/problems/approval-required"
    assert "SMKT002" in wrong.json()["detail"]
    assert other_manager not in wrong.text
    assert await stored_refunds(catalog) == 0
    approved = await refund(till, keys, body, **{"Approval-Key": keys.owner})
    assert approved.status_code == 201
    assert approved.json()["approved_by"] == "test-owner"
    assert Decimal(approved.json()["total_amount"]) == 10 * PRICES["chicken"]
    assert caplog.records, "the requests were logged"
    assert keys.owner not in caplog.text
    assert other_manager not in caplog.text


async def test_a_retried_refund_is_recorded_once(
    till: httpx.AsyncClient, keys: ChainKeys, catalog: asyncpg.Connection
) -> None:
    sold = await sale(till, keys, ["milk", "bread"])
    body = {"purchase_id": sold["purchase_id"], "lines": "all", "reason": "mistake"}
    first = await refund(till, keys, body, **{"Idempotency-Key": "r-0001"})
    again = await refund(till, keys, body, **{"Idempotency-Key": "r-0001"})
    other = await refund(till, keys, {**body, "reason": "damaged"}, **{"Idempotency-Key": "r-0001"})
    assert (first.status_code, again.status_code, other.status_code) == (201, 201, 422)
    assert again.json()["refund_id"] == first.json()["refund_id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert await stored_refunds(catalog) == 1


async def test_refunds_are_append_only_even_for_the_owner(
    till: httpx.AsyncClient, keys: ChainKeys, catalog: asyncpg.Connection
) -> None:
    sold = await sale(till, keys, ["milk"])
    assert (await refund(till, keys, {"purchase_id": sold["purchase_id"], "lines": "all",
                                      "reason": "returned"})).status_code == 201  # fmt: skip
    for statement in ("UPDATE refunds SET total_amount = 0", "DELETE FROM refund_lines",
                      "TRUNCATE refunds CASCADE"):  # fmt: skip
        with pytest.raises(asyncpg.RestrictViolationError):
            await catalog.execute(statement)


async def test_tills_racing_for_the_last_unit_over_two_workers_one_gets_it(
    servers: dict[str, str], keys: ChainKeys, catalog: asyncpg.Connection
) -> None:
    async with httpx.AsyncClient(base_url=servers["cash_register"], timeout=30) as client:
        sold = await sale(client, keys, ["yogurt"])
        body = {"purchase_id": sold["purchase_id"], "lines": "all", "reason": "returned"}
        stores = ["SMKT001", "SMKT002", "SMKT003"]
        answers = await asyncio.gather(*(
            client.post("/refunds", json=body, headers=keys.till_headers(stores[n % 3]))
            for n in range(24)
        ))  # fmt: skip
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] + [409] * 23
    assert await stored_refunds(catalog) == 1
    assert await catalog.fetchval("SELECT refunded FROM refunded_lines") == 1


async def test_a_receipt_number_beyond_any_sale_is_a_422_not_an_error(
    till: httpx.AsyncClient, keys: ChainKeys
) -> None:
    huge = 2**64
    looked = await till.get(f"/purchases/{huge}", headers=keys.till_headers("SMKT001"))
    refunded = await refund(till, keys, {"purchase_id": huge, "lines": "all", "reason": "returned"})
    assert (looked.status_code, refunded.status_code) == (422, 422)
    assert refunded.json()["detail"].startswith("purchase_id:")
