"""Refunds: a sale taken back at any till of the chain, never more than was sold.

The cash register cannot read the stored sales: it looks one up and records a refund through
two functions of the database owner's (`sale_to_refund`, `record_refund`). The database holds
the cap on what is refunded of each line, so two cash registers racing for a line's last unit
cannot both have it; it refunds each line at the price the sale charged, books the refund on
the refunding store's local day, and keeps the owners' figures of refunds in the same
statement. One round trip per refund.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from cash_register import queries
from cash_register.errors import (
    ApprovalRequired,
    IdempotencyKeyReused,
    MoreThanRefundable,
    NothingLeftToRefund,
    OwnerCannotRefund,
    ProductNotInSale,
    RefundWindowPassed,
    RepeatedRefundLine,
    UnknownSale,
)
from cash_register.schemas import RefundRequest
from cash_register.service import request_hash
from cash_register.settings import CashRegisterSettings
from db.access_keys import AccessKeys, Credential
from db.catalog import Catalog
from db.pool import pooled_connection


@dataclass(frozen=True)
class Approval:
    """Who approved a large refund, or why nobody could (said if approval is needed)."""

    approver: str | None
    missing: str = ""


async def approval_of(keys: AccessKeys, key: str | None, store: str) -> Approval:
    """The owner whose `Approval-Key` covers `store`: a chain owner, or that store's manager."""
    if key is None:
        return Approval(None, "send an owner's key as Approval-Key")
    credential = await keys.find(key.strip())
    if credential is None or credential.kind != "owner":
        return Approval(None, "the Approval-Key is not a live owner's key")
    if credential.supermarket_id not in (None, store):
        return Approval(None, f"the Approval-Key's owner does not manage {store}")
    return Approval(credential.name)


def refunding_till(credential: Credential) -> Credential:
    """A refund is recorded at a till: an owner's key is refused."""
    if credential.kind != "till":
        raise OwnerCannotRefund()
    return credential


def _name(catalog: Catalog, product_id: int) -> str:
    """A stored line's product by name (by its id if it has left the catalog since)."""
    return catalog.names_by_id.get(product_id, str(product_id))


def _wanted(catalog: Catalog, refund: RefundRequest) -> tuple[list[int] | None, list[int] | None]:
    """The products (by id) and quantities asked for; None for "all"."""
    if refund.lines == "all":
        return None, None
    seen: set[str] = set()
    for line in refund.lines:
        if line.product in seen:
            raise RepeatedRefundLine(line.product)
        seen.add(line.product)
        if line.product not in catalog.products:
            raise ProductNotInSale(line.product, refund.purchase_id)
    return (
        [catalog.products[line.product].id for line in refund.lines],
        [line.quantity for line in refund.lines],
    )


async def look_up_sale(pool: asyncpg.Pool, catalog: Catalog, purchase_id: int) -> dict[str, Any]:
    """The sale's receipt with, per line, what was refunded and what still may be."""
    async with pooled_connection(pool) as connection:
        rows = await connection.fetch(queries.SALE_TO_REFUND, purchase_id)
    if not rows:
        raise UnknownSale(purchase_id)
    first = rows[0]
    return {
        "purchase_id": first["purchase_id"],
        "user_id": str(first["customer_id"]),
        "supermarket_id": first["supermarket_id"],
        "purchased_at": first["purchased_at"].isoformat(),
        "items": [
            {
                "product": _name(catalog, row["product_id"]),
                "quantity": row["quantity"],
                "unit_price": row["unit_price"],
                "line_total": row["unit_price"] * row["quantity"],
                "refunded": row["refunded"],
                "refundable": row["quantity"] - row["refunded"],
            }
            for row in rows
        ],
        "total_amount": first["total_amount"],
        "till_id": first["till_id"],
        "receipt_number": first["receipt_number"],
        "entry_hash": first["entry_hash"].hex() if first["entry_hash"] else None,
        "imported": first["till_id"] is None,
    }


@dataclass(frozen=True)
class RefundAsked:
    """Everything a refund is recorded with, checked as far as the catalog can."""

    till: Credential
    refund: RefundRequest
    key: str | None
    approval: Approval
    request_id: str | None


async def record_refund(
    pool: asyncpg.Pool, catalog: Catalog, settings: CashRegisterSettings, asked: RefundAsked
) -> tuple[dict[str, Any], bool]:
    """Record the refund, or raise why not; the receipt, and whether it is a replay."""
    refund = asked.refund
    products, quantities = _wanted(catalog, refund)
    oldest = datetime.now(UTC) - timedelta(days=settings.refund_window_days)
    hashed = request_hash(refund, None)  # what a retry under the same key must repeat
    try:
        async with pooled_connection(pool) as connection:
            answer = await connection.fetchval(
                queries.RECORD_REFUND,
                asked.till.name, asked.till.supermarket_id, refund.purchase_id, products,
                quantities, refund.reason, asked.approval.approver, asked.request_id, asked.key,
                hashed, oldest, settings.refund_approval_above,
            )  # fmt: skip
    except asyncpg.PostgresError as error:
        raise _refusal(error, catalog, refund, settings, asked.approval) from None
    recorded = json.loads(answer, parse_float=Decimal)
    if recorded["replayed"] and bytes.fromhex(recorded["request_hash"]) != hashed:
        raise IdempotencyKeyReused(asked.key or "")
    return _receipt(recorded, catalog), bool(recorded["replayed"])


def _refusal(
    error: asyncpg.PostgresError,
    catalog: Catalog,
    refund: RefundRequest,
    settings: CashRegisterSettings,
    approval: Approval,
) -> Exception:
    """The problem a refusal of record_refund stands for (its own SQLSTATEs)."""
    code = getattr(error, "sqlstate", None)
    detail = getattr(error, "detail", None) or ""
    if code == "RF001":
        return UnknownSale(refund.purchase_id)
    if code == "RF002":
        return RefundWindowPassed(refund.purchase_id, settings.refund_window_days)
    if code == "RF003":
        return ProductNotInSale(_name(catalog, int(detail)), refund.purchase_id)
    if code == "RF004" and not detail:
        return NothingLeftToRefund(refund.purchase_id)
    if code == "RF004":
        product, sold, refunded = (int(part) for part in detail.split(","))
        return MoreThanRefundable(_name(catalog, product), sold, refunded)
    if code == "RF005":
        return ApprovalRequired(detail, approval.missing)
    return error


def _receipt(recorded: dict[str, Any], catalog: Catalog) -> dict[str, Any]:
    lines = [
        {
            "product": _name(catalog, line["product_id"]),
            "quantity": line["quantity"],
            "unit_price": Decimal(line["unit_price"]),
            "line_total": Decimal(line["unit_price"]) * line["quantity"],
        }
        for line in recorded["lines"]
    ]
    return {
        "refund_id": recorded["refund_id"],
        "purchase_id": recorded["purchase_id"],
        "supermarket_id": recorded["supermarket_id"],
        "refunded_at": recorded["refunded_at"],
        "reason": recorded["reason"],
        "approved_by": recorded["approved_by"],
        "lines": lines,
        "total_amount": Decimal(recorded["total_amount"]),
        "refundable": {
            _name(catalog, line["product_id"]): line["refundable"]
            for line in recorded["refundable"]
        },
        "till_id": recorded["till_id"],
        "receipt_number": recorded["receipt_number"],
        "entry_hash": recorded["entry_hash"],
    }
