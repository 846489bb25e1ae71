"""Live sales while tills upload their offline sales flat out, against the same sales with
nobody uploading, alternating in one run: uploads must not make the other tills wait, whether
one till uploads or a till of every store does at once."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import orjson

from admin.keys import issue
from bench.environment import WORK_DIR, bench_database, bench_keys, machine, now, serving
from bench.goals import Goal, Section, verdicts
from bench.purchases import TILL_REQUESTS_PER_SECOND, paced

UPLOADS = "uploads"
# Quiet and uploading stretches alternate this many times with one till uploading, so
# whatever else the machine does weighs on both alike; then once with a till of every store
# uploading at once, as after an outage of the stores' network (each cash register worker
# rests its own offline queue, so two workers' backlogs both go on).
ROUNDS = 3
TILLS_AFTER_AN_OUTAGE = 3
# The other tills' live sales, offered per second (bench/paced_purchase.lua).
LIVE_RATE = 200
# The largest upload the limits allow: 1,000 sales of 100 items each.
SALES_PER_UPLOAD = 1000
ITEMS_PER_SALE = 100
# Uploads made beforehand per uploading till: making them meanwhile would take the CPU the
# measurement shares.
BODIES_PER_TILL = 60
LIVE_P99_WITHIN = 3.0
STORES = "SELECT id FROM supermarkets ORDER BY id"
SHORT_NAMES = "SELECT name FROM products WHERE length(name) <= 6 ORDER BY name"


@dataclass
class Uploader:
    """One till uploading full batches back to back, with no items budget to stop it: how
    many uploads were answered, and the sales acknowledged (by client id) and rejected."""

    till: str
    key: str
    bodies: list[bytes]
    acknowledged: set[str] = field(default_factory=set)
    uploads: int = 0
    rejected: int = 0

    def run(self, url: str, stop: threading.Event) -> None:
        """Upload until `stop`, the next upload as soon as the last is answered. Bodies come
        round again once all were sent: their sales are then duplicates, answered as such."""
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            while not stop.is_set():
                body = self.bodies[self.uploads % len(self.bodies)]
                answer = client.post("/purchases", content=body)
                if answer.status_code != 200:
                    raise RuntimeError(f"upload answered {answer.status_code}: {answer.text}")
                result = answer.json()
                self.uploads += 1
                self.rejected += result["rejected"]
                self.acknowledged.update(
                    outcome["client_purchase_id"]
                    for outcome in result["outcomes"]
                    if outcome["status"] != "rejected"
                )


def _bodies(till: str, store: str, products: list[str]) -> list[bytes]:
    """The till's full uploads: sales of yesterday, one a second, each id its own."""
    rng = random.Random(till)
    when = datetime.now(UTC) - timedelta(days=1)

    def sale(number: int) -> dict[str, object]:
        return {
            "client_purchase_id": f"{till}-{number}",
            "supermarket_id": store,
            "items": rng.choices(products, k=ITEMS_PER_SALE),
            "purchased_at": (when - timedelta(seconds=number)).isoformat(),
        }

    def upload(number: int) -> bytes:
        first = number * SALES_PER_UPLOAD
        return orjson.dumps({"purchases": [sale(first + n) for n in range(SALES_PER_UPLOAD)]})

    return [upload(number) for number in range(BODIES_PER_TILL)]


async def _uploaders(database_url: str, tills: int) -> list[Uploader]:
    """`tills` uploading tills, one per store in turn, with their keys and their uploads of
    the shorter product names (a full upload stays under the 1 MB body limit)."""
    connection = await asyncpg.connect(database_url)
    try:
        stores = [r["id"] for r in await connection.fetch(STORES)]
        products = [r["name"] for r in await connection.fetch(SHORT_NAMES)]
        made = []
        for number in range(tills):
            store = stores[number % len(stores)]
            till = f"bench-uploader-{number + 1}"
            key = await issue(connection, "till", till, store)
            made.append(Uploader(till, key, _bodies(till, store, products)))
        return made
    finally:
        await connection.close()


async def _stored_offline(database_url: str, uploaders: list[Uploader]) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        stored: int = await connection.fetchval(
            "SELECT count(*) FROM offline_sales WHERE till_id = ANY($1::text[])",
            [u.till for u in uploaders],
        )
        return stored
    finally:
        await connection.close()


def _while_uploading(
    url: str, uploaders: list[Uploader], measure: Callable[[], dict[str, float]]
) -> dict[str, float]:
    """`measure()`, with every uploader uploading from before it starts until it ends."""
    stop = threading.Event()
    threads = [threading.Thread(target=u.run, args=(url, stop)) for u in uploaders]
    for thread in threads:
        thread.start()
    try:
        return measure()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)


@dataclass
class Stretch:
    """One round: live sales quiet, then the same while `tills` upload."""

    quiet: dict[str, float]
    uploading: dict[str, float]
    uploads: int
    tills: int

    @property
    def who(self) -> str:
        return "a till uploads" if self.tills == 1 else f"{self.tills} tills upload"

    @property
    def ratio(self) -> float:
        return self.uploading["p99_ms"] / self.quiet["p99_ms"]


def run_upload_benchmark(seconds: int, workers: int) -> Section:
    """Measure; return the report section with its goals."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    stretches: list[Stretch] = []
    with bench_database() as database_url:
        keys = bench_keys(database_url)
        uploaders = asyncio.run(_uploaders(database_url, TILLS_AFTER_AN_OUTAGE))
        with serving(
            "cash_register.main:app", database_url, workers, log_name="uploads",
            TILL_REQUESTS_PER_SECOND=TILL_REQUESTS_PER_SECOND, TILL_UPLOAD_ITEMS_PER_SECOND="0",
        ) as url:  # fmt: skip
            paced(url, LIVE_RATE, 5, keys)  # warm: pools, prepared statements, caches
            for run, tills in enumerate([1] * ROUNDS + [TILLS_AFTER_AN_OUTAGE], start=1):
                print(f"uploads round {run}: live sales at {LIVE_RATE}/s, quiet …", flush=True)
                quiet = paced(url, LIVE_RATE, seconds, keys)
                print(f"uploads round {run}: the same while {tills} upload flat out …", flush=True)
                before = sum(u.uploads for u in uploaders)
                busy = _while_uploading(
                    url, uploaders[:tills], lambda: paced(url, LIVE_RATE, seconds, keys)
                )
                uploads = sum(u.uploads for u in uploaders) - before
                stretches.append(Stretch(quiet, busy, uploads, tills))
        stored = asyncio.run(_stored_offline(database_url, uploaders))
    return _section(seconds, workers, stretches, uploaders, stored)


def _section(
    seconds: int, workers: int, stretches: list[Stretch], uploaders: list[Uploader], stored: int
) -> Section:
    section = Section(UPLOADS, "")
    for run, stretch in enumerate(stretches, start=1):
        section.add(
            f"run {run}: live p99 while {stretch.who} flat out ≤ {LIVE_P99_WITHIN:g} × quiet",
            f"{stretch.ratio:.2f} × ({stretch.uploading['p99_ms']:.1f} against "
            f"{stretch.quiet['p99_ms']:.1f} ms)",
            stretch.ratio <= LIVE_P99_WITHIN,
        )
    uploads = sum(s.uploads for s in stretches)
    section.add("the uploading tills' sales got stored meanwhile", f"{uploads} full uploads",
                all(s.uploads > 0 for s in stretches))  # fmt: skip
    errors = sum(
        f["non_2xx"] + f["socket_errors"] for s in stretches for f in (s.quiet, s.uploading)
    )
    section.add("live sales: no non-2xx, no socket errors", f"{errors:.0f}", errors == 0)
    acknowledged = sum(len(u.acknowledged) for u in uploaders)
    rejected = sum(u.rejected for u in uploaders)
    section.add(
        "every uploaded sale acknowledged is stored once",
        f"{stored:,} stored, {acknowledged:,} acknowledged, {rejected} rejected",
        stored == acknowledged and rejected == 0,
    )
    section.report = _report(seconds, workers, stretches, section.goals)
    return section


def _row(name: str, figures: dict[str, float]) -> str:
    return (
        f"| {name} | {figures['rate']:,.0f} | {figures['p50_ms']:.1f} | "
        f"{figures['p99_ms']:.1f} | {figures['p999_ms']:.1f} | {figures['non_2xx']:.0f} |"
    )


def _report(seconds: int, workers: int, stretches: list[Stretch], goals: list[Goal]) -> str:
    rows = "\n".join(
        f"{_row(f'round {n}, quiet', s.quiet)}\n"
        f"{_row(f'round {n}, while {s.who} flat out ({s.uploads} uploads)', s.uploading)}"
        for n, s in enumerate(stretches, start=1)
    )
    return f"""
## Offline uploads beside live sales

- Date: {now()}
- Machine: {machine()}; PostgreSQL, the service and the load generators share it.
- Service: cash register, {workers} uvicorn workers, no items budget for uploads
  (`TILL_UPLOAD_ITEMS_PER_SECOND=0`): only the scheduling keeps the live sales fast.
- Live sales: POST /purchase offered at {LIVE_RATE}/s, open loop (`bench/paced_purchase.lua`),
  {seconds} s per stretch; quiet and uploading stretches alternate, {len(stretches)} rounds:
  {ROUNDS} with one till uploading, then one with a till of each of
  {TILLS_AFTER_AN_OUTAGE} stores uploading at once, as after an outage of their network.
- Each uploading till posts full uploads ({SALES_PER_UPLOAD:,} sales of {ITEMS_PER_SALE}
  items) back to back, the next as soon as the last is answered.

| stretch | sales/s | p50 ms | p99 ms | p99.9 ms | non-2xx |
|---|---:|---:|---:|---:|---:|
{rows}

{verdicts(goals)}"""
