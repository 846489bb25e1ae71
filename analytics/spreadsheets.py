"""The views' tables as CSV, for the owners' spreadsheets: `?format=csv`, or `Accept: text/csv`.

UTF-8 with a byte order mark (so a spreadsheet opens accented store names right), a header
row of the table's field names, amounts as the decimal strings they are in JSON (never
floats), an empty cell for a missing value. The file is named after the view.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Annotated, Literal

from fastapi import Depends, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
BYTE_ORDER_MARK = "\ufeff"


def wants_csv(
    request: Request,
    format: Annotated[
        Literal["json", "csv"] | None,
        Query(description="`csv` for the view's table as a CSV file (or `Accept: text/csv`)."),
    ] = None,
) -> bool:
    """Whether the owner asked for the table as CSV: `?format=csv`, or, without a format,
    an Accept header that names text/csv."""
    if format is not None:
        return format == "csv"
    return "text/csv" in request.headers.get("accept", "")


AsCsv = Annotated[bool, Depends(wants_csv)]


def csv_table(rows: Sequence[BaseModel], row_type: type[BaseModel], name: str) -> Response:
    """The rows as a CSV file named `name.csv`, a header row first (even with no rows)."""
    buffer = io.StringIO()
    buffer.write(BYTE_ORDER_MARK)
    fields = _columns(row_type)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(fields)
    for row in rows:
        values = row.model_dump(mode="json")
        writer.writerow(["" if values[f] is None else values[f] for f in fields])
    return Response(
        buffer.getvalue().encode(),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _columns(row_type: type[BaseModel]) -> list[str]:
    """The row's own fields first (what the row is: its day, its store), then those it
    inherits (the revenue figures every table shares)."""
    own = [name for name in row_type.__annotations__ if name in row_type.model_fields]
    return own + [name for name in row_type.model_fields if name not in own]
