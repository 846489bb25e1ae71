"""The purchase as a till sends it and the receipt it gets back."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class PurchaseRequest(BaseModel):
    """One sale. A product named twice is bought twice; prices come from the catalog."""

    model_config = ConfigDict(extra="forbid")

    supermarket_id: str = Field(max_length=64, examples=["SMKT001"])
    user_id: UUID | None = Field(
        default=None, description="The customer; omitted for a new, anonymous customer."
    )
    items: list[str] = Field(
        description="Product names, one per unit sold (at most 100).",
        examples=[["milk", "bread", "milk"]],
    )


class ReceiptLine(BaseModel):
    product: str
    quantity: int
    unit_price: Decimal
    line_total: Decimal


class Receipt(BaseModel):
    """What was stored: money as decimal strings, never floats."""

    purchase_id: int
    user_id: UUID
    supermarket_id: str
    purchased_at: datetime
    items: list[ReceiptLine]
    total_amount: Decimal
