"""Loyalty cards: a returning customer is found by the card the cashier scans.

A card number is personal data. The database knows it only as an HMAC-SHA256 keyed with
`LOYALTY_CARD_KEY` (a secret from the environment or a file, never in the repository), so a
copy of the database alone does not reveal which card is whose. The number is never returned
and never logged. Changing the key makes every card a new customer: keep it with the backups.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from pydantic import SecretStr

from db.settings import MissingSetting, SecretFiles

MIN_KEY_LENGTH = 32


class LoyaltyCardSettings(SecretFiles):
    loyalty_card_key: SecretStr | None = None
    loyalty_card_key_file: Path | None = None


class LoyaltyCards:
    """Turns card numbers into the keyed hashes the database knows them by."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_settings(cls) -> LoyaltyCards:
        """The process's hasher; a missing or short key stops the process at start."""
        key = LoyaltyCardSettings().loyalty_card_key
        if key is None or len(key.get_secret_value()) < MIN_KEY_LENGTH:
            raise MissingSetting(
                "Missing setting: LOYALTY_CARD_KEY (or LOYALTY_CARD_KEY_FILE), a secret of at "
                f"least {MIN_KEY_LENGTH} characters that keys the hashes loyalty cards are "
                "stored as (see .env.example)."
            )
        return cls(key.get_secret_value().encode())

    def card_hash(self, number: str | None) -> bytes | None:
        """The card's keyed hash; None for a sale without a card."""
        if number is None:
            return None
        return hmac.new(self._key, number.encode(), hashlib.sha256).digest()
