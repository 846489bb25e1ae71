"""For any sequence of sales and refunds, at any tills of the chain: each refund is taken or
refused as a recount of what was sold and refunded says, and the owners' net revenue, gross
revenue, refunds and amounts refunded per store move by exactly what that recount says.
Swept with hypothesis against real servers (two workers each), as tills and owners send."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import read_seed
from tests.keys import ChainKeys

PRICES = read_seed().prices  # the catalog as the CSV gives it, not as the code reads it
PRODUCTS = sorted(PRICES)
STORES = ("SMKT001", "SMKT002", "SMKT003")
MONEY = ("revenue", "gross_revenue", "refunded")

a_sale = st.tuples(
    st.just("sale"),
    st.sampled_from(STORES),
    st.lists(st.sampled_from(PRODUCTS[:6]), min_size=1, max_size=4),
)
a_refund = st.tuples(
    st.just("refund"),
    st.sampled_from(STORES),
    st.integers(min_value=0, max_value=20),  # which earlier sale (modulo how many there are)
    st.one_of(
        st.just("all"),
        st.lists(
            st.tuples(st.sampled_from(PRODUCTS[:8]), st.integers(min_value=1, max_value=3)),
            min_size=1,
            max_size=2,
            unique_by=lambda line: line[0],
        ),
    ),
)


@dataclass
class SoldSale:
    purchase_id: int
    lines: Counter[str]
    refunded: Counter[str] = field(default_factory=Counter)


@dataclass
class Recount:
    """What the owners' figures must have moved by, per store, by this example's work."""

    gross: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    refunded: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    refunds: Counter[str] = field(default_factory=Counter)


def expected_refund(sale: SoldSale, lines: Any) -> tuple[int, Decimal]:
    """The status a refund must get, and its amount when it is taken."""
    if lines == "all":
        left = {p: q - sale.refunded[p] for p, q in sale.lines.items() if q > sale.refunded[p]}
        if not left:
            return 409, Decimal(0)
        return 201, sum((PRICES[p] * q for p, q in left.items()), Decimal(0))
    if any(product not in sale.lines for product, _ in lines):
        return 422, Decimal(0)
    if any(q > sale.lines[p] - sale.refunded[p] for p, q in lines):
        return 409, Decimal(0)
    return 201, sum((PRICES[p] * q for p, q in lines), Decimal(0))


def figures(analytics: httpx.Client, owner: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Each store's figures over the days around now (a sale's day is its store's, UTC here)."""
    today = datetime.now(UTC).date()
    params = {"from": (today - timedelta(days=1)).isoformat(),
              "to": (today + timedelta(days=1)).isoformat()}  # fmt: skip
    answer = analytics.get("/sales/by-store", params=params, headers=owner)
    assert answer.status_code == 200, answer.text
    return {row["supermarket_id"]: row for row in answer.json()["supermarkets"]}


def test_net_revenue_is_the_recount_of_sales_less_refunds(
    servers: dict[str, str], keys: ChainKeys, catalog: asyncpg.Connection
) -> None:
    tills = httpx.Client(base_url=servers["cash_register"], timeout=30)
    analytics = httpx.Client(base_url=servers["analytics"], timeout=30)
    owner = keys.owner_headers()

    @settings(
        max_examples=25, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )  # fmt: skip
    @given(st.lists(st.one_of(a_sale, a_refund), min_size=1, max_size=12))
    def sales_and_refunds(steps: list[Any]) -> None:
        before = figures(analytics, owner)
        sold: list[SoldSale] = []
        recount = Recount()
        for step in steps:
            if step[0] == "sale":
                _, store, items = step
                answer = tills.post("/purchase", json={"supermarket_id": store, "items": items},
                                    headers=keys.till_headers(store))  # fmt: skip
                assert answer.status_code == 201, answer.text
                sold.append(SoldSale(answer.json()["purchase_id"], Counter(items)))
                recount.gross[store] += sum((PRICES[p] for p in items), Decimal(0))
                continue
            _, store, which, lines = step
            if not sold:
                continue
            sale = sold[which % len(sold)]
            status, amount = expected_refund(sale, lines)
            body = {"purchase_id": sale.purchase_id, "reason": "returned",
                    "lines": lines if lines == "all"
                    else [{"product": p, "quantity": q} for p, q in lines]}  # fmt: skip
            answer = tills.post("/refunds", json=body, headers=keys.till_headers(store))
            assert answer.status_code == status, (step, answer.text)
            if status == 201:
                assert Decimal(answer.json()["total_amount"]) == amount
                taken = (
                    {p: q - sale.refunded[p] for p, q in sale.lines.items()}
                    if lines == "all" else dict(lines)
                )  # fmt: skip
                sale.refunded.update(taken)
                recount.refunded[store] += amount
                recount.refunds[store] += 1
        after = figures(analytics, owner)
        for store in STORES:
            moved = {k: Decimal(after[store][k]) - Decimal(before[store][k]) for k in MONEY}
            assert moved["gross_revenue"] == recount.gross[store], store
            assert moved["refunded"] == recount.refunded[store], store
            assert moved["revenue"] == recount.gross[store] - recount.refunded[store], store
            assert after[store]["refunds"] - before[store]["refunds"] == recount.refunds[store]

    try:
        sales_and_refunds()
    finally:
        tills.close()
        analytics.close()
