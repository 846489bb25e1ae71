"""What can be wrong with a purchase, in the shop's words.

Problem (httpkit.problems)
└── InvalidPurchase            422: the purchase is refused, nothing is stored
    ├── EmptyBasket
    ├── TooManyItems
    ├── UnknownSupermarket
    ├── UnknownProduct         names every unknown product at once
    ├── BadIdempotencyKey
    └── IdempotencyKeyReused   the key was claimed by another purchase
UploadRefused                  429: the till must wait (Retry-After) before this upload
├── UploadInProgress       its earlier upload has not been answered yet
└── UploadBudgetSpent      its uploads carried more items than its budget allows
UnknownSale                    404: no sale has this receipt number
InvalidRefund                  422: the refund is refused as sent, nothing is stored
├── RefundWindowPassed     the sale is older than REFUND_WINDOW_DAYS
├── ProductNotInSale
└── RepeatedRefundLine
MoreThanRefundable             409: more of a line than is still refundable
NothingLeftToRefund            409: "all" of a sale refunded already
Forbidden (httpkit.authentication)     403: a valid key that may not record this sale
├── OwnerCannotSell
├── OwnerCannotRefund
├── OwnerCannotCloseTill
├── NotThisTillsStore
└── ApprovalRequired       a large refund without an owner's Approval-Key for the store
"""

from __future__ import annotations

from httpkit.authentication import Forbidden
from httpkit.problems import ECHO_ITEMS, Problem, echoed
from shop.rules import MAX_ITEMS_PER_PURCHASE, SALE_KEY_RULE


class InvalidPurchase(Problem):
    """The purchase is refused as sent; nothing was stored."""

    status = 422
    title = "Invalid purchase"


class EmptyBasket(InvalidPurchase):
    """The basket has no items; a purchase needs at least one."""

    def __init__(self) -> None:
        super().__init__("items: the basket is empty; a purchase needs at least one item")


class TooManyItems(InvalidPurchase):
    """More items in one purchase than the till may send (`max_items`)."""

    def __init__(self, count: int) -> None:
        super().__init__(
            f"items: {count} items in one purchase; at most {MAX_ITEMS_PER_PURCHASE} are accepted",
            max_items=MAX_ITEMS_PER_PURCHASE,
        )


class UnknownSupermarket(InvalidPurchase):
    """The purchase names a store the chain does not have."""

    def __init__(self, supermarket_id: str) -> None:
        super().__init__(
            f"supermarket_id: unknown supermarket {supermarket_id!r}",
            supermarket_id=supermarket_id,
        )


class UnknownProduct(InvalidPurchase):
    """Products not in the catalog: the first ECHO_ITEMS named in `unknown_products` (each cut
    to ECHO_CHARACTERS), how many there were in `unknown_products_count`."""

    def __init__(self, names: list[str]) -> None:
        shown = [echoed(name) for name in names[:ECHO_ITEMS]]
        listed = ", ".join(repr(name) for name in shown)
        more = f" and {len(names) - len(shown)} more" if len(names) > len(shown) else ""
        super().__init__(
            f"items: unknown product{'s' if len(names) > 1 else ''} {listed}{more}",
            unknown_products=shown,
            unknown_products_count=len(names),
        )


class BadIdempotencyKey(InvalidPurchase):
    """The Idempotency-Key header breaks the rule for sale keys."""

    def __init__(self) -> None:
        super().__init__(f"Idempotency-Key: {SALE_KEY_RULE}")


class IdempotencyKeyReused(InvalidPurchase):
    """The till's key was claimed by a different purchase; a retry must repeat the request."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key: {key!r} was used for a different purchase; "
            "a retry must send the same request",
            idempotency_key=key,
        )


class OwnerCannotSell(Forbidden):
    """An owner's key cannot record sales; a till's key does."""

    def __init__(self) -> None:
        super().__init__("an owner's key cannot record sales; the till's own key records them")


class NotThisTillsStore(Forbidden):
    """A till records sales for its own store only."""

    def __init__(self, till: str, store: str) -> None:
        super().__init__(
            f"supermarket_id: till {till} records sales for {store} only",
            supermarket_id=store,
        )


class UploadRefused(Problem):
    """An offline upload the till must send again later, after `Retry-After` seconds."""

    status = 429
    title = "Upload refused for now"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)}, retry_after=retry_after)


class UploadInProgress(UploadRefused):
    """The till has an upload in progress; a till uploads one batch at a time. Send this one
    again once the earlier one has been answered."""

    def __init__(self, till: str, retry_after: int) -> None:
        super().__init__(
            f"till {till} has an upload in progress; send this one once it is answered",
            retry_after,
        )


class UploadBudgetSpent(UploadRefused):
    """The till's uploads carried more items than its budget allows
    (TILL_UPLOAD_ITEMS_PER_SECOND); send it again after `Retry-After` seconds."""

    def __init__(self, till: str, per_second: float, retry_after: int) -> None:
        super().__init__(
            f"till {till} may upload {per_second:g} items per second and has used them; "
            f"send the upload again in {retry_after} s",
            retry_after,
        )


class UnknownSale(Problem):
    """No sale has this receipt number (`purchase_id`)."""

    status = 404
    title = "Unknown sale"

    def __init__(self, purchase_id: int) -> None:
        super().__init__(f"purchase_id: no sale {purchase_id}", purchase_id=purchase_id)


class InvalidRefund(Problem):
    """The refund is refused as sent; nothing was stored."""

    status = 422
    title = "Invalid refund"


class RefundWindowPassed(InvalidRefund):
    """The sale is older than REFUND_WINDOW_DAYS: it can no longer be refunded at a till."""

    def __init__(self, purchase_id: int, days: int) -> None:
        super().__init__(
            f"purchase_id: sale {purchase_id} is older than {days} days and cannot be refunded",
            refund_window_days=days,
        )


class ProductNotInSale(InvalidRefund):
    """A refund line names a product the sale does not have."""

    def __init__(self, product: str, purchase_id: int) -> None:
        super().__init__(
            f"lines: {echoed(product)!r} is not in sale {purchase_id}", product=echoed(product)
        )


class RepeatedRefundLine(InvalidRefund):
    """A product named on two lines of one refund: give it once, with the whole quantity."""

    def __init__(self, product: str) -> None:
        super().__init__(
            f"lines: {echoed(product)!r} is named twice; give each product once",
            product=echoed(product),
        )


class MoreThanRefundable(Problem):
    """More of a line than is still refundable: what was sold, less what was refunded."""

    status = 409
    title = "More than is refundable"

    def __init__(self, product: str, sold: int, refunded: int) -> None:
        super().__init__(
            f"lines: {product}: {sold} sold, {refunded} already refunded, "
            f"{sold - refunded} refundable",
            product=product,
            sold=sold,
            refunded=refunded,
        )


class NothingLeftToRefund(Problem):
    """Every line of the sale has been refunded already."""

    status = 409
    title = "Nothing left to refund"

    def __init__(self, purchase_id: int) -> None:
        super().__init__(f"lines: nothing of sale {purchase_id} is left to refund")


class OwnerCannotRefund(Forbidden):
    """An owner's key cannot record a refund: refunds are recorded at a till."""

    def __init__(self) -> None:
        super().__init__("refunds are recorded at a till: send a till's key")


class OwnerCannotCloseTill(Forbidden):
    """An owner's key cannot close or read a till's period: a till does, with its own key."""

    def __init__(self) -> None:
        super().__init__("a till's day is closed and read at the till: send a till's key")


class ApprovalRequired(Forbidden):
    """A refund above REFUND_APPROVAL_ABOVE needs `Approval-Key: <key>` of an owner whose keys
    cover the till's store (a chain owner, or that store's manager)."""

    def __init__(self, total: str, why: str) -> None:
        super().__init__(f"a refund of {total} needs an owner's approval: {why}", total=total)
