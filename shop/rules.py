"""What a store id, a basket and a sale's key may be: defined here once.

The cash register validates requests with these, the loader hands them to its SQL as
parameters, and a test holds the schema's own CHECK constraints to them.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

MAX_ITEMS_PER_PURCHASE = 100
MAX_SALES_PER_UPLOAD = 1000  # sales in one offline upload
MAX_RECEIPT_NUMBER = 2**63 - 1  # a purchase id is a bigint: a larger one names no sale

# The business days a question may name: a chain's history and its coming years, nothing a
# calendar's edge could overflow on (9999-12-31 plus a month is no date).
FIRST_BUSINESS_DAY = date(2000, 1, 1)
LAST_BUSINESS_DAY = date(2099, 12, 31)

STORE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"
StoreId = Annotated[str, StringConstraints(pattern=STORE_ID_PATTERN)]
# A till's id, as the tills table checks it (migration 006).
TILL_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"

# An Idempotency-Key header or an offline sale's client_purchase_id: 1 to 255 visible ASCII
# characters (no space, no control character), so it can travel in a header unchanged.
SALE_KEY_MAX_LENGTH = 255
SALE_KEY_PATTERN = r"^[\x21-\x7e]+$"
SALE_KEY_RULE = f"1 to {SALE_KEY_MAX_LENGTH} visible ASCII characters (no spaces)"
SaleKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=SALE_KEY_MAX_LENGTH, pattern=SALE_KEY_PATTERN),
]

# A loyalty card number: 8 to 19 digits whose last is a Luhn check digit (ISO/IEC 7812, as
# printed under a card's barcode), so a mistyped digit is caught at the till, not stored as a
# new customer. Personal data: stored only as a keyed hash, never returned, never logged.
LOYALTY_CARD_PATTERN = r"^[0-9]{8,19}$"
LOYALTY_CARD_RULE = "8 to 19 digits, the last a Luhn check digit"


def luhn_valid(digits: str) -> bool:
    """Whether the last digit of `digits` is the Luhn check digit of the others."""
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _check_digit(number: str) -> str:
    if not luhn_valid(number):
        raise ValueError("not a valid loyalty card number (its check digit is wrong)")
    return number


LoyaltyCard = Annotated[
    str,
    StringConstraints(pattern=LOYALTY_CARD_PATTERN),
    AfterValidator(_check_digit),
]
