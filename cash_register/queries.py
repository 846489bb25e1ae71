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
# Returns one row per purchase, in the order given: its id, time, total and line prices.
RECORD_PURCHASES = """
WITH basket AS (
    SELECT b.position::int AS position,
           b.supermarket_id,
           b.customer_id,
           coalesce(b.purchased_at, now()) AS purchased_at,
           nextval('purchases_id_seq') AS purchase_id
    FROM unnest($1::text[], $2::uuid[], $3::timestamptz[])
         WITH ORDINALITY AS b(supermarket_id, customer_id, purchased_at, position)
),
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
purchase AS (
    INSERT INTO purchases (id, supermarket_id, customer_id, purchased_at, total_amount)
    SELECT b.purchase_id, b.supermarket_id, b.customer_id, b.purchased_at, p.total_amount
    FROM basket b JOIN priced p USING (position)
),
item AS (
    INSERT INTO purchase_items
        (purchase_id, purchased_at, supermarket_id, product_id, quantity, unit_price)
    SELECT b.purchase_id, b.purchased_at, b.supermarket_id, l.product_id, l.quantity, l.unit_price
    FROM line l JOIN basket b USING (position)
)
SELECT b.purchase_id, b.purchased_at, p.total_amount, p.unit_prices
FROM basket b JOIN priced p USING (position)
ORDER BY b.position
"""
