"""Offline uploads are fair: a till uploading as hard as it can never makes the other tills'
live sales wait behind its uploads; a till has one upload in progress at a time, and its
uploads are paid for by the items they carry, not by the request. How close the live sales
stay to their quiet speed is a figure of `make bench` (its uploads section), not of a test."""

from __future__ import annotations

import asyncio
import itertools
import random
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import orjson
import pytest

from cash_register.errors import UploadInProgress
from cash_register.settings import cash_register_settings
from cash_register.upload_admission import UploadAdmission
from tests.conftest import app_client, read_seed
from tests.keys import ChainKeys

UPLOADER = "SMKT001"
LIVE = "SMKT002"
ROUNDS = 3  # quiet and busy stretches, alternating


def full_upload(number: int, sales: int = 1000, items: int = 100) -> bytes:
    """About the largest upload the limits allow: 1,000 sales of 100 items each, of the
    shorter names (so the body stays under the 1 MB body limit)."""
    products = [name for name in read_seed().prices if len(name) <= 6]
    rng = random.Random(number)
    when = datetime.now(UTC) - timedelta(days=1)
    body = {
        "purchases": [
            {
                "client_purchase_id": f"up-{number}-{sale}",
                "supermarket_id": UPLOADER,
                "items": rng.choices(products, k=items),
                "purchased_at": (when - timedelta(seconds=sale)).isoformat(),
            }
            for sale in range(sales)
        ]
    }
    return orjson.dumps(body)


async def another_tills_upload(
    client: httpx.AsyncClient, keys: ChainKeys, number: int
) -> httpx.Response:
    """One sale uploaded by the till of the other store."""
    [sale] = orjson.loads(full_upload(number, sales=1))["purchases"]
    return await client.post(
        "/purchases",
        json={"purchases": [{**sale, "supermarket_id": LIVE}]},
        headers=keys.till_headers(LIVE),
    )


def p99(seconds: list[float]) -> float:
    ordered = sorted(seconds)
    return ordered[int(len(ordered) * 0.99) - 1]


async def live_sales(client: httpx.AsyncClient, headers: dict[str, str], count: int) -> list[float]:
    """The time of each of `count` sales, one after the other, of another till."""
    taken = []
    for _ in range(count):
        started = time.perf_counter()
        answer = await client.post(
            "/purchase", json={"supermarket_id": LIVE, "items": ["milk", "bread"]}, headers=headers
        )
        taken.append(time.perf_counter() - started)
        assert answer.status_code == 201, answer.text
    return taken


async def upload_flat_out(
    client: httpx.AsyncClient, headers: dict[str, str], bodies: Iterator[bytes],
    stored: list[int], refused: list[int], stop: asyncio.Event, took: list[float],
) -> None:  # fmt: skip
    """Upload full batches back to back, ignoring Retry-After beyond a short pause; `took`
    gets each stored upload's time. The bodies are made beforehand: making one here would
    hold the event loop the server shares with the test."""
    headers = {**headers, "Content-Type": "application/json"}
    while not stop.is_set():
        started = time.perf_counter()
        answer = await client.post("/purchases", content=next(bodies), headers=headers)
        if answer.status_code == 200:
            took.append(time.perf_counter() - started)
            stored.append(answer.json()["created"] + answer.json()["duplicates"])
        else:
            assert answer.status_code == 429, answer.text
            refused.append(int(answer.headers["retry-after"]))
            await asyncio.sleep(0.05)


@pytest.fixture
def items_per_second(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Set the tills' upload budget for the app a test starts next."""

    def set_to(value: str) -> None:
        monkeypatch.setenv("TILL_UPLOAD_ITEMS_PER_SECOND", value)
        cash_register_settings.cache_clear()

    yield set_to
    cash_register_settings.cache_clear()


async def test_a_till_uploading_flat_out_never_makes_the_others_wait_behind_its_uploads(
    keys: ChainKeys, catalog: asyncpg.Connection, items_per_second: Callable[[str], None]
) -> None:
    """Ten uploads at once, again and again, with no budget to stop them: only the
    scheduling (one upload at a time, sales checked a few at a time, offline batches small,
    behind the live ones, and resting) keeps the other till's sales from queuing behind
    them. Were a live sale to wait for an upload's sales, or for its whole parsing and
    checking, it would take a good part of an upload's time; the bound is a tenth of it,
    far above what a live sale takes anyway (the two differ a hundredfold)."""
    items_per_second("0")
    idle: list[float] = []
    loaded: list[float] = []
    stored: list[int] = []
    refused: list[int] = []
    took: list[float] = []
    bodies = itertools.cycle([full_upload(number) for number in range(6)])
    async for client in app_client("cash_register.main"):
        live = keys.till_headers(LIVE)
        await live_sales(client, live, 50)  # warm: pool, prepared statements
        for _ in range(ROUNDS):
            idle += await live_sales(client, live, 100)
            stop = asyncio.Event()
            uploader = keys.till_headers(UPLOADER)
            uploaders = [
                asyncio.create_task(
                    upload_flat_out(client, uploader, bodies, stored, refused, stop, took)
                )
                for _ in range(10)
            ]
            await asyncio.sleep(0.3)
            loaded += await live_sales(client, live, 100)
            stop.set()
            await asyncio.gather(*uploaders)  # quiet again before the next quiet stretch
    assert sum(stored) >= ROUNDS * 1000, "the uploading till got its sales stored meanwhile"
    upload = statistics.median(took)
    print(f"live p99: idle {p99(idle) * 1000:.1f} ms, uploading {p99(loaded) * 1000:.1f} ms; "
          f"an upload took {upload * 1000:.0f} ms (median); "
          f"{sum(stored)} uploaded sales stored meanwhile")  # fmt: skip
    assert p99(loaded) <= upload / 10, f"live p99 {p99(loaded):.4f} s, an upload {upload:.3f} s"


async def test_a_second_upload_of_a_till_meanwhile_is_a_429_and_another_tills_goes_through(
    keys: ChainKeys, catalog: asyncpg.Connection
) -> None:
    first_body = full_upload(1)
    async for client in app_client("cash_register.main"):
        headers = {**keys.till_headers(UPLOADER), "Content-Type": "application/json"}
        first = asyncio.create_task(client.post("/purchases", content=first_body, headers=headers))
        while not await catalog.fetchval("SELECT count(*) FROM uploads_in_progress"):  # noqa: ASYNC110 (the claim is in another connection)
            await asyncio.sleep(0.001)
        second = await client.post("/purchases", content=full_upload(2, sales=3), headers=headers)
        other = await another_tills_upload(client, keys, 3)
        assert (await first).status_code == 200
    assert second.status_code == 429
    assert second.headers["content-type"] == "application/problem+json"
    assert int(second.headers["retry-after"]) >= 1
    assert second.json()["type"] == "/problems/upload-in-progress"
    assert other.status_code == 200
    assert other.json()["created"] == 1
    stored = await catalog.fetchval(
        "SELECT count(*) FROM offline_sales WHERE client_purchase_id LIKE 'up-2-%'"
    )
    assert stored == 0, "the refused upload stored nothing"
    assert await catalog.fetchval("SELECT count(*) FROM uploads_in_progress") == 0


async def test_uploads_are_paid_for_by_their_items(
    keys: ChainKeys, catalog: asyncpg.Connection, items_per_second: Callable[[str], None]
) -> None:
    """A full budget takes one largest upload; the next is taken once the budget has refilled
    at all, and its items put the till in debt: the one after waits until the debt is paid,
    however few requests the till sent. Other tills have budgets of their own."""
    items_per_second("1")
    async for client in app_client("cash_register.main"):
        headers = {**keys.till_headers(UPLOADER), "Content-Type": "application/json"}
        largest = await client.post("/purchases", content=full_upload(1), headers=headers)
        await asyncio.sleep(1)
        small = await client.post("/purchases", content=full_upload(2, sales=1), headers=headers)
        refused = await client.post("/purchases", content=full_upload(3, sales=1), headers=headers)
        other = await another_tills_upload(client, keys, 4)
    assert [largest.status_code, small.status_code, refused.status_code] == [200, 200, 429]
    assert largest.json()["created"] == 1000
    assert refused.json()["type"] == "/problems/upload-budget-spent"
    assert "1 items per second" in refused.json()["detail"]
    # The small upload's 100 items, less what refilled since the largest began, are owed.
    assert 100 - 30 <= int(refused.headers["retry-after"]) <= 100
    assert other.status_code == 200
    assert (
        await catalog.fetchval(
            "SELECT count(*) FROM offline_sales WHERE client_purchase_id LIKE 'up-3-%'"
        )
        == 0
    )


async def test_the_claim_holds_across_workers_and_lapses_if_its_worker_died(
    pool: asyncpg.Pool, catalog: asyncpg.Connection
) -> None:
    """Two workers' admissions share the claim in the database; a claim left by a worker
    that died ends at its time, and the till uploads again."""
    one = UploadAdmission(pool, 0, claim_seconds=0.2)
    other = UploadAdmission(pool, 0, claim_seconds=0.2)
    async with one.admit("till-x"):
        with pytest.raises(UploadInProgress):
            async with other.admit("till-x"):
                pass
        async with other.admit("till-y"):
            pass
    async with other.admit("till-x"):
        pass
    abandoned = one.admit("till-x")
    await abandoned.__aenter__()  # its worker dies: the claim is never given back
    with pytest.raises(UploadInProgress):
        async with other.admit("till-x"):
            pass
    await asyncio.sleep(0.3)
    async with other.admit("till-x"):
        pass
