"""Offline sync: a till that sold while offline uploads its sales at once.

Each sale is checked on its own and stored through the same group commit as live sales, in
the offline queue that yields to them; the sales are checked a few at a time, between which
the event loop serves the other tills, and only a few chunks ahead of those being stored, so
a megabyte of sales never holds it for long, nor crowds it at the upload's start. Its
`client_purchase_id` is kept with the sale for as long as the sale is stored (not in the
expiring key table), so an upload retried after a lost answer, a day or a month later, stores
nothing twice. A sale dated in the future (beyond the allowed clock skew) or older than the
configured limit is rejected; the others go on. Analytics count each sale on its own day.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from cash_register.errors import IdempotencyKeyReused, InvalidPurchase
from cash_register.lifetime import CashRegister
from cash_register.schemas import (
    OfflinePurchase,
    RejectedSale,
    UploadEnvelope,
    UploadOutcome,
    UploadResult,
    each_sale_on_its_own,
)
from cash_register.service import Basket, as_offline_sale, make_basket
from db.access_keys import Credential
from httpkit.request_ids import current_request_id
from telemetry.metrics import instruments

# Sales checked between two turns of the event loop: about a millisecond of work.
CHECKED_AT_ONCE = 20
# Chunks of an upload checked and queued for storing ahead of those being stored: enough to
# keep the offline queue fed, few enough that checking a large upload is spread over the time
# it takes to store, rather than done in a burst of work at its start that the other tills'
# sales wait behind (measured: the live sales' slowest 1% fell right after an upload began).
CHUNKS_AHEAD = 2
# A chunk of an upload: each sale's outcome, or the task storing it.
Chunk = list[asyncio.Task[UploadOutcome] | UploadOutcome]


class SaleRejected(Exception):
    """One uploaded sale cannot be stored; the reason is given back for that sale only."""


def moment_of(purchased_at: datetime, store_zone: str | None) -> datetime:
    """The instant of an offline sale: as given with an offset, else the store's local time
    (a till's clock shows its store's time). In the hour that repeats when clocks go back, a
    time without an offset is the first of the two; in the hour that is skipped when they go
    forward, it is read with the offset before the change (02:30 is 03:30 summer time)."""
    if purchased_at.tzinfo is not None:
        return purchased_at
    return purchased_at.replace(tzinfo=ZoneInfo(store_zone) if store_zone else UTC)


def _offline_basket(
    held: CashRegister, credential: Credential, sale: OfflinePurchase, now: datetime
) -> Basket:
    settings = held.settings
    if sale.supermarket_id != credential.supermarket_id:
        raise SaleRejected(
            f"supermarket_id: till {credential.name} records sales for "
            f"{credential.supermarket_id} only"
        )
    moment = moment_of(sale.purchased_at, held.catalog.current.time_zones.get(sale.supermarket_id))
    if moment > now + settings.offline_clock_skew:
        raise SaleRejected(f"purchased_at: {moment.isoformat()} is in the future")
    if moment < now - settings.offline_max_age:
        raise SaleRejected(
            f"purchased_at: {moment.isoformat()} is older than {settings.offline_max_age_days} days"
        )
    try:
        basket = make_basket(
            held.catalog.current,
            sale.supermarket_id,
            sale.user_id,
            sale.items,
            held.cards.card_hash(sale.loyalty_card),
        )
    except InvalidPurchase as error:
        raise SaleRejected(error.detail) from None
    return replace(
        as_offline_sale(basket, sale.client_purchase_id, moment, sale),
        till_id=credential.name,
        request_id=current_request_id(),
    )


async def _store(held: CashRegister, basket: Basket) -> UploadOutcome:
    client_purchase_id = basket.client_purchase_id
    try:
        recorded = await held.batcher.record_offline(basket)
    except IdempotencyKeyReused:
        return UploadOutcome(
            client_purchase_id=client_purchase_id,
            status="rejected",
            reason="client_purchase_id was used for a different purchase",
        )
    except InvalidPurchase as error:
        return UploadOutcome(
            client_purchase_id=client_purchase_id, status="rejected", reason=error.detail
        )
    return UploadOutcome(
        client_purchase_id=client_purchase_id,
        status="duplicate" if recorded.replayed else "created",
        purchase_id=recorded.purchase_id,
        receipt_number=recorded.receipt_number,
    )


def _count(outcomes: list[UploadOutcome]) -> None:
    """The metrics: each uploaded sale created, replayed (a duplicate) or rejected."""
    metrics = instruments()
    for outcome in outcomes:
        status = "replayed" if outcome.status == "duplicate" else outcome.status
        metrics.purchases.labels("offline", status).inc()
        if status == "rejected":
            metrics.rejections.labels("offline", "invalid-sale").inc()


def _rejected(client_purchase_id: str | None, reason: str) -> UploadOutcome:
    return UploadOutcome(client_purchase_id=client_purchase_id, status="rejected", reason=reason)


async def receive(held: CashRegister, credential: Credential, body: bytes) -> UploadResult:
    """An upload as its lane reads it: the body parsed with its sales not yet checked."""
    return await upload(held, credential, envelope_of(body).purchases)


def envelope_of(body: bytes) -> UploadEnvelope:
    """The upload's envelope, its sales as parsed. Parsed by orjson, then its shape checked:
    the whole body is parsed in one go, the other tills' sales waiting meanwhile, and orjson
    takes about half as long as pydantic's own parser (a full upload, measured: 5-7 ms
    against 7-13 ms). A body either refuses is judged by pydantic's parser alone, so a bad
    upload is answered exactly as it always was. (orjson reads an integer beyond 64 bits as
    a float; no field of a sale takes a number that large, so each such sale is rejected for
    the same reason either way.)"""
    try:
        return UploadEnvelope.model_validate(orjson.loads(body))
    except (orjson.JSONDecodeError, ValidationError):
        pass
    try:
        return UploadEnvelope.model_validate_json(body)
    except ValidationError as error:
        raise RequestValidationError(error.errors(include_url=False)) from None


def _items_in(sale: Any) -> int:
    """The items an uploaded sale carries, checked or not: what it costs to take."""
    if isinstance(sale, OfflinePurchase):
        return len(sale.items)
    if isinstance(sale, dict) and isinstance(sale.get("items"), list):
        return len(sale["items"])
    return 0


def _checked(sale: Any) -> OfflinePurchase | RejectedSale:
    return sale if isinstance(sale, OfflinePurchase | RejectedSale) else each_sale_on_its_own(sale)


async def upload(held: CashRegister, credential: Credential, sales: Sequence[Any]) -> UploadResult:
    """Pay for the upload's items, check each sale, store the good ones together, say what
    became of each. `sales` are checked already (OfflinePurchase, RejectedSale) or not yet
    (as parsed from JSON)."""
    held.uploads.pay(credential.name, sum(_items_in(sale) for sale in sales))
    now = datetime.now(UTC)
    outcomes: list[UploadOutcome] = []
    ahead: deque[Chunk] = deque()
    try:
        for start in range(0, len(sales), CHECKED_AT_ONCE):
            if len(ahead) == CHUNKS_AHEAD:
                outcomes += await _settled(ahead[0])
                ahead.popleft()
            elif start:
                await asyncio.sleep(0)  # the other tills' requests go first
            chunk = sales[start : start + CHECKED_AT_ONCE]
            ahead.append([_taken(held, credential, sale, now) for sale in map(_checked, chunk)])
        while ahead:
            outcomes += await _settled(ahead[0])
            ahead.popleft()
    except BaseException:
        await _abandon(ahead)
        raise
    _count(outcomes)
    return UploadResult(
        created=sum(o.status == "created" for o in outcomes),
        duplicates=sum(o.status == "duplicate" for o in outcomes),
        rejected=sum(o.status == "rejected" for o in outcomes),
        outcomes=outcomes,
    )


async def _settled(chunk: Chunk) -> list[UploadOutcome]:
    """A chunk's outcomes, once each of its sales is stored or rejected."""
    return [item if isinstance(item, UploadOutcome) else await item for item in chunk]


async def _abandon(ahead: deque[Chunk]) -> None:
    """Wait out the sales queued already when an upload fails (the database away), those of
    the chunk that failed included (it stays in `ahead` until settled): each is stored or
    fails on its own, and none is left with an error nobody reads."""
    tasks = [item for chunk in ahead for item in chunk if isinstance(item, asyncio.Task)]
    await asyncio.gather(*tasks, return_exceptions=True)


def _taken(
    held: CashRegister, credential: Credential, sale: OfflinePurchase | RejectedSale, now: datetime
) -> asyncio.Task[UploadOutcome] | UploadOutcome:
    """A sale's outcome if it is rejected at once, else the task that stores it."""
    if isinstance(sale, RejectedSale):
        return _rejected(sale.client_purchase_id, sale.reason)
    try:
        basket = _offline_basket(held, credential, sale, now)
    except SaleRejected as rejected:
        return _rejected(sale.client_purchase_id, str(rejected))
    return asyncio.create_task(_store(held, basket))
