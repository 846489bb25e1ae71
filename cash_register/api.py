"""HTTP only: parse the request, call the service, shape the answer."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.responses import HTMLResponse, Response

from cash_register import offline_sync
from cash_register.errors import OwnerCannotSell
from cash_register.lifetime import CashRegister, Held, cash_register_of
from cash_register.schemas import (
    PriceListAnswer,
    PurchaseRequest,
    PurchaseUpload,
    Receipt,
    UploadResult,
)
from cash_register.service import (
    RecordedPurchase,
    checked_idempotency_key,
    make_basket,
    selling_till,
    with_idempotency_key,
)
from db.access_keys import Credential
from db.health import check_database
from httpkit.authentication import BEARER, caller_of_kind, credential_of
from httpkit.problems import INVALID_REQUEST, PROBLEM, Problem
from httpkit.request_ids import current_request_id
from httpkit.screens import SCREEN_OR_JSON, page, wants_html
from shop.rules import SALE_KEY_RULE, SaleKey
from telemetry.metrics import instruments

router = APIRouter()

# The caller of an offline upload, which must be a till: an owner's key cannot record sales.
selling_caller = caller_of_kind("till", OwnerCannotSell)
Till = Annotated[Credential, Depends(selling_caller)]
TILL_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: PROBLEM for code in (401, 403, 413, 415, 422, 429, 503)
}

IDEMPOTENCY_KEY = "Idempotency-Key"
# The header that makes a sale's or a refund's retry safe.
IdempotencyKey = Annotated[
    SaleKey | None,
    Header(
        alias=IDEMPOTENCY_KEY,
        description=f"Makes retries safe: {SALE_KEY_RULE}, e.g. the till's id and its "
        "receipt number. A retry with the same key and body gets the original answer.",
    ),
]
REPLAYED_HEADER = {
    "Idempotent-Replayed": {
        "description": "`true` when this is the original receipt of an earlier request with "
        "the same Idempotency-Key: nothing new was stored.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


def json_answer(body: dict[str, Any], status: int = 200) -> Response:
    """orjson answer; Decimals become strings so no amount passes through a float."""
    return Response(
        orjson.dumps(body, default=str), status_code=status, media_type="application/json"
    )


def receipt(recorded: RecordedPurchase) -> dict[str, Any]:
    """The receipt a till gets for a stored purchase."""
    basket = recorded.basket
    lines = []
    for line, unit_price in zip(basket.lines, recorded.unit_prices, strict=True):
        lines.append(
            {
                "product": line.product.name,
                "quantity": line.quantity,
                "unit_price": unit_price,
                "line_total": unit_price * Decimal(line.quantity),
            }
        )
    return {
        "purchase_id": recorded.purchase_id,
        "user_id": str(basket.customer_id),
        "supermarket_id": basket.supermarket_id,
        "purchased_at": recorded.purchased_at.isoformat(),
        "items": lines,
        "total_amount": recorded.total_amount,
        "receipt_number": recorded.receipt_number,
        "entry_hash": recorded.entry_hash.hex() if recorded.entry_hash else None,
    }


SCREEN_FILES = Path(__file__).parent / "screen"


@router.get("/", responses=SCREEN_OR_JSON)
async def service_info(request: Request) -> Any:
    """The till screen for a browser; for a JSON client, what this service is."""
    if wants_html(request):
        return page(SCREEN_FILES / "till.html")
    return {
        "service": "cash-register",
        "description": "Records purchases from the tills. Prices come from the catalog.",
        "endpoints": {
            "record a purchase": "POST /purchase",
            "upload offline sales": "POST /purchases",
            "catalog and prices": "GET /catalog",
            "look up a sale": "GET /purchases/{purchase_id}",
            "record a refund": "POST /refunds",
            "close the till's day (Z)": "POST /till/closings",
            "the till's open day (X)": "GET /till/current",
            "till screen": "GET /till",
            "health": "GET /health",
            "API documentation": "GET /docs",
        },
    }


@router.get("/till", response_class=HTMLResponse, include_in_schema=False)
async def till_screen() -> Response:
    """The cashier's screen: sign in with the till's key, build the basket, record the sale."""
    return page(SCREEN_FILES / "till.html")


@router.get(
    "/catalog",
    operation_id="get_catalog",
    response_model=PriceListAnswer,
    dependencies=[BEARER],
    responses={
        200: {"headers": {"ETag": {"description": "The catalog's version.", "schema": {}}}},
        304: {"description": "The till's copy (If-None-Match) is current."},
        401: PROBLEM,
        422: PROBLEM,
        429: PROBLEM,
    },
)
async def catalog(
    held: Held,
    if_none_match: Annotated[str | None, Header(description="The ETag of the till's copy.")] = None,
) -> Response:
    """The stores and the products at their current prices, with an `ETag`; `304` when the
    till's copy is current. Prices change without notice: the sale is charged at the
    catalog's price when it is recorded, whatever a cached copy said."""
    prices = held.price_lists.of(held.catalog.current)
    headers = {"ETag": prices.etag, "Cache-Control": "no-cache"}
    if prices.matches(if_none_match):
        return Response(status_code=304, headers=headers)
    return Response(prices.body, media_type="application/json", headers=headers)


@router.get("/health", responses={503: PROBLEM})
async def health(held: Held) -> dict[str, str]:
    """Ready when the database answers."""
    await check_database(held.pool)
    return {"status": "ok", "database": "ok"}


async def record_sale(
    held: CashRegister, credential: Credential, purchase: PurchaseRequest, key: str | None
) -> Response:
    """Record one sale and answer with its receipt once its batch has committed: the one
    handler of POST /purchase, whether the checkout lane or the route below receives it.
    Counted in the metrics: created, replayed, or rejected with its problem type."""
    try:
        recorded = await _record(held, credential, purchase, key)
    except Problem as refused:
        _count_rejected(refused.kind.slug)
        raise
    _live_sales("replayed" if recorded.replayed else "created").inc()
    response = json_answer(receipt(recorded), status=201)
    if recorded.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@cache
def _live_sales(outcome: str) -> Any:
    """The counter of live sales with this outcome (labels() once, not per sale)."""
    return instruments().purchases.labels("live", outcome)


def _count_rejected(reason: str) -> None:
    metrics = instruments()
    metrics.purchases.labels("live", "rejected").inc()
    metrics.rejections.labels("live", reason).inc()


async def _record(
    held: CashRegister, credential: Credential, purchase: PurchaseRequest, key: str | None
) -> RecordedPurchase:
    till = selling_till(credential, purchase.supermarket_id)
    basket = make_basket(
        held.catalog.current,
        purchase.supermarket_id,
        purchase.user_id,
        purchase.items,
        held.cards.card_hash(purchase.loyalty_card),
    )
    basket = replace(basket, till_id=till, request_id=current_request_id())
    if key is not None:
        basket = with_idempotency_key(basket, checked_idempotency_key(key), purchase)
    return await held.batcher.record(basket)


async def checkout(request: Request) -> Response:
    """POST /purchase as the checkout lane serves it: the body parsed and validated in one
    pass of pydantic-core (FastAPI's json.loads-then-validate costs more than the rest of the
    request); errors come out the same as FastAPI's own."""
    try:
        purchase = PurchaseRequest.model_validate_json(await request.body())
    except ValidationError as error:
        _count_rejected(INVALID_REQUEST.slug)
        raise RequestValidationError(error.errors(include_url=False)) from None
    key = request.headers.get(IDEMPOTENCY_KEY)
    return await record_sale(cash_register_of(request), credential_of(request.scope), purchase, key)


@router.post(
    "/purchase",
    status_code=201,
    operation_id="record_purchase",
    response_model=Receipt,
    dependencies=[BEARER],
    responses={
        201: {"description": "The receipt of the stored sale.", "headers": REPLAYED_HEADER},
        **TILL_PROBLEMS,
    },
)
async def post_purchase(
    request: Request,
    purchase: PurchaseRequest,
    held: Held,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Record one purchase and answer with its receipt once its batch has committed.

    With an `Idempotency-Key` header, a retry of the same request gets the original receipt
    (`Idempotent-Replayed: true`) and stores nothing; the key with another request is a 422.
    Served by the checkout lane (`checkout`) with the same models and handler.
    """
    return await record_sale(held, credential_of(request.scope), purchase, idempotency_key)


async def receive_upload(request: Request) -> Response:
    """POST /purchases as its lane serves it: the till's one upload in progress is claimed
    before its body is read, then the body is parsed, paid for and checked a few sales at a
    time (offline_sync)."""
    held = cash_register_of(request)
    till = selling_caller(request)
    async with held.uploads.admit(till.name):
        result = await offline_sync.receive(held, till, await request.body())
    return json_answer(result.model_dump())


@router.post(
    "/purchases",
    operation_id="upload_offline_purchases",
    dependencies=[BEARER],
    responses=TILL_PROBLEMS,
)
async def post_purchases(till: Till, upload: PurchaseUpload, held: Held) -> UploadResult:
    """Offline sync: up to 1,000 sales, each with its own `client_purchase_id` and
    `purchased_at`. Each is created, found a duplicate of an earlier upload, or rejected with
    its reason; a bad one does not reject the others. All of the till's own store.

    A till has one upload in progress at a time (another meanwhile: 429 with `Retry-After`),
    and its uploads are paid for by the items they carry (TILL_UPLOAD_ITEMS_PER_SECOND; past
    it: 429 with the seconds to wait). Served by its lane (`receive_upload`), which parses
    the body only once the upload is admitted."""
    async with held.uploads.admit(till.name):
        return await offline_sync.upload(held, till, upload.purchases)
