"""Each store's business day in its own time zone: sales just before and after local
midnight land on the right local day, days of 23 and 25 hours are one day each, a store that
moves to another zone has its days recounted, and every day-based answer names the zones.

Every expected figure is a recount in Python (zoneinfo) of the purchases as stored, never the
rollups the answers come from.
"""

from __future__ import annotations

import asyncio
import csv
import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from loader.service import LoadRefused, load_chain_data
from loader.settings import LoaderSettings
from tests.conftest import SEED_DIR
from tests.keys import ChainKeys
from tests.rows import pairs

NEW_YORK, MADRID = "America/New_York", "Europe/Madrid"
ZONES = {"SMKT001": NEW_YORK, "SMKT002": MADRID, "SMKT003": "UTC"}


def _copy_catalog(folder: Path, zones: dict[str, str] | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "products_list.csv").write_bytes((SEED_DIR / "products_list.csv").read_bytes())
    rows = (
        ["id,time_zone", *(f"{store},{zone}" for store, zone in zones.items())]
        if zones
        else ["id", *ZONES]
    )
    (folder / "supermarkets.csv").write_text("\n".join(rows) + "\n")


def _write_purchases(folder: Path, sales: list[tuple[str, str]]) -> None:
    """(store, timestamp as written) each: one milk for a new customer."""
    with (folder / "purchases.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["supermarket_id", "timestamp", "user_id", "items_list", "total_amount"])
        for store, moment in sales:
            writer.writerow([store, moment, str(uuid.uuid4()), "milk", "1.50"])


async def _load(db: asyncpg.Connection, folder: Path, chain_zone: str = "UTC") -> None:
    await load_chain_data(db, folder, LoaderSettings(chain_timezone=chain_zone))


async def recount(db: asyncpg.Connection) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (store, local day): purchases, revenue, distinct customers, from the raw purchases."""
    zones = pairs(await db.fetch("SELECT id, time_zone FROM supermarkets"))
    days: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"purchases": 0, "revenue": Decimal(0), "customers": set()}
    )
    for row in await db.fetch(
        "SELECT supermarket_id, purchased_at, customer_id, total_amount FROM purchases"
    ):
        local = row["purchased_at"].astimezone(ZoneInfo(zones[row["supermarket_id"]])).date()
        day = days[(row["supermarket_id"], local.isoformat())]
        day["purchases"] += 1
        day["revenue"] += row["total_amount"]
        day["customers"].add(row["customer_id"])
    return {
        key: {**figures, "customers": len(figures["customers"])} for key, figures in days.items()
    }


async def answered(
    analytics: httpx.AsyncClient, first: date, last: date
) -> dict[tuple[str, str], dict[str, Any]]:
    body = (
        await analytics.get(
            "/sales/daily", params={"from": first.isoformat(), "to": last.isoformat()}
        )
    ).json()
    return {
        (day["supermarket_id"], day["day"]): {
            "purchases": day["purchases"],
            "revenue": Decimal(str(day["revenue"])),
            "customers": day["customers"],
        }
        for day in body["days"]
    }


async def test_sales_either_side_of_local_midnight_land_on_their_local_day(
    db: asyncpg.Connection, tmp_path: Path, analytics: httpx.AsyncClient
) -> None:
    _copy_catalog(tmp_path, ZONES)
    # Local times, as a store's till shows them, and the same moments with explicit offsets.
    _write_purchases(
        tmp_path,
        [
            ("SMKT001", "2026-01-15T23:30:00"),  # 04:30 UTC on the 16th
            ("SMKT001", "2026-01-16T00:30:00-05:00"),
            ("SMKT002", "2026-01-15T23:30:00"),  # 22:30 UTC on the 15th
            ("SMKT002", "2026-01-16T00:30:00"),  # 23:30 UTC on the 15th
            ("SMKT003", "2026-01-15T23:30:00Z"),
        ],
    )
    await _load(db, tmp_path)
    days = await answered(analytics, date(2026, 1, 14), date(2026, 1, 17))
    assert {key: figures["purchases"] for key, figures in days.items()} == {
        ("SMKT001", "2026-01-15"): 1,
        ("SMKT001", "2026-01-16"): 1,
        ("SMKT002", "2026-01-15"): 1,
        ("SMKT002", "2026-01-16"): 1,
        ("SMKT003", "2026-01-15"): 1,
    }
    assert days == await recount(db)
    # The zones reach the analytics by NOTIFY, a moment after the load.
    for _ in range(100):
        body = (await analytics.get("/sales/daily-totals", params={"from": "2026-01-15"})).json()
        if body["time_zones"] == ZONES:
            break
        await asyncio.sleep(0.02)
    assert body["time_zones"] == ZONES
    stores = (await analytics.get("/supermarkets")).json()["supermarkets"]
    assert {store["supermarket_id"]: store["time_zone"] for store in stores} == ZONES


async def test_days_of_23_and_25_hours_are_one_local_day_each(
    db: asyncpg.Connection, tmp_path: Path, analytics: httpx.AsyncClient
) -> None:
    """New York, 2025: clocks go forward on 9 March (02:00 does not exist) and back on
    2 November (01:00-02:00 happens twice). A sale at half past every hour of each day."""
    zone = ZoneInfo(NEW_YORK)
    sales = []
    for day in (date(2025, 3, 9), date(2025, 11, 2)):
        start = datetime(day.year, day.month, day.day, tzinfo=zone)
        moment = start.astimezone(ZoneInfo("UTC")) + timedelta(minutes=30)
        while moment.astimezone(zone).date() == day:
            sales.append(("SMKT001", moment.isoformat()))  # with its offset: no ambiguity
            moment += timedelta(hours=1)
    _copy_catalog(tmp_path, {"SMKT001": NEW_YORK})
    _write_purchases(tmp_path, sales)
    await _load(db, tmp_path)
    spring = await answered(analytics, date(2025, 3, 8), date(2025, 3, 10))
    autumn = await answered(analytics, date(2025, 11, 1), date(2025, 11, 3))
    assert {key[1]: figures["purchases"] for key, figures in spring.items()} == {"2025-03-09": 23}
    assert {key[1]: figures["purchases"] for key, figures in autumn.items()} == {"2025-11-02": 25}
    assert {**spring, **autumn} == await recount(db)


async def test_a_store_that_moves_zone_has_its_days_recounted(
    db: asyncpg.Connection, tmp_path: Path, analytics: httpx.AsyncClient
) -> None:
    _copy_catalog(tmp_path, None)  # no zone column: CHAIN_TIMEZONE (UTC) for every store
    _write_purchases(
        tmp_path,
        [
            ("SMKT001", f"2026-02-0{day}T{hour:02d}:15:00")
            for day in (1, 2, 3)
            for hour in (1, 13, 23)
        ],
    )
    await _load(db, tmp_path)
    assert set(await answered(analytics, date(2026, 1, 31), date(2026, 2, 4))) == {
        ("SMKT001", f"2026-02-0{day}") for day in (1, 2, 3)
    }
    before = await db.fetch("SELECT * FROM purchases ORDER BY id")
    # The chain moves to New York time: the loader, run again on the same file (its times
    # without an offset now mean other instants), sets the zone, recounts, and finds every
    # sale stored already.
    await _load(db, tmp_path, chain_zone=NEW_YORK)
    assert await db.fetch("SELECT * FROM purchases ORDER BY id") == before, "nothing new"
    moved = await answered(analytics, date(2026, 1, 31), date(2026, 2, 4))
    assert ("SMKT001", "2026-01-31") in moved  # 01:15 UTC on the 1st is the evening before
    assert moved == await recount(db)
    assert sum(figures["purchases"] for figures in moved.values()) == 9


async def test_an_unknown_zone_in_the_file_is_refused_with_its_line(
    db: asyncpg.Connection, tmp_path: Path
) -> None:
    _copy_catalog(tmp_path, {"SMKT001": "UTC", "SMKT002": "Mars/Olympus_Mons"})
    _write_purchases(tmp_path, [])
    with pytest.raises(LoadRefused) as refused:
        await _load(db, tmp_path)
    [problem] = refused.value.problems
    assert (problem.file, problem.line) == ("supermarkets.csv", 3)
    assert "Mars/Olympus_Mons" in problem.reason
    assert await db.fetchval("SELECT count(*) FROM supermarkets") == 0


def test_an_unknown_chain_zone_stops_the_loader_naming_it() -> None:
    with pytest.raises(ValueError, match="CHAIN_TIMEZONE"):
        LoaderSettings(chain_timezone="Atlantis/Capital")


@pytest.fixture
async def zoned(keys: ChainKeys, db: asyncpg.Connection) -> None:
    """The seed stores in ZONES' time zones, before the services start."""
    for store, zone in ZONES.items():
        await db.execute("UPDATE supermarkets SET time_zone = $2 WHERE id = $1", store, zone)


async def test_an_offline_sale_without_an_offset_is_its_stores_local_time(
    db: asyncpg.Connection,
    zoned: None,
    cash_register: httpx.AsyncClient,
    analytics: httpx.AsyncClient,
) -> None:
    yesterday = (datetime.now(ZoneInfo(MADRID)) - timedelta(days=1)).date()
    response = await cash_register.post(
        "/purchases",
        json={
            "purchases": [
                {
                    "client_purchase_id": "madrid-late",
                    "supermarket_id": "SMKT002",
                    "purchased_at": f"{yesterday}T23:45:00",
                    "items": ["milk"],
                }
            ]
        },
    )
    assert response.status_code == 200, response.text
    stored = await db.fetchval("SELECT purchased_at FROM purchases")
    assert stored.astimezone(ZoneInfo(MADRID)).replace(tzinfo=None) == datetime(
        yesterday.year, yesterday.month, yesterday.day, 23, 45
    )
    days = await answered(analytics, yesterday - timedelta(days=1), yesterday + timedelta(days=1))
    assert list(days) == [("SMKT002", yesterday.isoformat())]
