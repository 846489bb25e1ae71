"""HTTP only, for the till's day: close its period (Z) and read the open one (X)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.responses import Response

from cash_register import closings
from cash_register.api import json_answer
from cash_register.errors import OwnerCannotCloseTill
from cash_register.lifetime import Held
from cash_register.schemas import TillClosing
from db.access_keys import Credential
from httpkit.authentication import BEARER, caller_of_kind
from httpkit.problems import PROBLEM

router = APIRouter()

ClosingTill = Annotated[Credential, Depends(caller_of_kind("till", OwnerCannotCloseTill))]
CLOSING_PROBLEMS: dict[int | str, dict[str, Any]] = {code: PROBLEM for code in (401, 403, 429, 503)}


@router.post(
    "/till/closings",
    status_code=201,
    operation_id="close_till_period",
    response_model=TillClosing,
    dependencies=[BEARER],
    responses={201: {"description": "The closing (Z), as stored."}, **CLOSING_PROBLEMS},
)
async def post_closing(till: ClosingTill, held: Held) -> Response:
    """Close this till's open period (Z): the closing is the next entry of the till's chain,
    with its own gapless number, the period's sales and refunds, the units per product, the
    till's perpetual grand total and the chain's head hash. It never changes. A sale uploaded
    later, even one made before the close, lands in the next period."""
    return json_answer(await closings.close_period(held.pool, till), status=201)


@router.get(
    "/till/current",
    operation_id="read_till_period",
    response_model=TillClosing,
    dependencies=[BEARER],
    responses=CLOSING_PROBLEMS,
)
async def get_current(till: ClosingTill, held: Held) -> Response:
    """This till's open period as a closing would record it now (X report), closing nothing:
    `closing_number` and `receipt_number` are those the next closing will take."""
    return json_answer(await closings.open_period(held.pool, till))
