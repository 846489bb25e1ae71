"""A refund in the owners' views: booked at the refunding store and its day, net in the
revenue and in the units sold, with the gross and what was refunded beside them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import httpx

from tests.conftest import read_seed
from tests.keys import ChainKeys

PRICES = read_seed().prices


async def test_a_refund_at_another_store_shows_there_net_and_in_the_products(
    cash_register: httpx.AsyncClient,
    analytics: httpx.AsyncClient,
    keys: ChainKeys,
    catalog: asyncpg.Connection,
) -> None:
    sold = await cash_register.post(
        "/purchase", json={"supermarket_id": "SMKT001", "items": ["milk"] * 3 + ["bread"]}
    )
    assert sold.status_code == 201
    refunded = await cash_register.post(
        "/refunds",
        json={"purchase_id": sold.json()["purchase_id"], "reason": "damaged",
              "lines": [{"product": "milk", "quantity": 2}]},
        headers=keys.till_headers("SMKT002"),
    )  # fmt: skip
    assert refunded.status_code == 201
    today = datetime.now(UTC).date().isoformat()
    days = (await analytics.get("/sales/daily", params={"from": today, "to": today})).json()
    by_store = {row["supermarket_id"]: row for row in days["days"]}
    gross = 3 * PRICES["milk"] + PRICES["bread"]
    back = 2 * PRICES["milk"]
    assert Decimal(by_store["SMKT001"]["revenue"]) == gross
    assert by_store["SMKT001"]["refunds"] == 0
    assert by_store["SMKT002"]["purchases"] == 0
    assert by_store["SMKT002"]["refunds"] == 1
    assert Decimal(by_store["SMKT002"]["refunded"]) == back
    assert Decimal(by_store["SMKT002"]["revenue"]) == -back
    totals = await analytics.get("/sales/daily-totals", params={"from": today, "to": today})
    [day] = totals.json()["days"]
    assert (Decimal(day["gross_revenue"]), Decimal(day["revenue"])) == (gross, gross - back)
    stores = (await analytics.get("/supermarkets")).json()["supermarkets"]
    assert sum(Decimal(s["revenue"]) for s in stores) == gross - back
    top = (await analytics.get("/top-products")).json()["products"]
    milk = next(row for row in top if row["product"] == "milk")
    assert (milk["units_sold"], milk["units_returned"]) == (1, 2)
    ranged = await analytics.get("/top-products", params={"from": today, "to": today})
    milk = next(row for row in ranged.json()["products"] if row["product"] == "milk")
    assert (milk["units_sold"], milk["units_returned"]) == (1, 2)
    returned = await analytics.get("/returned-products", params={"from": today, "to": today})
    [most] = returned.json()["products"]
    assert (most["product"], most["units_returned"], Decimal(most["refunded"])) == ("milk", 2, back)
    as_csv = await analytics.get("/returned-products", params={"format": "csv"})
    assert as_csv.content.decode("utf-8-sig").splitlines() == [
        "product,units_returned,refunded", f"milk,2,{most['refunded']}",
    ]  # fmt: skip
    at_the_sales_store = await analytics.get(
        "/returned-products", params={"supermarket_id": "SMKT001"}
    )
    assert at_the_sales_store.json()["products"] == []  # booked where it was taken back
