"""The purchase as a till sends it and the receipt it gets back."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
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


class OfflinePurchase(PurchaseRequest):
    """A sale a till made while offline: its own id (the idempotency key) and time."""

    client_purchase_id: str = Field(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")
    purchased_at: datetime = Field(description="When the sale happened; no zone means UTC.")


class PurchaseUpload(BaseModel):
    """Up to 1,000 offline sales. Each is checked on its own: a bad one rejects only itself."""

    model_config = ConfigDict(extra="forbid")

    purchases: list[dict[str, Any]] = Field(min_length=1, max_length=1000)


class UploadOutcome(BaseModel):
    client_purchase_id: str | None
    status: Literal["created", "duplicate", "rejected"]
    purchase_id: int | None = None
    reason: str | None = None


class UploadResult(BaseModel):
    created: int
    duplicates: int
    rejected: int
    outcomes: list[UploadOutcome]
