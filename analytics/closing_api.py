"""HTTP only, for the tills' days: their closings (Z) and each till's open period."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from analytics import closings
from analytics.api import DATA, TABLE, DaysInView
from analytics.lifetime import Held, Source
from analytics.owners import Owner, store_in_view
from analytics.schemas import ClosingFigures, Closings, TillDays
from analytics.spreadsheets import AsCsv, csv_table
from shop.rules import TILL_ID_PATTERN, StoreId

router = APIRouter()


@router.get("/closings", response_model=Closings, **TABLE)
async def get_closings(
    held: Held,
    source: Source,
    filters: DaysInView,
    till_id: Annotated[
        str | None, Query(pattern=TILL_ID_PATTERN, description="Only this till.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=closings.MAX_CLOSINGS)] = 1000,
    as_csv: AsCsv = False,
) -> Closings | Response:
    """The tills' closings (Z) closed on the range's days (each store's local days; without a
    range, the last 30 up to today), by store, till and closing number: each as its till got
    it, never changed. A store manager's key sees its store's tills only."""
    found = await closings.closings(source, filters, till_id, limit)
    if as_csv:
        return csv_table(found, ClosingFigures, "closings")
    return Closings(closings=found, time_zones=held.time_zones(filters.supermarket_id))


@router.get("/tills", response_model=TillDays, **DATA)
async def get_till_days(
    source: Source, owner: Owner, supermarket_id: Annotated[StoreId | None, Query()] = None
) -> TillDays:
    """Each till (of one store, or every store in view) with its open period (since when,
    its sales and refunds so far, what they add) and its last closing."""
    store = store_in_view(owner, supermarket_id)
    return TillDays(tills=await closings.till_days(source, store))
