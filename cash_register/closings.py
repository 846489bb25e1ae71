"""The till's day: closing its period (Z), reading the open one (X), and the automatic close.

A closing is the next entry of the till's chain and never changes: the database numbers it
(gapless per till), adds up the period's sales and refunds from the stored rows, and chains
it, all under the lock of the till's head row (`close_till`, migration 018). Several cash
registers may try the automatic close at once: the head's lock and the period's start make it
happen once.
"""

from __future__ import annotations

import json
import logging
from datetime import time
from decimal import Decimal
from typing import Any

import asyncpg

from cash_register import queries
from db.access_keys import Credential
from db.chores import PeriodicChore
from db.pool import pooled_connection

log = logging.getLogger(__name__)


def _figures(answer: str) -> dict[str, Any]:
    """A closing as the database answered it, amounts as Decimals."""
    closing: dict[str, Any] = json.loads(answer, parse_float=Decimal)
    for field in ("sales_amount", "refunded", "net", "grand_total"):
        closing[field] = Decimal(closing[field])
    return closing


async def close_period(pool: asyncpg.Pool, till: Credential) -> dict[str, Any]:
    """Close the till's open period now; the closing as stored."""
    async with pooled_connection(pool) as connection:
        answer = await connection.fetchval(
            queries.CLOSE_TILL, till.name, till.supermarket_id, False, None
        )
    return _figures(answer)


async def open_period(pool: asyncpg.Pool, till: Credential) -> dict[str, Any]:
    """The till's open period as a closing would record it now (X report): nothing closed."""
    async with pooled_connection(pool) as connection:
        answer = await connection.fetchval(queries.OPEN_PERIOD, till.name)
    if answer is None:  # a till with no entry yet: an empty first period
        return {
            "till_id": till.name,
            "supermarket_id": till.supermarket_id,
            "closing_number": 1,
            "receipt_number": 1,
            "period_start": None,
            "period_end": None,
            "automatic": False,
            "first_receipt": None,
            "last_receipt": None,
            "sales": 0,
            "sales_amount": Decimal("0.00"),
            "refunds": 0,
            "refunded": Decimal("0.00"),
            "net": Decimal("0.00"),
            "grand_total": Decimal("0.00"),
            "units": [],
            "head_hash": None,
        }
    return _figures(answer)


def automatic_close(pool: asyncpg.Pool, at: time, every_seconds: float) -> PeriodicChore:
    """The chore that closes every period left open past `at`, store-local time."""

    async def close_due() -> None:
        async with pooled_connection(pool) as connection:
            closed = await connection.fetchval(queries.CLOSE_DUE_PERIODS, at)
        if closed:
            log.info("closed %d till period(s) left open past %s", closed, at.isoformat())

    return PeriodicChore("till-auto-close", every_seconds, close_due)
