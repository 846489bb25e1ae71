"""HTTP only: parse the request, call the service, shape the answer."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any

import asyncpg
import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.responses import Response

from cash_register import offline_sync
from cash_register.errors import BadIdempotencyKey
from cash_register.models import PurchaseRequest, PurchaseUpload, Receipt, UploadResult
from cash_register.service import Basket, RecordedPurchase, make_basket, with_idempotency_key
from cash_register.settings import cash_register_settings
from db.health import check_database

router = APIRouter()
MAX_KEY_LENGTH = 255


async def _pool(request: Request) -> asyncpg.Pool:
    return request.app.state.pool


Pool = Annotated[asyncpg.Pool, Depends(_pool)]

PROBLEM = {"description": "Problem details (application/problem+json)"}


def _json(body: dict[str, Any], status: int = 200) -> Response:
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
    }


@router.get("/")
async def service_info() -> dict[str, Any]:
    """What this service is and where to go."""
    return {
        "service": "cash-register",
        "description": "Records purchases from the tills. Prices come from the catalog.",
        "endpoints": {
            "record a purchase": "POST /purchase",
            "upload offline sales": "POST /purchases",
            "health": "GET /health",
            "API documentation": "GET /docs",
        },
    }


@router.get("/health", responses={503: PROBLEM})
async def health(pool: Pool) -> dict[str, str]:
    """Ready when the database answers."""
    await check_database(pool)
    return {"status": "ok", "database": "ok"}


async def read_purchase(request: Request) -> PurchaseRequest:
    """Parse and validate the body in one pass of pydantic-core.

    The hot path skips FastAPI's body handling (json.loads, then validation), which costs more
    than the rest of the request; errors come out the same as FastAPI's own.
    """
    try:
        return PurchaseRequest.model_validate_json(await request.body())
    except ValidationError as error:
        raise RequestValidationError(error.errors(include_url=False)) from None


@router.post(
    "/purchase",
    status_code=201,
    responses={201: {"model": Receipt}, 422: PROBLEM, 503: PROBLEM},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": PurchaseRequest.model_json_schema()}},
        }
    },
)
async def post_purchase(request: Request) -> Response:
    """Record one purchase and answer with its receipt once its batch has committed.

    With an `Idempotency-Key` header, a retry of the same request gets the original receipt
    (`Idempotent-Replayed: true`) and stores nothing; the key with another request is a 422.
    """
    purchase = await read_purchase(request)
    state = request.app.state
    basket = make_basket(
        state.catalog.current, purchase.supermarket_id, purchase.user_id, purchase.items
    )
    key = request.headers.get("idempotency-key")
    if key is not None:
        basket = keyed(basket, key, purchase)
    recorded = await state.batcher.record(basket)
    response = _json(receipt(recorded), status=201)
    if recorded.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def keyed(basket: Basket, key: str, purchase: PurchaseRequest) -> Basket:
    """The basket with its idempotency key and the hash of the request it came with."""
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise BadIdempotencyKey()
    return with_idempotency_key(basket, key, purchase)


@router.post("/purchases", responses={413: PROBLEM, 422: PROBLEM, 503: PROBLEM})
async def post_purchases(upload: PurchaseUpload, request: Request) -> UploadResult:
    """Offline sync: up to 1,000 sales, each with its own `client_purchase_id` and
    `purchased_at`. Each is created, found a duplicate of an earlier upload, or rejected with
    its reason; a bad one does not reject the others."""
    state = request.app.state
    max_age = timedelta(days=cash_register_settings().offline_max_age_days)
    return await offline_sync.upload(
        state.catalog.current, state.batcher, upload.purchases, max_age
    )
