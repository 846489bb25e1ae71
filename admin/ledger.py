"""The tills' ledgers checked from the stored rows: `verify-ledger` and `export-ledger`.

Everything here is computed again in Python from the sales, refunds and closings as stored,
never taken from the database's own canonical forms or totals: each entry's canonical JSON is
rebuilt (docs/tills.md writes it down), hashed with the previous entry's hash, and compared
with the stored hash; receipt and closing numbers must run 1, 2, 3, ... with no gap or repeat;
each closing's figures must be what its period's entries add up to; every sale and refund of a
till must be in its chain.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import asyncpg

from admin.canonical import (
    canonical_lines,
    closing_canonical,
    entry_hash,
    first_previous_hash,
    sale_or_refund_canonical,
)

# Every entry with the content it was hashed over, in chain order. Lines come unsorted: the
# canonical order is made here.
ENTRIES = """
WITH e AS NOT MATERIALIZED (
    SELECT * FROM till_entries
    WHERE ($1::text[] IS NULL OR till_id = ANY($1::text[]))
      AND (hashtext(till_id) & 2147483647) % $2::int = $3::int
),
sale_lines AS (
    SELECT i.purchase_id, array_agg(r.name) AS names, array_agg(i.quantity) AS quantities,
           array_agg(i.unit_price) AS prices
    FROM purchase_items i
    JOIN products r ON r.id = i.product_id
    WHERE (i.purchase_id, i.purchased_at) IN (SELECT purchase_id, purchased_at FROM e
                                              WHERE kind = 'sale')
    GROUP BY i.purchase_id
),
refund_lines_of AS (
    SELECT l.refund_id, array_agg(r.name) AS names, array_agg(l.quantity) AS quantities,
           array_agg(l.unit_price) AS prices
    FROM refund_lines l
    JOIN products r ON r.id = l.product_id
    WHERE l.refund_id IN (SELECT refund_id FROM e WHERE kind = 'refund')
    GROUP BY l.refund_id
)
SELECT e.till_id, e.receipt_number, e.kind, e.entry_hash, e.purchase_id, e.refund_id,
       e.closing_number,
       s.id IS NOT NULL AS sale_found, s.till_id AS sale_till, s.supermarket_id AS sale_store,
       s.purchased_at, s.customer_id AS sale_customer, s.total_amount AS sale_total,
       sl.names AS sale_names, sl.quantities AS sale_quantities, sl.prices AS sale_prices,
       f.id IS NOT NULL AS refund_found, f.till_id AS refund_till,
       f.supermarket_id AS refund_store, f.refunded_at, f.total_amount AS refund_total,
       f.reason, f.purchase_id AS refund_sale, fs.customer_id AS refund_customer,
       fl.names AS refund_names, fl.quantities AS refund_quantities, fl.prices AS refund_prices,
       c.closing_number IS NOT NULL AS closing_found, c.supermarket_id AS closing_store,
       c.period_start, c.closed_at, c.first_receipt, c.last_receipt, c.sales, c.sales_amount,
       c.refunds, c.refunded, c.net, c.grand_total, c.units::text AS units
FROM e
LEFT JOIN purchases s
    ON e.kind = 'sale' AND s.id = e.purchase_id AND s.purchased_at = e.purchased_at
LEFT JOIN sale_lines sl ON sl.purchase_id = s.id
LEFT JOIN refunds f ON e.kind = 'refund' AND f.id = e.refund_id
LEFT JOIN purchases fs ON fs.id = f.purchase_id AND fs.purchased_at = f.purchased_at
LEFT JOIN refund_lines_of fl ON fl.refund_id = f.id
LEFT JOIN till_closings c
    ON e.kind = 'closing' AND c.till_id = e.till_id AND c.closing_number = e.closing_number
ORDER BY e.till_id, e.receipt_number
"""

# Sales and refunds of a till that are in no entry of its chain (a row slipped in beside it).
UNCHAINED = """
SELECT p.till_id, 'sale' AS kind, p.id FROM purchases p
WHERE p.till_id IS NOT NULL AND ($1::text[] IS NULL OR p.till_id = ANY($1::text[]))
  AND NOT EXISTS (SELECT 1 FROM till_entries e WHERE e.kind = 'sale' AND e.purchase_id = p.id)
UNION ALL
SELECT f.till_id, 'refund', f.id FROM refunds f
WHERE ($1::text[] IS NULL OR f.till_id = ANY($1::text[]))
  AND NOT EXISTS (SELECT 1 FROM till_entries e WHERE e.kind = 'refund' AND e.refund_id = f.id)
ORDER BY 1, 3
"""

# The lines are gathered by hashing, not looked up entry by entry: room for that in memory.
READING_A_MILLION = "SET LOCAL work_mem = '512MB'"

HEADS = """
SELECT till_id, entries, head_hash, closings FROM till_ledgers
WHERE $1::text[] IS NULL OR till_id = ANY($1::text[])
"""

TILLS_OF_STORE = """
SELECT till_id FROM till_ledgers WHERE supermarket_id = $1
UNION SELECT till_id FROM tills WHERE supermarket_id = $1
UNION SELECT DISTINCT till_id FROM till_entries WHERE supermarket_id = $1
"""


class EntryBroken(Exception):
    """An entry whose row is not what was chained: the reason, in words."""


def _stored_lines(row: asyncpg.Record, kind: str, row_id: int) -> str:
    """A sale's or refund's canonical lines, once its row is found and is the till's own."""
    if not row[f"{kind}_found"]:
        raise EntryBroken(f"its {kind} {row_id} is not stored")
    if row[f"{kind}_till"] != row["till_id"]:
        raise EntryBroken(f"its {kind} {row_id} names till {row[f'{kind}_till']}")
    return canonical_lines(  # a sale whose lines are all gone has none
        row[f"{kind}_names"] or [], row[f"{kind}_quantities"] or [], row[f"{kind}_prices"] or []
    )


def canonical_of(row: asyncpg.Record) -> str:
    """The entry's canonical JSON rebuilt from its stored rows, or why it cannot be."""
    till, receipt, kind = row["till_id"], row["receipt_number"], row["kind"]
    if kind == "sale":
        lines = _stored_lines(row, kind, row["purchase_id"])
        return sale_or_refund_canonical(
            till, receipt, kind, row["sale_store"], row["purchased_at"],
            str(row["sale_customer"]), lines, row["sale_total"],
        )  # fmt: skip
    if kind == "refund":
        lines = _stored_lines(row, kind, row["refund_id"])
        return sale_or_refund_canonical(
            till, receipt, kind, row["refund_store"], row["refunded_at"],
            str(row["refund_customer"]), lines, row["refund_total"], row["refund_sale"],
            row["reason"],
        )  # fmt: skip
    if not row["closing_found"]:
        raise EntryBroken(f"its closing {row['closing_number']} is not stored")
    return closing_canonical(till, receipt, row["closing_number"], row)


@dataclass
class Period:
    """What a till's entries since its last closing add up to."""

    first: int | None = None
    last: int | None = None
    sales: int = 0
    sales_amount: Decimal = Decimal(0)
    refunds: int = 0
    refunded: Decimal = Decimal(0)
    sold: Counter[str] = field(default_factory=Counter)
    returned: Counter[str] = field(default_factory=Counter)

    def add(self, row: asyncpg.Record) -> None:
        self.first = self.first or row["receipt_number"]
        self.last = row["receipt_number"]
        if row["kind"] == "sale":
            self.sales += 1
            self.sales_amount += row["sale_total"]
            for name, quantity in zip(row["sale_names"], row["sale_quantities"], strict=True):
                self.sold[name] += quantity
        else:
            self.refunds += 1
            self.refunded += row["refund_total"]
            for name, quantity in zip(row["refund_names"], row["refund_quantities"], strict=True):
                self.returned[name] += quantity

    def units(self) -> list[dict[str, Any]]:
        return [
            {"product": name, "sold": self.sold[name], "returned": self.returned[name]}
            for name in sorted(set(self.sold) | set(self.returned))
        ]


def closing_differences(row: asyncpg.Record, period: Period, grand_total: Decimal) -> list[str]:
    """Where a closing's stored figures differ from its period's entries."""
    expected: dict[str, Any] = {
        "first_receipt": period.first,
        "last_receipt": period.last,
        "sales": period.sales,
        "sales_amount": period.sales_amount,
        "refunds": period.refunds,
        "refunded": period.refunded,
        "net": period.sales_amount - period.refunded,
        "grand_total": grand_total,
    }
    differences = [
        f"{name} {row[name]} against {value} from its entries"
        for name, value in expected.items()
        if row[name] != value
    ]
    if json.loads(row["units"]) != period.units():
        differences.append("its units per product differ from its entries'")
    return differences


@dataclass
class ChainReport:
    """One till's chain as verified: how far it holds, and the first break if any."""

    till: str
    entries: int = 0
    last_receipt: int = 0
    head: bytes = b""
    closings: int = 0
    broken_at: str | None = None  # the first receipt (or row) that does not hold
    why: str = ""

    def line(self) -> str:
        head = self.head.hex() if self.head else "-"
        state = "ok" if self.broken_at is None else f"BROKEN at {self.broken_at}: {self.why}"
        return (
            f"{self.till}  entries {self.entries}  last receipt {self.last_receipt}  "
            f"head {head}  closings {self.closings}  {state}"
        )

    def unchained(self, kind: str, row_id: int) -> None:
        """A sale or refund of this till that no entry of its chain holds."""
        if self.broken_at is None:
            self.broken_at = f"{kind} {row_id}"
            self.why = f"a {kind} of this till that is in no entry of its chain"

    def head_stored(self, entries: int, head: bytes) -> None:
        """The till's head row must say where its chain ends."""
        if self.broken_at is None and (entries != self.last_receipt or head != self.head):
            self.broken_at = f"receipt {self.last_receipt + 1}"
            self.why = f"the head says {entries} entries, the chain holds {self.last_receipt}"


class ChainCheck:
    """Verifies one till's entries as they stream past, in receipt order."""

    def __init__(self, till: str) -> None:
        self.report = ChainReport(till)
        self.previous = first_previous_hash(till)
        self.period = Period()
        self.grand_total = Decimal(0)

    def add(self, row: asyncpg.Record) -> None:
        report = self.report
        if report.broken_at is not None:
            return
        receipt = row["receipt_number"]
        expected = report.last_receipt + 1
        try:
            if receipt != expected:
                raise EntryBroken(f"a gap: receipt {expected} is missing, the next is {receipt}")
            canonical = canonical_of(row)
            if entry_hash(self.previous, canonical) != row["entry_hash"]:
                raise EntryBroken("its content does not match its hash")
            self._count(row)
        except EntryBroken as broken:
            report.broken_at = f"receipt {expected if receipt > expected else receipt}"
            report.why = str(broken)
            return
        self.previous = row["entry_hash"]
        report.entries += 1
        report.last_receipt = receipt
        report.head = row["entry_hash"]

    def _count(self, row: asyncpg.Record) -> None:
        if row["kind"] != "closing":
            self.period.add(row)
            amount = row["sale_total"] if row["kind"] == "sale" else -row["refund_total"]
            self.grand_total += amount
            return
        if row["closing_number"] != self.report.closings + 1:
            raise EntryBroken(
                f"closing {row['closing_number']} follows closing {self.report.closings}"
            )
        differences = closing_differences(row, self.period, self.grand_total)
        if differences:
            raise EntryBroken(
                f"closing {row['closing_number']}'s totals do not match its entries: "
                + "; ".join(differences)
            )
        self.report.closings += 1
        self.period = Period()


async def tills_of_store(connection: asyncpg.Connection, store: str) -> list[str]:
    return [row["till_id"] for row in await connection.fetch(TILLS_OF_STORE, store)]


async def chain_rows(
    connection: asyncpg.Connection, tills: list[str] | None, parts: int = 1, part: int = 0
) -> AsyncIterator[asyncpg.Record]:
    """Every entry with its content, in chain order, streamed (a million rows fit nowhere):
    of `tills` (None: every till), and of those only the tills of `part` out of `parts`.

    Runs in the caller's transaction when it has one (a verification's shared snapshot)."""
    async with contextlib.AsyncExitStack() as stack:
        if not connection.is_in_transaction():
            await stack.enter_async_context(
                connection.transaction(isolation="repeatable_read", readonly=True)
            )
        await connection.execute(READING_A_MILLION)
        async for row in connection.cursor(ENTRIES, tills, parts, part, prefetch=5000):
            yield row


async def check_chains(
    connection: asyncpg.Connection, tills: list[str] | None, parts: int = 1, part: int = 0
) -> list[ChainReport]:
    """Each chain of `part` out of `parts` checked entry by entry, as `chain_rows` streams."""
    checks: dict[str, ChainCheck] = {}
    async for row in chain_rows(connection, tills, parts, part):
        till = row["till_id"]
        check = checks.get(till)
        if check is None:
            check = checks[till] = ChainCheck(till)
        check.add(row)
    return [check.report for check in checks.values()]


async def exported_entries(
    connection: asyncpg.Connection, till: str
) -> AsyncIterator[dict[str, Any]]:
    """The till's chain as JSON Lines objects: each entry's canonical JSON exactly as hashed,
    with the previous and own hash, so anyone can check it without this project's code."""
    previous = first_previous_hash(till)
    async for row in chain_rows(connection, [till]):
        try:
            canonical = canonical_of(row)
        except EntryBroken as broken:
            canonical = f"(cannot be rebuilt: {broken})"
        yield {
            "receipt_number": row["receipt_number"],
            "kind": row["kind"],
            "canonical": canonical,
            "previous_hash": previous.hex(),
            "entry_hash": row["entry_hash"].hex(),
        }
        previous = row["entry_hash"]
