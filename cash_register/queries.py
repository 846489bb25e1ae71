"""All SQL of the cash register, and the typed rows its purchase statement takes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import NamedTuple


class ArrivingLine(NamedTuple):
    """One line of a sale as the purchase statement takes it (the type `arriving_line`)."""

    product_id: int
    quantity: int


class ArrivingSale(NamedTuple):
    """One sale as the purchase statement takes it: the database type `arriving_sale`
    (migration 012), field for field in its attribute order, which a test compares."""

    supermarket_id: str
    customer_id: uuid.UUID
    purchased_at: datetime | None  # None: now (a live sale)
    till_id: str | None
    request_id: str | None
    card_hash: bytes | None
    idempotency_key: str | None
    client_purchase_id: str | None
    request_hash: bytes | None
    lines: list[ArrivingLine]


# Records a set of purchases in one statement: one round trip, one transaction. The triggers
# of the aggregates fold the rollups once for the whole set (db/schema.sql).
#
# $1 is the sales, `arriving_sale[]`, one typed row per sale, read here by field name. Prices
# are read from the catalog in the same statement, so the price charged is the catalog's at
# commit time; a product that has left the catalog has no price and fails the NOT NULL on
# purchase_items.unit_price.
#
# A keyed sale (a live Idempotency-Key, or an offline sale's client_purchase_id) is stored only
# if its key is claimed here; a key already taken (by an earlier request, or one committing
# right now: the claim waits for it) leaves the sale unstored, and the caller replays the
# original. Live keys expire (idempotency_keys); an offline sale's id is kept in offline_sales
# for as long as the sale itself. Both are the till's own.
#
# Each stored sale of a till is appended to that till's chain (append_to_chains, migration
# 018) in the same statement: its receipt number, gapless per till, and its entry hash.
#
# Returns one row per sale, in the order given: its id, time, customer, total, line prices,
# whether it was stored, and its receipt number and entry hash (NULL for a sale of no till).
# Two forms, written out whole: RECORD_PURCHASES for a batch in which no sale carries a
# loyalty card (nearly every batch, so a chain without cards pays nothing for them), and
# RECORD_PURCHASES_WITH_CARDS, which finds each card's customer.
RECORD_PURCHASES = """
WITH basket AS (
    SELECT s.ordinality::int AS position, s.supermarket_id, s.customer_id,
           coalesce(s.purchased_at, now()) AS purchased_at, s.till_id, s.request_id,
           s.idempotency_key, s.client_purchase_id, s.request_hash, s.lines,
           nextval('purchases_id_seq') AS purchase_id
    FROM unnest($1::arriving_sale[]) WITH ORDINALITY AS s
),
line AS (
    SELECT b.position, l.ordinality AS line_no, l.product_id, l.quantity, p.unit_price, p.name
    FROM basket b
    CROSS JOIN LATERAL unnest(b.lines) WITH ORDINALITY AS l
    LEFT JOIN products p ON p.id = l.product_id
),
priced AS (
    SELECT position,
           sum(quantity * unit_price) AS total_amount,
           array_agg(unit_price ORDER BY line_no) AS unit_prices,
           '[' || string_agg(ledger_line(name, quantity, unit_price), ','
                             ORDER BY name COLLATE "C") || ']' AS ledger_lines
    FROM line
    GROUP BY position
),
claim AS (
    INSERT INTO idempotency_keys (till_id, key, request_hash, purchase_id, purchased_at)
    SELECT till_id, idempotency_key, request_hash, purchase_id, purchased_at
    FROM basket
    WHERE idempotency_key IS NOT NULL
    ORDER BY till_id, idempotency_key
    ON CONFLICT (till_id, key) DO NOTHING
    RETURNING purchase_id
),
offline_claim AS (
    INSERT INTO offline_sales
        (till_id, supermarket_id, client_purchase_id, request_hash, purchase_id, purchased_at)
    SELECT till_id, supermarket_id, client_purchase_id, request_hash, purchase_id, purchased_at
    FROM basket
    WHERE client_purchase_id IS NOT NULL
    ORDER BY till_id, client_purchase_id
    ON CONFLICT (till_id, client_purchase_id) DO NOTHING
    RETURNING purchase_id
),
kept AS (
    SELECT b.*
    FROM basket b
    WHERE (b.idempotency_key IS NULL AND b.client_purchase_id IS NULL)
       OR b.purchase_id IN (SELECT purchase_id FROM claim
                            UNION ALL SELECT purchase_id FROM offline_claim)
),
purchase AS (
    INSERT INTO purchases
        (id, supermarket_id, customer_id, purchased_at, total_amount, till_id, received_at,
         request_id)
    SELECT b.purchase_id, b.supermarket_id, b.customer_id, b.purchased_at, p.total_amount,
           b.till_id, now(), b.request_id
    FROM kept b JOIN priced p USING (position)
),
item AS (
    INSERT INTO purchase_items
        (purchase_id, purchased_at, supermarket_id, product_id, quantity, unit_price)
    SELECT b.purchase_id, b.purchased_at, b.supermarket_id, l.product_id, l.quantity, l.unit_price
    FROM line l JOIN kept b USING (position)
),
chained AS (
    SELECT * FROM append_to_chains(ARRAY(
        SELECT ROW(b.till_id, 'sale', b.supermarket_id, b.purchased_at, b.customer_id,
                   p.ledger_lines, p.total_amount, b.purchase_id, b.purchased_at, NULL,
                   NULL)::ledger_entry
        FROM kept b JOIN priced p USING (position)
        WHERE b.till_id IS NOT NULL
        ORDER BY b.position
    ))
)
SELECT b.purchase_id, b.purchased_at, b.customer_id, p.total_amount, p.unit_prices,
       b.purchase_id IN (SELECT purchase_id FROM kept) AS stored, c.receipt_number, c.entry_hash
FROM basket b JOIN priced p USING (position) LEFT JOIN chained c USING (purchase_id)
ORDER BY b.position
"""

# A known card gives its customer; a new one is stored with the sale's fresh customer id. Two
# first sales of one new card, in one batch or in two racing ones, get one customer: the batch
# inserts each card once, and ON CONFLICT DO UPDATE returns the row a racing batch committed
# (a no-op update, only in that race). From `line` on, the same as RECORD_PURCHASES.
RECORD_PURCHASES_WITH_CARDS = """
WITH arrived AS (
    SELECT s.ordinality::int AS position, s.supermarket_id, s.customer_id,
           coalesce(s.purchased_at, now()) AS purchased_at, s.till_id, s.request_id,
           s.card_hash, s.idempotency_key, s.client_purchase_id, s.request_hash, s.lines,
           nextval('purchases_id_seq') AS purchase_id
    FROM unnest($1::arriving_sale[]) WITH ORDINALITY AS s
),
known_card AS (
    SELECT card_hash, customer_id FROM loyalty_cards
    WHERE card_hash IN (SELECT card_hash FROM arrived)
),
new_card AS (
    INSERT INTO loyalty_cards (card_hash, customer_id)
    SELECT DISTINCT ON (card_hash) card_hash, customer_id
    FROM arrived
    WHERE card_hash IS NOT NULL AND card_hash NOT IN (SELECT card_hash FROM known_card)
    ORDER BY card_hash, position
    ON CONFLICT (card_hash) DO UPDATE SET card_hash = EXCLUDED.card_hash
    RETURNING card_hash, customer_id
),
basket AS (
    SELECT a.position, a.supermarket_id,
           coalesce(k.customer_id, n.customer_id, a.customer_id) AS customer_id,
           a.purchased_at, a.till_id, a.request_id, a.idempotency_key, a.client_purchase_id,
           a.request_hash, a.lines, a.purchase_id
    FROM arrived a
    LEFT JOIN known_card k ON k.card_hash = a.card_hash
    LEFT JOIN new_card n ON n.card_hash = a.card_hash
),
line AS (
    SELECT b.position, l.ordinality AS line_no, l.product_id, l.quantity, p.unit_price, p.name
    FROM basket b
    CROSS JOIN LATERAL unnest(b.lines) WITH ORDINALITY AS l
    LEFT JOIN products p ON p.id = l.product_id
),
priced AS (
    SELECT position,
           sum(quantity * unit_price) AS total_amount,
           array_agg(unit_price ORDER BY line_no) AS unit_prices,
           '[' || string_agg(ledger_line(name, quantity, unit_price), ','
                             ORDER BY name COLLATE "C") || ']' AS ledger_lines
    FROM line
    GROUP BY position
),
claim AS (
    INSERT INTO idempotency_keys (till_id, key, request_hash, purchase_id, purchased_at)
    SELECT till_id, idempotency_key, request_hash, purchase_id, purchased_at
    FROM basket
    WHERE idempotency_key IS NOT NULL
    ORDER BY till_id, idempotency_key
    ON CONFLICT (till_id, key) DO NOTHING
    RETURNING purchase_id
),
offline_claim AS (
    INSERT INTO offline_sales
        (till_id, supermarket_id, client_purchase_id, request_hash, purchase_id, purchased_at)
    SELECT till_id, supermarket_id, client_purchase_id, request_hash, purchase_id, purchased_at
    FROM basket
    WHERE client_purchase_id IS NOT NULL
    ORDER BY till_id, client_purchase_id
    ON CONFLICT (till_id, client_purchase_id) DO NOTHING
    RETURNING purchase_id
),
kept AS (
    SELECT b.*
    FROM basket b
    WHERE (b.idempotency_key IS NULL AND b.client_purchase_id IS NULL)
       OR b.purchase_id IN (SELECT purchase_id FROM claim
                            UNION ALL SELECT purchase_id FROM offline_claim)
),
purchase AS (
    INSERT INTO purchases
        (id, supermarket_id, customer_id, purchased_at, total_amount, till_id, received_at,
         request_id)
    SELECT b.purchase_id, b.supermarket_id, b.customer_id, b.purchased_at, p.total_amount,
           b.till_id, now(), b.request_id
    FROM kept b JOIN priced p USING (position)
),
item AS (
    INSERT INTO purchase_items
        (purchase_id, purchased_at, supermarket_id, product_id, quantity, unit_price)
    SELECT b.purchase_id, b.purchased_at, b.supermarket_id, l.product_id, l.quantity, l.unit_price
    FROM line l JOIN kept b USING (position)
),
chained AS (
    SELECT * FROM append_to_chains(ARRAY(
        SELECT ROW(b.till_id, 'sale', b.supermarket_id, b.purchased_at, b.customer_id,
                   p.ledger_lines, p.total_amount, b.purchase_id, b.purchased_at, NULL,
                   NULL)::ledger_entry
        FROM kept b JOIN priced p USING (position)
        WHERE b.till_id IS NOT NULL
        ORDER BY b.position
    ))
)
SELECT b.purchase_id, b.purchased_at, b.customer_id, p.total_amount, p.unit_prices,
       b.purchase_id IN (SELECT purchase_id FROM kept) AS stored, c.receipt_number, c.entry_hash
FROM basket b JOIN priced p USING (position) LEFT JOIN chained c USING (purchase_id)
ORDER BY b.position
"""


# The purchases that claimed these keys before, with their lines' prices, to replay their
# receipts. One element per purchase whose claim failed: $1 its till, and $2 its
# Idempotency-Key or $3 its client_purchase_id; each answer row names its position in those
# arrays. Through a function of the owner's (migration 016): the cash register may not read
# the stored sales themselves.
STORED_BY_KEY = "SELECT * FROM sales_claimed_by($1::text[], $2::text[], $3::text[])"

# Refunds go through functions of the owner's (migration 017): the cash register cannot read
# the sales, and the cap on what is refunded is the database's own.
SALE_TO_REFUND = "SELECT * FROM sale_to_refund($1)"
RECORD_REFUND = """
SELECT record_refund($1, $2, $3, $4::int[], $5::int[], $6, $7, $8, $9, $10, $11, $12)
"""

# The till's day (migration 018): close its period (Z), read the open one (X), close every
# period left open past the store-local closing time. Each answers the closing as JSON.
CLOSE_TILL = "SELECT close_till($1, $2, $3, $4)"
OPEN_PERIOD = "SELECT closing_answer(p) FROM open_period($1) AS p WHERE p.till_id IS NOT NULL"
CLOSE_DUE_PERIODS = "SELECT close_due_periods($1)"

EXPIRE_IDEMPOTENCY_KEYS = """
DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)
"""
