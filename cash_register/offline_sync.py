"""Offline sync: a till that sold while offline uploads its sales at once.

Each sale is checked on its own and stored through the same group commit as live sales, with
its `client_purchase_id` as idempotency key, so an upload retried after a lost answer stores
nothing twice. A sale dated in the future (beyond the allowed clock skew) or older than the
configured limit is rejected; the others go on. Analytics count each sale on its own day.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from cash_register.batcher import PurchaseBatcher
from cash_register.errors import IdempotencyKeyReused, InvalidPurchase
from cash_register.models import OfflinePurchase, UploadOutcome, UploadResult
from cash_register.service import Basket, make_basket, with_idempotency_key
from db.catalog import Catalog

CLOCK_SKEW = timedelta(minutes=5)


class SaleRejected(Exception):
    """One uploaded sale cannot be stored; the reason is given back for that sale only."""


def _offline_basket(
    catalog: Catalog, item: dict[str, Any], max_age: timedelta, now: datetime
) -> Basket:
    try:
        sale = OfflinePurchase.model_validate(item)
    except ValidationError as error:
        reason = "; ".join(
            f"{'.'.join(str(part) for part in detail['loc']) or 'purchase'}: {detail['msg']}"
            for detail in error.errors(include_url=False)
        )
        raise SaleRejected(reason) from None
    moment = (
        sale.purchased_at if sale.purchased_at.tzinfo else sale.purchased_at.replace(tzinfo=UTC)
    )
    if moment > now + CLOCK_SKEW:
        raise SaleRejected(f"purchased_at: {moment.isoformat()} is in the future")
    if moment < now - max_age:
        raise SaleRejected(f"purchased_at: {moment.isoformat()} is older than {max_age.days} days")
    try:
        basket = make_basket(catalog, sale.supermarket_id, sale.user_id, sale.items)
    except InvalidPurchase as error:
        raise SaleRejected(error.detail) from None
    return replace(with_idempotency_key(basket, sale.client_purchase_id, sale), purchased_at=moment)


async def _store(batcher: PurchaseBatcher, basket: Basket) -> UploadOutcome:
    try:
        recorded = await batcher.record(basket)
    except IdempotencyKeyReused:
        return UploadOutcome(
            client_purchase_id=basket.idempotency_key,
            status="rejected",
            reason="client_purchase_id was used for a different purchase",
        )
    except InvalidPurchase as error:
        return UploadOutcome(
            client_purchase_id=basket.idempotency_key, status="rejected", reason=error.detail
        )
    return UploadOutcome(
        client_purchase_id=basket.idempotency_key,
        status="duplicate" if recorded.replayed else "created",
        purchase_id=recorded.purchase_id,
    )


async def upload(
    catalog: Catalog, batcher: PurchaseBatcher, items: list[dict[str, Any]], max_age: timedelta
) -> UploadResult:
    """Check each sale, store the good ones together, say what became of each."""
    now = datetime.now(UTC)
    pending: list[asyncio.Task[UploadOutcome] | UploadOutcome] = []
    for item in items:
        try:
            basket = _offline_basket(catalog, item, max_age, now)
        except SaleRejected as rejected:
            given = item.get("client_purchase_id") if isinstance(item, dict) else None
            pending.append(
                UploadOutcome(
                    client_purchase_id=given if isinstance(given, str) else None,
                    status="rejected",
                    reason=str(rejected),
                )
            )
            continue
        pending.append(asyncio.create_task(_store(batcher, basket)))
    outcomes = [item if isinstance(item, UploadOutcome) else await item for item in pending]
    return UploadResult(
        created=sum(o.status == "created" for o in outcomes),
        duplicates=sum(o.status == "duplicate" for o in outcomes),
        rejected=sum(o.status == "rejected" for o in outcomes),
        outcomes=outcomes,
    )
