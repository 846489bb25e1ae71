"""The purchase as a till sends it and the receipt it gets back."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    model_validator,
)

from httpkit.problems import describe, validation_errors
from shop.rules import (
    LOYALTY_CARD_RULE,
    MAX_ITEMS_PER_PURCHASE,
    MAX_RECEIPT_NUMBER,
    MAX_SALES_PER_UPLOAD,
    LoyaltyCard,
    SaleKey,
    StoreId,
)


class PurchaseRequest(BaseModel):
    """One sale. A product named twice is bought twice; prices come from the catalog."""

    model_config = ConfigDict(extra="forbid")

    supermarket_id: StoreId = Field(examples=["SMKT001"])
    user_id: UUID | None = Field(
        default=None,
        description="The customer; omitted (with no `loyalty_card`) for a new customer.",
    )
    loyalty_card: LoyaltyCard | None = Field(
        default=None,
        description=f"The customer's loyalty card number ({LOYALTY_CARD_RULE}) instead of "
        "`user_id`: the first sale with a card makes its customer, later ones find it. Stored "
        "only as a keyed hash; never returned.",
        examples=["79927398713"],
    )
    items: list[str] = Field(
        description=f"Product names, one per unit sold (at most {MAX_ITEMS_PER_PURCHASE}).",
        examples=[["milk", "bread", "milk"]],
    )

    @model_validator(mode="after")
    def _one_customer(self) -> PurchaseRequest:
        if self.user_id is not None and self.loyalty_card is not None:
            raise ValueError("give user_id or loyalty_card, not both")
        return self


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
    receipt_number: int | None = Field(
        description="The sale's number in its till's ledger: 1, 2, 3, ... per till, gapless."
    )
    entry_hash: str | None = Field(
        description="SHA-256 (hex) of the till's previous entry hash and this sale's "
        "canonical form: the till's hash chain (docs/tills.md)."
    )


class OfflinePurchase(PurchaseRequest):
    """A sale a till made while offline: its own id and time. The id identifies the sale for
    as long as it is stored: uploading it again, whenever, stores nothing twice."""

    client_purchase_id: SaleKey
    purchased_at: datetime = Field(description="When the sale happened; no zone means UTC.")


class RejectedSale(BaseModel):
    """An uploaded sale that is not a valid `OfflinePurchase`; only it is rejected."""

    client_purchase_id: str | None
    reason: str


def each_sale_on_its_own(value: Any) -> OfflinePurchase | RejectedSale:
    """Validate one uploaded sale; an invalid one becomes a `RejectedSale` with its reason
    instead of refusing the whole upload."""
    try:
        return OfflinePurchase.model_validate(value)
    except ValidationError as error:
        given = value.get("client_purchase_id") if isinstance(value, dict) else None
        return RejectedSale(
            client_purchase_id=given if isinstance(given, str) else None,
            reason=describe(validation_errors(error.errors(include_url=False))),
        )


UploadedSale = Annotated[
    OfflinePurchase | RejectedSale,
    PlainValidator(each_sale_on_its_own, json_schema_input_type=OfflinePurchase),
]


class PurchaseUpload(BaseModel):
    """Up to 1,000 offline sales. Each is checked on its own: a bad one rejects only itself."""

    model_config = ConfigDict(extra="forbid")

    purchases: list[UploadedSale] = Field(min_length=1, max_length=MAX_SALES_PER_UPLOAD)


class UploadEnvelope(BaseModel):
    """A `PurchaseUpload` with its sales not yet checked: the upload's lane parses the body
    with this, then checks the sales a few at a time (`each_sale_on_its_own`)."""

    model_config = ConfigDict(extra="forbid")

    purchases: list[Any] = Field(min_length=1, max_length=MAX_SALES_PER_UPLOAD)


class UploadOutcome(BaseModel):
    client_purchase_id: str | None
    status: Literal["created", "duplicate", "rejected"]
    purchase_id: int | None = None
    receipt_number: int | None = Field(
        default=None, description="Its number in the till's ledger, in the order stored."
    )
    reason: str | None = None


class UploadResult(BaseModel):
    created: int
    duplicates: int
    rejected: int
    outcomes: list[UploadOutcome]


class CatalogProduct(BaseModel):
    id: int
    name: str
    unit_price: Decimal = Field(description="The price charged now, a decimal string.")


class PriceListAnswer(BaseModel):
    """What a till may sell and where: the stores and the products at their current prices."""

    currency: str = Field(description="ISO 4217 code of the prices.")
    supermarkets: list[str]
    products: list[CatalogProduct]


class RefundLine(BaseModel):
    """A product of the sale and how many of it are taken back."""

    model_config = ConfigDict(extra="forbid")

    product: str = Field(min_length=1, max_length=100, examples=["milk"])
    quantity: int = Field(ge=1, le=MAX_ITEMS_PER_PURCHASE)


class RefundRequest(BaseModel):
    """A sale taken back: some of its lines, or `"all"` that is still refundable."""

    model_config = ConfigDict(extra="forbid")

    purchase_id: int = Field(
        ge=1, le=MAX_RECEIPT_NUMBER, description="The receipt number of the sale."
    )
    lines: list[RefundLine] | Literal["all"] = Field(
        description='The lines taken back, or "all" that is still refundable.'
    )
    reason: Literal["returned", "damaged", "mistake"] = Field(
        description="returned by the customer, damaged, or a sale rung up by mistake."
    )

    @model_validator(mode="after")
    def _lines_given(self) -> RefundRequest:
        if isinstance(self.lines, list) and not self.lines:
            raise ValueError('lines: give at least one line, or "all"')
        return self


class SaleLine(ReceiptLine):
    refunded: int = Field(description="Units of this line refunded so far.")
    refundable: int = Field(description="Units of this line that may still be refunded.")


class SaleToRefund(BaseModel):
    """A stored sale as its receipt showed it, with what of each line was refunded."""

    purchase_id: int
    user_id: str
    supermarket_id: str
    purchased_at: datetime
    items: list[SaleLine]
    total_amount: Decimal
    till_id: str | None = Field(description="The till that sold it; null for imported history.")
    receipt_number: int | None = Field(description="Its number in its till's ledger.")
    entry_hash: str | None = Field(description="Its entry hash in its till's chain (hex).")
    imported: bool = Field(
        description="History imported by the loader: it belongs to no till and no chain."
    )


class RefundedLine(BaseModel):
    product: str
    quantity: int
    unit_price: Decimal = Field(description="The price the sale charged, a decimal string.")
    line_total: Decimal


class RefundReceipt(BaseModel):
    """A recorded refund: its lines at the sale's prices, its total, what stays refundable."""

    refund_id: int
    purchase_id: int
    supermarket_id: str = Field(description="The refunding till's store.")
    refunded_at: datetime
    reason: str
    approved_by: str | None
    lines: list[RefundedLine]
    total_amount: Decimal
    refundable: dict[str, int] = Field(description="Per product of the sale, units refundable.")
    till_id: str = Field(description="The refunding till.")
    receipt_number: int = Field(description="The refund's number in the refunding till's ledger.")
    entry_hash: str = Field(description="The refund's entry hash in that till's chain (hex).")


class ProductUnits(BaseModel):
    product: str
    sold: int
    returned: int


class TillClosing(BaseModel):
    """A closing of a till's period (Z), or the open period as one would record it (X)."""

    till_id: str
    supermarket_id: str | None
    closing_number: int = Field(description="Gapless per till: 1, 2, 3, ...")
    receipt_number: int = Field(description="The closing's own number in the till's ledger.")
    period_start: datetime | None
    period_end: datetime | None = Field(description="When it was closed (X: now).")
    automatic: bool = Field(description="Closed by the service at TILL_AUTO_CLOSE_AT.")
    first_receipt: int | None = Field(description="The period's first sale or refund.")
    last_receipt: int | None
    sales: int
    sales_amount: Decimal
    refunds: int
    refunded: Decimal
    net: Decimal = Field(description="sales_amount less refunded.")
    grand_total: Decimal = Field(description="Sales less refunds since the till's first entry.")
    units: list[ProductUnits] = Field(description="Per product, units sold and returned.")
    head_hash: str | None = Field(
        description="Z: the closing's own entry hash, the chain's head at the close; X: the "
        "head now."
    )
