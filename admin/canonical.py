"""The canonical forms of the tills' entries, rebuilt in Python exactly as docs/tills.md
writes them down, and the hashes that chain them: independent of the database's own functions,
so a verification does not trust what it verifies."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any

CENT = Decimal("0.01")


@cache
def json_string(value: str) -> str:
    """A JSON string (remembered: tills, stores and products repeat a million times)."""
    return json.dumps(value, ensure_ascii=False)


@lru_cache(maxsize=1 << 16)
def money(amount: Decimal) -> str:
    """Two decimals (remembered: prices repeat; equal amounts have one text)."""
    return str(amount.quantize(CENT))


def utc_time(at: datetime) -> str:
    """UTC with six decimals of seconds and Z."""
    if at.tzinfo is not UTC:
        at = at.astimezone(UTC)
    return at.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def canonical_lines(names: list[str], quantities: list[int], prices: list[Decimal]) -> str:
    """The lines in the code-point order of the product names (UTF-8 byte order)."""
    lines = sorted(zip(names, quantities, prices, strict=True))
    return (
        "["
        + ",".join(
            f'{{"product":{json_string(name)},"quantity":{quantity},"unit_price":"{money(price)}"}}'
            for name, quantity, price in lines
        )
        + "]"
    )


def sale_or_refund_canonical(
    till: str,
    receipt: int,
    kind: str,
    store: str,
    at: datetime,
    customer: str,
    lines: str,
    total: Decimal,
    sale: int | None = None,
    reason: str | None = None,
) -> str:
    text = (
        f'{{"till":{json_string(till)},"receipt_number":{receipt},"kind":"{kind}",'
        f'"store":{json_string(store)},"time":"{utc_time(at)}","customer":"{customer}",'
        f'"lines":{lines},"total":"{money(total)}"'
    )
    if kind == "refund":
        text += f',"sale":{sale},"reason":{json_string(reason or "")}'
    return text + "}"


def closing_canonical(till: str, receipt: int, closing_number: int, row: Any) -> str:
    def number(value: int | None) -> str:
        return "null" if value is None else str(value)

    units = ",".join(
        f'{{"product":{json_string(u["product"])},"sold":{u["sold"]},"returned":{u["returned"]}}}'
        for u in json.loads(row["units"])
    )
    return (
        f'{{"till":{json_string(till)},"receipt_number":{receipt},"kind":"closing",'
        f'"store":{json_string(row["closing_store"])},"time":"{utc_time(row["closed_at"])}",'
        f'"closing_number":{closing_number},"period_start":"{utc_time(row["period_start"])}",'
        f'"first_receipt":{number(row["first_receipt"])},'
        f'"last_receipt":{number(row["last_receipt"])},'
        f'"sales":{row["sales"]},"sales_amount":"{money(row["sales_amount"])}",'
        f'"refunds":{row["refunds"]},"refunded":"{money(row["refunded"])}",'
        f'"net":"{money(row["net"])}","grand_total":"{money(row["grand_total"])}",'
        f'"units":[{units}]}}'
    )


def entry_hash(previous: bytes, canonical: str) -> bytes:
    return hashlib.sha256(previous + canonical.encode("utf-8")).digest()


def first_previous_hash(till: str) -> bytes:
    return hashlib.sha256(till.encode("utf-8")).digest()
