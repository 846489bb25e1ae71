"""The dashboard's range reports: every day of a range (zeros included) and each store over a
range, counted again here from the seed CSV and the raw purchases."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import asyncpg
import httpx

from tests.conftest import SEED_DIR
from tests.rows import pairs


def seed_days() -> dict[tuple[str, str], list[dict[str, str]]]:
    """The seed's purchases by (UTC day, store), read with the csv module alone."""
    found: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    with (SEED_DIR / "purchases.csv").open(encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            found[(row["timestamp"][:10], row["supermarket_id"])].append(row)
    return found


async def test_daily_totals_equal_a_recount_and_show_empty_days(
    analytics: httpx.AsyncClient, seeded: asyncpg.Connection
) -> None:
    days = seed_days()
    first = min(day for day, _ in days)
    start = date.fromisoformat(first) - timedelta(days=3)  # three days before any sale
    end = start + timedelta(days=40)
    answer = await analytics.get(
        "/sales/daily-totals", params={"from": start.isoformat(), "to": end.isoformat()}
    )
    assert answer.status_code == 200
    shown = answer.json()["days"]
    assert [d["day"] for d in shown] == [(start + timedelta(n)).isoformat() for n in range(41)]
    revenue = pairs(
        await seeded.fetch(
            "SELECT (purchased_at AT TIME ZONE 'UTC')::date::text, sum(total_amount)::text "
            "FROM purchases GROUP BY 1"
        )
    )
    for day in shown:
        rows = [row for (d, _), group in days.items() if d == day["day"] for row in group]
        assert day["purchases"] == len(rows)
        assert day["units"] == sum(len(row["items_list"].split(",")) for row in rows)
        assert day["customers"] == len({row["user_id"] for row in rows})
        assert Decimal(day["revenue"]) == Decimal(revenue.get(day["day"], "0"))
    assert shown[0]["purchases"] == 0


async def test_one_store_over_a_range_counts_its_own_distinct_customers(
    analytics: httpx.AsyncClient, seeded: asyncpg.Connection
) -> None:
    days = seed_days()
    start, end = min(d for d, _ in days), max(d for d, _ in days)
    answer = await analytics.get("/sales/by-store", params={"from": start, "to": end})
    assert answer.status_code == 200
    for store in answer.json()["supermarkets"]:
        rows = [r for (_, s), group in days.items() if s == store["supermarket_id"] for r in group]
        assert store["purchases"] == len(rows)
        assert store["customers"] == len({row["user_id"] for row in rows})
    one = await analytics.get(
        "/sales/daily-totals", params={"from": start, "to": end, "supermarket_id": "SMKT001"}
    )
    assert sum(d["purchases"] for d in one.json()["days"]) == sum(
        len(group) for (_, s), group in days.items() if s == "SMKT001"
    )
