"""Recording a sale: check the basket against the catalog, store it with its aggregates."""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

import asyncpg
from pydantic import BaseModel, TypeAdapter, ValidationError

from cash_register import queries
from cash_register.errors import (
    BadIdempotencyKey,
    EmptyBasket,
    IdempotencyKeyReused,
    InvalidPurchase,
    NotThisTillsStore,
    OwnerCannotSell,
    TooManyItems,
    UnknownProduct,
    UnknownSupermarket,
)
from db.access_keys import Credential
from db.catalog import Catalog, Product
from db.pool import pooled_connection
from shop.rules import MAX_ITEMS_PER_PURCHASE, SaleKey

_SALE_KEY: TypeAdapter[str] = TypeAdapter(SaleKey)


@dataclass(frozen=True)
class BasketLine:
    product: Product
    quantity: int


@dataclass(frozen=True)
class Basket:
    """A purchase that has passed every check the catalog can make; ready to store."""

    supermarket_id: str
    customer_id: uuid.UUID
    lines: tuple[BasketLine, ...]
    purchased_at: datetime | None = None
    # A live sale's Idempotency-Key (remembered for IDEMPOTENCY_KEY_TTL_HOURS), or an offline
    # sale's client_purchase_id (remembered as long as the sale is stored), with the hash of
    # the request, so a retry can be told from another sale under the same key.
    idempotency_key: str | None = None
    client_purchase_id: str | None = None
    request_hash: bytes | None = None
    till_id: str | None = None  # the till that sent it (None: not sent by a till, e.g. a test)
    request_id: str | None = None  # the HTTP request that brought it (X-Request-ID)
    card_hash: bytes | None = None  # the keyed hash of the customer's loyalty card, if any

    @property
    def key(self) -> str | None:
        """The key a retry of this sale is recognised by, whichever kind it is."""
        return self.idempotency_key or self.client_purchase_id


@dataclass(frozen=True)
class RecordedPurchase:
    """A stored purchase, as the receipt shows it."""

    purchase_id: int
    basket: Basket
    purchased_at: datetime
    unit_prices: tuple[Decimal, ...]
    total_amount: Decimal
    replayed: bool = False
    # Its place in its till's chain: gapless per till, and SHA-256 over the previous entry's
    # hash and this one's canonical form. None for a sale of no till.
    receipt_number: int | None = None
    entry_hash: bytes | None = None


def selling_till(credential: Credential, supermarket_id: str) -> str:
    """The till recording a sale for `supermarket_id`: a till key of that very store."""
    if credential.kind != "till":
        raise OwnerCannotSell()
    if credential.supermarket_id != supermarket_id:
        raise NotThisTillsStore(credential.name, credential.supermarket_id or "")
    return credential.name


def make_basket(
    catalog: Catalog,
    supermarket_id: str,
    user_id: uuid.UUID | None,
    item_names: list[str],
    card_hash: bytes | None = None,
) -> Basket:
    """Turn what the till sent into a `Basket`, or say exactly what is wrong with it.

    A name given several times is one line with that quantity, in the order first seen.
    A purchase without a customer is a new customer with a fresh id, unless its loyalty card
    (`card_hash`) is known: then the database puts the card's customer in its place.
    """
    if not item_names:
        raise EmptyBasket()
    if len(item_names) > MAX_ITEMS_PER_PURCHASE:
        raise TooManyItems(len(item_names))
    if supermarket_id not in catalog.supermarkets:
        raise UnknownSupermarket(supermarket_id)
    quantities = Counter(item_names)
    unknown = [name for name in quantities if name not in catalog.products]
    if unknown:
        raise UnknownProduct(unknown)
    lines = tuple(BasketLine(catalog.products[name], count) for name, count in quantities.items())
    return Basket(supermarket_id, user_id or uuid.uuid4(), lines, card_hash=card_hash)


def request_hash(request: BaseModel, card_hash: bytes | None) -> bytes:
    """What a retry must repeat exactly: the validated request, hashed. A loyalty card enters
    only as its keyed hash, so no plain hash of a card number is ever stored."""
    digest = hashlib.sha256(request.model_dump_json(exclude={"loyalty_card"}).encode())
    digest.update(card_hash or b"")
    return digest.digest()


def checked_idempotency_key(value: str) -> str:
    """An `Idempotency-Key` header as the one rule for sale keys allows, else a 422."""
    try:
        return _SALE_KEY.validate_python(value)
    except ValidationError:
        raise BadIdempotencyKey() from None


def with_idempotency_key(basket: Basket, key: str, request: BaseModel) -> Basket:
    """The live sale with its idempotency key and the hash of the request it came with."""
    return replace(
        basket, idempotency_key=key, request_hash=request_hash(request, basket.card_hash)
    )


def as_offline_sale(
    basket: Basket, client_purchase_id: str, purchased_at: datetime, request: BaseModel
) -> Basket:
    """The offline sale with its own id, its own time and the hash of what the till sent."""
    return replace(
        basket,
        client_purchase_id=client_purchase_id,
        purchased_at=purchased_at,
        request_hash=request_hash(request, basket.card_hash),
    )


async def record_purchases(
    pool: asyncpg.Pool, baskets: list[Basket]
) -> list[RecordedPurchase | InvalidPurchase]:
    """Store the baskets in one transaction, one round trip; all or none.

    A basket whose idempotency key was claimed before is not stored again: it gets the
    original purchase back (`replayed`), or `IdempotencyKeyReused` if its request differs.
    """
    sales = _arriving_sales(baskets)
    try:
        async with pooled_connection(pool) as connection:
            statement = (
                queries.RECORD_PURCHASES_WITH_CARDS
                if any(b.card_hash for b in baskets)
                else queries.RECORD_PURCHASES
            )
            rows = await connection.fetch(statement, sales)
            taken = [b for b, row in zip(baskets, rows, strict=True) if not row["stored"]]
            originals = iter(await _originals(connection, taken) if taken else [])
    except (asyncpg.ForeignKeyViolationError, asyncpg.NotNullViolationError) as error:
        # The catalog changed between our check and the insert (a product or store removed).
        raise InvalidPurchase(
            "the catalog changed while the purchase was recorded; check it and send it again"
        ) from error
    return [
        RecordedPurchase(
            purchase_id=row["purchase_id"],
            basket=_with_customer(basket, row["customer_id"]),
            purchased_at=row["purchased_at"],
            unit_prices=tuple(row["unit_prices"]),
            total_amount=row["total_amount"],
            receipt_number=row["receipt_number"],
            entry_hash=row["entry_hash"],
        )
        if row["stored"]
        else _replay(basket, next(originals))
        for basket, row in zip(baskets, rows, strict=True)
    ]


def _with_customer(basket: Basket, customer_id: uuid.UUID) -> Basket:
    """The basket with the customer it was stored under (its loyalty card's, if known)."""
    return basket if basket.customer_id == customer_id else replace(basket, customer_id=customer_id)


async def _originals(
    connection: asyncpg.Connection, taken: list[Basket]
) -> list[asyncpg.Record | None]:
    """The stored purchase behind each basket whose key was claimed before, in order."""
    rows = await connection.fetch(
        queries.STORED_BY_KEY,
        [b.till_id or "" for b in taken],
        [b.idempotency_key for b in taken],
        [b.client_purchase_id for b in taken],
    )
    found = {row["position"]: row for row in rows}
    return [found.get(position) for position in range(1, len(taken) + 1)]


def _replay(basket: Basket, original: asyncpg.Record | None) -> RecordedPurchase | InvalidPurchase:
    """The purchase that first claimed the basket's key, as it was stored."""
    key = basket.key or ""
    if original is None or original["request_hash"] != basket.request_hash:
        return IdempotencyKeyReused(key)
    prices = dict(zip(original["product_ids"], original["unit_prices"], strict=True))
    return RecordedPurchase(
        purchase_id=original["purchase_id"],
        basket=replace(basket, customer_id=original["customer_id"]),
        purchased_at=original["purchased_at"],
        unit_prices=tuple(prices[line.product.id] for line in basket.lines),
        total_amount=original["total_amount"],
        replayed=True,
        receipt_number=original["receipt_number"],
        entry_hash=original["entry_hash"],
    )


def _arriving_sales(baskets: list[Basket]) -> list[queries.ArrivingSale]:
    """The statement's one parameter: a typed row per basket, fields given by name."""
    return [
        queries.ArrivingSale(
            supermarket_id=basket.supermarket_id,
            customer_id=basket.customer_id,
            purchased_at=basket.purchased_at,
            till_id=basket.till_id,
            request_id=basket.request_id,
            card_hash=basket.card_hash,
            idempotency_key=basket.idempotency_key,
            client_purchase_id=basket.client_purchase_id,
            request_hash=basket.request_hash,
            lines=[queries.ArrivingLine(line.product.id, line.quantity) for line in basket.lines],
        )
        for basket in baskets
    ]
