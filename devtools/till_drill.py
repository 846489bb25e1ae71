"""Tills that trade through a fault: eight keyed tills, each sale retried until it is
acknowledged, while something breaks. The fault tests (tests/ha.py) and `make bench`'s
failover section both drive the cluster with it, and read the same figures from it: what the
tills were answered, and how long no sale was accepted.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

# Retryable answers, as a till sees them: the service says the database is away.
RETRYABLE = {503}
RECOVERY_LIMIT_SECONDS = 30


@dataclass
class Trade:
    """What the tills saw: every acknowledged sale by key, and every answer (0: the
    connection broke), with the text of the first answer no till should get."""

    acknowledged: dict[str, int] = field(default_factory=dict)
    answers: Counter[int] = field(default_factory=Counter)
    accepted_at: list[float] = field(default_factory=list)
    unexpected: str | None = None


async def keep_selling(
    client: httpx.AsyncClient,
    till: tuple[str, str],
    name: str,
    trade: Trade,
    stop_at: asyncio.Event,
) -> None:
    """One till (its key and store): sale after sale, each retried with its Idempotency-Key
    until it is acknowledged."""
    key, store = till
    headers = {"Authorization": f"Bearer {key}"}
    body = {"supermarket_id": store, "items": ["milk", "bread"]}
    number = 0
    while not stop_at.is_set():
        number += 1
        sale_key = f"{name}-{number}"
        while True:
            try:
                answer = await client.post(
                    "/purchase", json=body, headers={**headers, "Idempotency-Key": sale_key}
                )
            except httpx.TransportError:
                trade.answers[0] += 1
                await asyncio.sleep(0.2)
                continue
            trade.answers[answer.status_code] += 1
            if answer.status_code == 201:
                trade.acknowledged[sale_key] = answer.json()["purchase_id"]
                trade.accepted_at.append(time.monotonic())
                break
            if answer.status_code not in RETRYABLE and trade.unexpected is None:
                trade.unexpected = f"{answer.status_code}: {answer.text[:500]}"
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.01)


async def until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Wait for `condition` (asked in a thread); AssertionError saying `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not await asyncio.to_thread(condition):
        if time.monotonic() >= deadline:
            raise AssertionError(what)
        await asyncio.sleep(0.25)


async def trade_through(
    base_url: str, tills: list[tuple[str, str]], fault: Callable[[], None], settle: float = 3.0
) -> tuple[Trade, float]:
    """The tills trade at `base_url`; `fault()` runs in a thread once they have; they go on
    until sales have been accepted again for `settle` seconds. Returns the trade and the
    fault's moment (time.monotonic)."""
    trade = Trade()
    stop_at = asyncio.Event()
    async with httpx.AsyncClient(base_url=base_url, timeout=15) as client:
        selling = [
            asyncio.create_task(
                keep_selling(client, till, f"t{n}-{secrets.token_hex(3)}", trade, stop_at)
            )
            for n, till in enumerate(tills)
        ]
        try:
            await until(lambda: len(trade.acknowledged) >= 40, 30, "the tills do not trade")
            faulted_at = time.monotonic()
            await asyncio.to_thread(fault)
            await until(
                lambda: any(t > faulted_at + 1 for t in trade.accepted_at),
                RECOVERY_LIMIT_SECONDS + 30,
                f"no sale accepted after the fault: {trade.answers}",
            )
            await asyncio.sleep(settle)
        finally:
            stop_at.set()
            await asyncio.wait_for(asyncio.gather(*selling), 60)
    return trade, faulted_at


def first_accepted_after(trade: Trade, moment: float) -> float:
    """Seconds from `moment` to the end of the longest pause in acceptances after it: the
    failover (a sale answered just after the fault may have been committed before it)."""
    later = sorted(t for t in trade.accepted_at if t > moment)
    gaps = [b - a for a, b in zip([moment, *later], later, strict=False)]
    longest = max(range(len(gaps)), key=gaps.__getitem__)
    return later[longest] - moment
