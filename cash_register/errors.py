"""What can be wrong with a purchase, in the shop's words.

Problem (httpkit.problems)
└── InvalidPurchase            422: the purchase is refused, nothing is stored
    ├── EmptyBasket
    ├── TooManyItems
    ├── UnknownSupermarket
    ├── UnknownProduct         names every unknown product at once
    ├── BadIdempotencyKey
    └── IdempotencyKeyReused   the key was claimed by another purchase
Forbidden (httpkit.access)     403: a valid key that may not record this sale
├── OwnerCannotSell
└── NotThisTillsStore
"""

from __future__ import annotations

from httpkit.access import Forbidden
from httpkit.problems import Problem
from shop.rules import MAX_ITEMS_PER_PURCHASE, SALE_KEY_RULE


class InvalidPurchase(Problem):
    status = 422
    title = "Invalid purchase"


class EmptyBasket(InvalidPurchase):
    def __init__(self) -> None:
        super().__init__("items: the basket is empty; a purchase needs at least one item")


class TooManyItems(InvalidPurchase):
    def __init__(self, count: int) -> None:
        super().__init__(
            f"items: {count} items in one purchase; at most {MAX_ITEMS_PER_PURCHASE} are accepted",
            max_items=MAX_ITEMS_PER_PURCHASE,
        )


class UnknownSupermarket(InvalidPurchase):
    def __init__(self, supermarket_id: str) -> None:
        super().__init__(
            f"supermarket_id: unknown supermarket {supermarket_id!r}",
            supermarket_id=supermarket_id,
        )


class UnknownProduct(InvalidPurchase):
    def __init__(self, names: list[str]) -> None:
        listed = ", ".join(repr(name) for name in names)
        super().__init__(
            f"items: unknown product{'s' if len(names) > 1 else ''} {listed}",
            unknown_products=names,
        )


class BadIdempotencyKey(InvalidPurchase):
    def __init__(self) -> None:
        super().__init__(f"Idempotency-Key: {SALE_KEY_RULE}")


class IdempotencyKeyReused(InvalidPurchase):
    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key: {key!r} was used for a different purchase; "
            "a retry must send the same request",
            idempotency_key=key,
        )


class OwnerCannotSell(Forbidden):
    def __init__(self) -> None:
        super().__init__("an owner's key cannot record sales; the till's own key records them")


class NotThisTillsStore(Forbidden):
    def __init__(self, till: str, store: str) -> None:
        super().__init__(
            f"supermarket_id: till {till} records sales for {store} only",
            supermarket_id=store,
        )
