"""Where a page of loyal customers starts, as an opaque cursor the answer hands out.

An offset makes PostgreSQL read and skip every row before the page. A cursor names the last
customer shown instead (their purchase count and id, the list's order), so the next page starts
right after it in the index, however deep it is. Clients treat the cursor as opaque; it is
base64url text, not a secret: it only says where a list the caller may read goes on.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from uuid import UUID

from analytics.errors import InvalidCursor

MAX_PURCHASES = 2**31 - 1  # purchase counts are PostgreSQL integers


@dataclass(frozen=True)
class Position:
    """After this customer, in the order most purchases first, then id."""

    purchases: int
    customer_id: UUID

    def cursor(self) -> str:
        text = f"{self.purchases}:{self.customer_id}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def of(cls, cursor: str) -> Position:
        """The position a cursor names; `InvalidCursor` for anything this service did not give."""
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            purchases, _, customer = base64.urlsafe_b64decode(padded).decode().partition(":")
            position = cls(int(purchases), UUID(customer))
        except (ValueError, UnicodeDecodeError, binascii.Error):
            position = None
        if position is None or not 1 <= position.purchases <= MAX_PURCHASES:
            raise InvalidCursor("after: not a cursor this service gave (use the answer's next)")
        return position
