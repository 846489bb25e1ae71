"""The answers the analytics give."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel, Field


class UniqueCustomers(BaseModel):
    unique_customers: int
    time_zones: dict[str, str] | None = Field(
        default=None,
        description="The IANA time zone of each store in view: its days are its local days.",
    )


class LoyalCustomer(BaseModel):
    user_id: UUID
    purchases: int


class LoyalCustomers(BaseModel):
    min_purchases: int
    count: int
    limit: int
    offset: int | None = Field(
        description="Where this page starts, when asked by offset; null for a cursor's page."
    )
    customers: list[LoyalCustomer]
    next: str | None = Field(
        default=None,
        description="Opaque cursor of the next page (send it as `after`); null on the last page.",
    )


class RankedProduct(BaseModel):
    rank: int
    product: str
    units_sold: int = Field(description="Units sold, net of the units returned.")
    units_returned: int = Field(description="Units of it taken back by refunds.")


class ReturnedProduct(BaseModel):
    product: str
    units_returned: int
    refunded: Decimal = Field(description="What its refunds gave back, a decimal string.")


class ReturnedProducts(BaseModel):
    products: list[ReturnedProduct]
    time_zones: dict[str, str] | None = Field(
        default=None,
        description="The IANA time zone of each store in view: its days are its local days.",
    )


class NetRevenue(BaseModel):
    """Revenue net of refunds, with what it is made of. Money as decimal strings."""

    revenue: Decimal = Field(description="Gross revenue less what was refunded.")
    gross_revenue: Decimal = Field(description="What the sales charged.")
    refunded: Decimal = Field(description="What refunds gave back (booked where refunded).")
    refunds: int = Field(description="How many refunds.")


class TopProducts(BaseModel):
    products: list[RankedProduct]
    time_zones: dict[str, str] | None = Field(
        default=None,
        description="The IANA time zone of each store in view: its days are its local days.",
    )


class StoreDay(NetRevenue):
    """One store's day: money as a decimal string, never a float."""

    day: date
    supermarket_id: str
    purchases: int
    units: int
    customers: int


class DailySales(BaseModel):
    from_: date = Field(serialization_alias="from")
    to: date
    supermarket_id: str | None = None
    days: list[StoreDay]
    time_zones: dict[str, str] | None = Field(
        default=None,
        description="The IANA time zone of each store in view: its days are its local days.",
    )


class StoreSummary(NetRevenue):
    supermarket_id: str
    time_zone: str = Field(description="The store's IANA time zone: its days are local days.")
    purchases: int
    units: int
    customers: int
    first_day: date | None
    last_day: date | None


class Supermarkets(BaseModel):
    supermarkets: list[StoreSummary]


class Day(NetRevenue):
    """One day of the stores in view; a day without sales is zeros."""

    day: date
    purchases: int
    units: int
    customers: int = Field(description="Distinct customers that day (one even if in two stores).")


class DailyTotals(BaseModel):
    from_: date = Field(serialization_alias="from")
    to: date
    supermarket_id: str | None = None
    days: list[Day]
    time_zones: dict[str, str] | None = Field(
        default=None,
        description="The IANA time zone of each store in view: its days are its local days.",
    )


class StoreInRange(NetRevenue):
    supermarket_id: str
    purchases: int
    units: int
    customers: int = Field(description="Distinct customers of the store over the range.")


class StoresInRange(BaseModel):
    from_: date = Field(serialization_alias="from")
    to: date
    supermarkets: list[StoreInRange]
    time_zones: dict[str, str] | None = Field(
        default=None,
        description="The IANA time zone of each store in view: its days are its local days.",
    )


class ClosingFigures(BaseModel):
    """A till's closing (Z) as its till got it, but its units: one row of the CSV."""

    day: date = Field(description="The store-local day it was closed.")
    supermarket_id: str
    till_id: str
    closing_number: int
    receipt_number: int
    period_start: datetime
    closed_at: datetime
    automatic: bool
    first_receipt: int | None
    last_receipt: int | None
    sales: int
    sales_amount: Decimal
    refunds: int
    refunded: Decimal
    net: Decimal
    grand_total: Decimal = Field(description="The till's sales less refunds since its first entry.")
    head_hash: str = Field(description="The chain's head at the close (hex).")


class UnitsClosed(BaseModel):
    product: str
    sold: int
    returned: int


class Closing(ClosingFigures):
    units: list[UnitsClosed]


class Closings(BaseModel):
    closings: list[Closing]
    time_zones: dict[str, str] = Field(description="The zone of each store in view.")


class TillDay(BaseModel):
    """A till's open period and its last closing."""

    till_id: str
    supermarket_id: str
    last_receipt: int
    closings: int
    period_opened_at: datetime
    open_entries: int = Field(description="Sales, refunds of the open period so far.")
    open_net: Decimal = Field(description="What they add: sales less refunds.")
    grand_total: Decimal
    last_closed_at: datetime | None
    last_closing_net: Decimal | None
    last_closing_automatic: bool | None


class TillDays(BaseModel):
    tills: list[TillDay]
