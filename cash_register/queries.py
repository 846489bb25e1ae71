"""All SQL of the cash register."""

# Records a set of purchases in one statement: one round trip, one transaction. The triggers
# of db/migrations/002 fold the aggregates and daily rollups once for the whole set.
#
# Parameters, one element per purchase: $1 supermarket ids, $2 customer ids, $3 sale times
# (NULL: now). One element per basket line: $4 the purchase it belongs to (1-based position in
# $1), $5 product ids, $6 quantities. Prices are read from the catalog here, in the same
# statement, so the price charged is the catalog's at commit time; a product that has left
# the catalog has no price and fails the NOT NULL on purchase_items.unit_price.
#
# $7, $8 and $9, one element per purchase: its Idempotency-Key (live sales; NULL: none), its
# client_purchase_id (offline sales; NULL: none) and its request hash. A keyed purchase is
# stored only if its key is claimed here; a key already taken (by an earlier request, or one
# committing right now: the claim waits for it) leaves the purchase unstored, and the caller
# replays the original. Live keys expire (idempotency_keys); an offline sale's id is kept in
# offline_sales for as long as the sale itself. Both are the till's own: $10, one element per
# purchase, is the till that sent it (also stored with the purchase, with when it arrived);
# $11, one element per purchase, the id of the HTTP request that brought it.
#
# $12, one element per purchase: the keyed hash of its loyalty card (NULL: none). A known card
# gives its customer; a new one is stored with the purchase's fresh customer id. Two first
# sales of one new card, in one batch or in two racing ones, get one customer: the batch
# inserts each card once, and ON CONFLICT DO UPDATE returns the row a racing batch committed
# (a no-op update, only in that race).
#
# Returns one row per purchase, in the order given: its id, time, customer, total, line
# prices and whether it was stored. The statement (_RECORD_PURCHASES, below) is made in two
# forms, RECORD_PURCHASES_WITH_CARDS and RECORD_PURCHASES, by the part that finds customers.

# Who each purchase's customer is, with loyalty cards: a known card's customer, else the new
# card's (inserted once per batch; a racing batch's row is returned by the no-op update).
_CUSTOMERS_BY_CARD = """known_card AS (
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
           a.purchased_at, a.till_id, a.request_id, a.purchase_id
    FROM arrived a
    LEFT JOIN known_card k ON k.card_hash = a.card_hash
    LEFT JOIN new_card n ON n.card_hash = a.card_hash
),
"""
# The same for a batch in which no sale carries a loyalty card (nearly every batch): no look-up
# or insert of cards at all, so a chain without cards pays nothing for them.
_CUSTOMERS_AS_GIVEN = """basket AS (
    SELECT position, supermarket_id, customer_id, purchased_at, till_id, request_id, purchase_id
    FROM arrived
),
"""

_RECORD_PURCHASES = """
WITH arrived AS (
    SELECT b.position::int AS position,
           b.supermarket_id,
           b.customer_id,
           coalesce(b.purchased_at, now()) AS purchased_at,
           b.till_id,
           b.request_id,
           b.card_hash,
           nextval('purchases_id_seq') AS purchase_id
    FROM unnest($1::text[], $2::uuid[], $3::timestamptz[], $10::text[], $11::text[],
                $12::bytea[])
         WITH ORDINALITY AS b(supermarket_id, customer_id, purchased_at, till_id, request_id,
                              card_hash, position)
),
-- the customers --
line AS (
    SELECT l.line_no, l.position::int AS position, l.product_id, l.quantity, p.unit_price
    FROM unnest($4::int[], $5::int[], $6::int[])
         WITH ORDINALITY AS l(position, product_id, quantity, line_no)
    LEFT JOIN products p ON p.id = l.product_id
),
priced AS (
    SELECT position,
           sum(quantity * unit_price) AS total_amount,
           array_agg(unit_price ORDER BY line_no) AS unit_prices
    FROM line
    GROUP BY position
),
keyed AS (
    SELECT k.position::int AS position, k.key, k.client_id, k.request_hash
    FROM unnest($7::text[], $8::text[], $9::bytea[])
         WITH ORDINALITY AS k(key, client_id, request_hash, position)
),
claim AS (
    INSERT INTO idempotency_keys (till_id, key, request_hash, purchase_id, purchased_at)
    SELECT b.till_id, k.key, k.request_hash, b.purchase_id, b.purchased_at
    FROM keyed k JOIN basket b USING (position)
    WHERE k.key IS NOT NULL
    ORDER BY b.till_id, k.key
    ON CONFLICT (till_id, key) DO NOTHING
    RETURNING purchase_id
),
offline_claim AS (
    INSERT INTO offline_sales
        (till_id, supermarket_id, client_purchase_id, request_hash, purchase_id, purchased_at)
    SELECT b.till_id, b.supermarket_id, k.client_id, k.request_hash, b.purchase_id,
           b.purchased_at
    FROM keyed k JOIN basket b USING (position)
    WHERE k.client_id IS NOT NULL
    ORDER BY b.till_id, k.client_id
    ON CONFLICT (till_id, client_purchase_id) DO NOTHING
    RETURNING purchase_id
),
kept AS (
    SELECT b.*
    FROM basket b JOIN keyed k USING (position)
    WHERE (k.key IS NULL AND k.client_id IS NULL)
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
)
SELECT b.purchase_id, b.purchased_at, b.customer_id, p.total_amount, p.unit_prices,
       b.purchase_id IN (SELECT purchase_id FROM kept) AS stored
FROM basket b JOIN priced p USING (position)
ORDER BY b.position
"""
RECORD_PURCHASES_WITH_CARDS = _RECORD_PURCHASES.replace("-- the customers --\n", _CUSTOMERS_BY_CARD)
RECORD_PURCHASES = _RECORD_PURCHASES.replace("-- the customers --\n", _CUSTOMERS_AS_GIVEN)


# The purchases that claimed these keys before, with their lines' prices, to replay their
# receipts. One element per purchase whose claim failed: $1 its till, and $2 its
# Idempotency-Key or $3 its client_purchase_id; each answer row names its position in those
# arrays.
STORED_BY_KEY = """
SELECT k.position::int AS position, s.request_hash, p.id AS purchase_id, p.purchased_at,
       p.customer_id, p.total_amount,
       array_agg(i.product_id ORDER BY i.product_id) AS product_ids,
       array_agg(i.unit_price ORDER BY i.product_id) AS unit_prices
FROM unnest($1::text[], $2::text[], $3::text[])
     WITH ORDINALITY AS k(till_id, key, client_id, position)
JOIN LATERAL (
    SELECT request_hash, purchase_id, purchased_at FROM idempotency_keys
    WHERE till_id = k.till_id AND key = k.key
    UNION ALL
    SELECT request_hash, purchase_id, purchased_at FROM offline_sales
    WHERE till_id = k.till_id AND client_purchase_id = k.client_id
) s ON true
JOIN purchases p ON p.id = s.purchase_id AND p.purchased_at = s.purchased_at
JOIN purchase_items i ON i.purchase_id = p.id AND i.purchased_at = p.purchased_at
GROUP BY k.position, s.request_hash, p.id, p.purchased_at, p.customer_id, p.total_amount
"""

EXPIRE_IDEMPOTENCY_KEYS = """
DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)
"""
