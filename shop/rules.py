"""What a store id, a basket and a sale's key may be: defined here once.

The cash register validates requests with these, the loader hands them to its SQL as
parameters, and a test holds the schema's own CHECK constraints to them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

MAX_ITEMS_PER_PURCHASE = 100

STORE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"
StoreId = Annotated[str, StringConstraints(pattern=STORE_ID_PATTERN)]

# An Idempotency-Key header or an offline sale's client_purchase_id: 1 to 255 visible ASCII
# characters (no space, no control character), so it can travel in a header unchanged.
SALE_KEY_MAX_LENGTH = 255
SALE_KEY_PATTERN = r"^[\x21-\x7e]+$"
SALE_KEY_RULE = f"1 to {SALE_KEY_MAX_LENGTH} visible ASCII characters (no spaces)"
SaleKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=SALE_KEY_MAX_LENGTH, pattern=SALE_KEY_PATTERN),
]
