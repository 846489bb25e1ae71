"""HTTP only, for refunds: a sale looked up by its receipt number, and taken back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path
from starlette.responses import Response

from cash_register import refunds
from cash_register.api import REPLAYED_HEADER, IdempotencyKey, json_answer
from cash_register.errors import OwnerCannotRefund
from cash_register.lifetime import Held
from cash_register.schemas import RefundReceipt, RefundRequest, SaleToRefund
from db.access_keys import Credential
from httpkit.authentication import BEARER, caller_of_kind
from httpkit.problems import PROBLEM
from httpkit.request_ids import current_request_id
from shop.rules import MAX_RECEIPT_NUMBER

router = APIRouter()


# A refund is recorded at a till; an owner's key is refused with its own problem type.
RefundingTill = Annotated[Credential, Depends(caller_of_kind("till", OwnerCannotRefund))]
REFUND_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: PROBLEM for code in (401, 403, 404, 409, 415, 422, 429, 503)
}


@router.get(
    "/purchases/{purchase_id}",
    operation_id="get_sale",
    response_model=SaleToRefund,
    dependencies=[BEARER],
    responses=REFUND_PROBLEMS,
)
async def get_sale(
    purchase_id: Annotated[int, Path(ge=1, le=MAX_RECEIPT_NUMBER)],
    till: RefundingTill,
    held: Held,
) -> Response:
    """A sale's receipt, as `POST /purchase` answered it, with per line the units refunded so
    far and those still refundable. Any till of the chain may look up any receipt: customers
    return goods to another store of the chain."""
    return json_answer(await refunds.look_up_sale(held.pool, held.catalog.current, purchase_id))


@router.post(
    "/refunds",
    status_code=201,
    operation_id="record_refund",
    response_model=RefundReceipt,
    dependencies=[BEARER],
    responses={
        201: {"description": "The refund's receipt.", "headers": REPLAYED_HEADER},
        **REFUND_PROBLEMS,
    },
)
async def post_refund(
    refund: RefundRequest,
    till: RefundingTill,
    held: Held,
    idempotency_key: IdempotencyKey = None,
    approval_key: Annotated[
        str | None,
        Header(
            alias="Approval-Key",
            description="An owner's key whose keys cover the till's store (a chain owner or "
            "that store's manager): needed when the total is above REFUND_APPROVAL_ABOVE.",
        ),
    ] = None,
) -> Response:
    """Take back lines of a sale (or `"all"` still refundable) at the sale's prices, booked
    at this till's store on its business day. More than is refundable: 409; a sale older
    than REFUND_WINDOW_DAYS, a product not in the sale, a line given twice: 422; a total
    above REFUND_APPROVAL_ABOVE without an owner's `Approval-Key`: 403. Refunds need the
    server: offline uploads carry sales only."""
    store = till.supermarket_id or ""
    asked = refunds.RefundAsked(
        till=till,
        refund=refund,
        key=idempotency_key,
        approval=await refunds.approval_of(held.keys, approval_key, store),
        request_id=current_request_id(),
    )
    recorded, replayed = await refunds.record_refund(
        held.pool, held.catalog.current, held.settings, asked
    )
    response = json_answer(recorded, status=201)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response
