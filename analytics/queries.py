"""All SQL of the analytics. Each reads the aggregates the writers maintain, never a scan of
the purchases, so its cost does not grow with the number of sales."""

# The sum of the per-count histogram is the number of distinct customers.
UNIQUE_CUSTOMERS = """
SELECT coalesce(sum(customers), 0)::bigint FROM customer_purchase_counts
"""

# How many customers have at least $1 purchases (from the histogram), and one page of them,
# most purchases first (from the index on purchase_count). Always at least one row; a page
# past the end has a single row whose customer is NULL. OFFSET reads and skips every row
# before the page: LOYAL_CUSTOMERS_AFTER is the way to deep pages.
LOYAL_CUSTOMERS = """
WITH total AS (
    SELECT coalesce(sum(customers), 0)::bigint AS customers
    FROM customer_purchase_counts
    WHERE purchase_count >= $1
)
SELECT total.customers AS total, page.id AS customer_id, page.purchase_count
FROM total
LEFT JOIN LATERAL (
    SELECT id, purchase_count
    FROM customers
    WHERE purchase_count >= $1
    ORDER BY purchase_count DESC, id
    LIMIT $2 OFFSET $3
) page ON true
ORDER BY page.purchase_count DESC, page.id
"""

# The page after the customer ($3 purchases, id $4) a cursor names: the rest of its purchase
# count after its id, then the lower counts. Each branch is one range of the index on
# (purchase_count DESC, id), so the deepest page costs what the first does.
LOYAL_CUSTOMERS_AFTER = """
WITH total AS (
    SELECT coalesce(sum(customers), 0)::bigint AS customers
    FROM customer_purchase_counts
    WHERE purchase_count >= $1
),
after AS (
    (SELECT id, purchase_count FROM customers
     WHERE purchase_count = $3 AND id > $4 AND purchase_count >= $1
     ORDER BY purchase_count DESC, id LIMIT $2)
    UNION ALL
    (SELECT id, purchase_count FROM customers
     WHERE purchase_count < $3 AND purchase_count >= $1
     ORDER BY purchase_count DESC, id LIMIT $2)
)
SELECT total.customers AS total, page.id AS customer_id, page.purchase_count
FROM total
LEFT JOIN LATERAL (
    SELECT id, purchase_count FROM after ORDER BY purchase_count DESC, id LIMIT $2
) page ON true
ORDER BY page.purchase_count DESC, page.id
"""

# Products by units sold, all time, in all stores or in store $2, with competition ranking
# (1, 2, 2, 4): every product tied with the last place shown is listed too.
# units_sold is net of the units returned (at the store in view, for one store).
TOP_PRODUCTS = """
WITH sold AS (
    SELECT s.product_id, sum(s.units_sold)::bigint AS units
    FROM product_sales s
    WHERE $2::text IS NULL OR s.supermarket_id = $2
    GROUP BY s.product_id
    HAVING sum(s.units_sold) > 0
),
returned AS (
    SELECT r.product_id, sum(r.units)::bigint AS units
    FROM product_returns r
    WHERE $2::text IS NULL OR r.supermarket_id = $2
    GROUP BY r.product_id
),
ranked AS (
    SELECT rank() OVER (ORDER BY s.units - coalesce(r.units, 0) DESC) AS rank, p.name,
           s.units - coalesce(r.units, 0) AS units_sold, coalesce(r.units, 0) AS units_returned
    FROM sold s JOIN products p ON p.id = s.product_id
    LEFT JOIN returned r ON r.product_id = s.product_id
)
SELECT rank, name, units_sold, units_returned FROM ranked WHERE rank <= $1 ORDER BY rank, name
"""

# --- Filtered views. Each reads a rollup; the cost is noted where it is not constant.

UNIQUE_CUSTOMERS_IN_STORE = """
SELECT coalesce(sum(customers), 0)::bigint FROM store_customer_purchase_counts
WHERE supermarket_id = $1
"""

# Days are each store's local days (its time_zone): the rollups are kept that way.

LOYAL_CUSTOMERS_IN_STORE = """
WITH total AS (
    SELECT coalesce(sum(customers), 0)::bigint AS customers
    FROM store_customer_purchase_counts
    WHERE supermarket_id = $4 AND purchase_count >= $1
)
SELECT total.customers AS total, page.customer_id, page.purchase_count
FROM total
LEFT JOIN LATERAL (
    SELECT customer_id, purchase_count
    FROM store_customers
    WHERE supermarket_id = $4 AND purchase_count >= $1
    ORDER BY purchase_count DESC, customer_id
    LIMIT $2 OFFSET $3
) page ON true
ORDER BY page.purchase_count DESC, page.customer_id
"""

LOYAL_CUSTOMERS_IN_STORE_AFTER = """
WITH total AS (
    SELECT coalesce(sum(customers), 0)::bigint AS customers
    FROM store_customer_purchase_counts
    WHERE supermarket_id = $5 AND purchase_count >= $1
),
after AS (
    (SELECT customer_id, purchase_count FROM store_customers
     WHERE supermarket_id = $5 AND purchase_count = $3 AND customer_id > $4
       AND purchase_count >= $1
     ORDER BY purchase_count DESC, customer_id LIMIT $2)
    UNION ALL
    (SELECT customer_id, purchase_count FROM store_customers
     WHERE supermarket_id = $5 AND purchase_count < $3 AND purchase_count >= $1
     ORDER BY purchase_count DESC, customer_id LIMIT $2)
)
SELECT total.customers AS total, page.customer_id, page.purchase_count
FROM total
LEFT JOIN LATERAL (
    SELECT customer_id, purchase_count FROM after
    ORDER BY purchase_count DESC, customer_id LIMIT $2
) page ON true
ORDER BY page.purchase_count DESC, page.customer_id
"""

# Top products over a date range, optionally in one store: days x stores x products rows.
TOP_PRODUCTS_BETWEEN = """
WITH sold AS (
    SELECT s.product_id, sum(s.units)::bigint AS units
    FROM daily_product_sales s
    WHERE s.day BETWEEN $2 AND $3 AND ($4::text IS NULL OR s.supermarket_id = $4)
    GROUP BY s.product_id
    HAVING sum(s.units) > 0
),
returned AS (
    SELECT r.product_id, sum(r.units)::bigint AS units
    FROM daily_product_returns r
    WHERE r.day BETWEEN $2 AND $3 AND ($4::text IS NULL OR r.supermarket_id = $4)
    GROUP BY r.product_id
),
ranked AS (
    SELECT rank() OVER (ORDER BY s.units - coalesce(r.units, 0) DESC) AS rank, p.name,
           s.units - coalesce(r.units, 0) AS units_sold, coalesce(r.units, 0) AS units_returned
    FROM sold s JOIN products p ON p.id = s.product_id
    LEFT JOIN returned r ON r.product_id = s.product_id
)
SELECT rank, name, units_sold, units_returned FROM ranked WHERE rank <= $1 ORDER BY rank, name
"""

# Per day and store over a date range: days x stores rows (times the shards), whatever the
# number of sales.
# Revenue is net of the refunds booked that day at that store; a day of refunds without sales
# is a row too.
DAILY_SALES = """
WITH sales AS (
    SELECT day, supermarket_id, sum(purchases)::bigint AS purchases,
           sum(units)::bigint AS units, sum(revenue) AS gross, sum(customers)::bigint AS customers
    FROM daily_sales
    WHERE day BETWEEN $1 AND $2 AND ($3::text IS NULL OR supermarket_id = $3)
    GROUP BY day, supermarket_id
),
refunded AS (
    SELECT day, supermarket_id, sum(refunds)::bigint AS refunds, sum(refunded) AS refunded
    FROM daily_refunds
    WHERE day BETWEEN $1 AND $2 AND ($3::text IS NULL OR supermarket_id = $3)
    GROUP BY day, supermarket_id
)
SELECT day, supermarket_id, coalesce(s.purchases, 0) AS purchases,
       coalesce(s.units, 0) AS units,
       coalesce(s.gross, 0.00) - coalesce(r.refunded, 0.00) AS revenue,
       coalesce(s.gross, 0.00) AS gross_revenue, coalesce(r.refunded, 0.00) AS refunded,
       coalesce(r.refunds, 0) AS refunds, coalesce(s.customers, 0) AS customers
FROM sales s FULL JOIN refunded r USING (day, supermarket_id)
ORDER BY day, supermarket_id
"""

# One line per store: its totals from the daily rollup (grows with days of history, not with
# sales) and its distinct customers from the per-store histogram.
SUPERMARKETS = """
WITH sales AS (
    SELECT supermarket_id, sum(purchases)::bigint AS purchases, sum(units)::bigint AS units,
           sum(revenue) AS revenue, min(day) AS first_day, max(day) AS last_day
    FROM daily_sales GROUP BY supermarket_id
),
customers AS (
    SELECT supermarket_id, sum(customers)::bigint AS customers
    FROM store_customer_purchase_counts GROUP BY supermarket_id
),
refunded AS (
    SELECT supermarket_id, sum(refunds)::bigint AS refunds, sum(refunded) AS refunded
    FROM daily_refunds GROUP BY supermarket_id
)
SELECT s.id AS supermarket_id, s.time_zone, coalesce(x.purchases, 0) AS purchases,
       coalesce(x.units, 0) AS units,
       coalesce(x.revenue, 0.00) - coalesce(r.refunded, 0.00) AS revenue,
       coalesce(x.revenue, 0.00) AS gross_revenue, coalesce(r.refunded, 0.00) AS refunded,
       coalesce(r.refunds, 0) AS refunds,
       coalesce(c.customers, 0) AS customers, x.first_day, x.last_day
FROM supermarkets s
LEFT JOIN sales x ON x.supermarket_id = s.id
LEFT JOIN customers c ON c.supermarket_id = s.id
LEFT JOIN refunded r ON r.supermarket_id = s.id
ORDER BY s.id
"""

# The days of a range, every one of them (a day without sales is zeros), for the stores in view:
# purchases, units and revenue from the daily rollup. Distinct customers per day come from the
# analytics' bitmaps (a customer who shopped in two stores that day is one).
DAILY_TOTALS = """
WITH sales AS (
    SELECT day, sum(purchases)::bigint AS purchases, sum(units)::bigint AS units,
           sum(revenue) AS revenue
    FROM daily_sales
    WHERE day BETWEEN $1 AND $2 AND ($3::text IS NULL OR supermarket_id = $3)
    GROUP BY day
),
refunded AS (
    SELECT day, sum(refunds)::bigint AS refunds, sum(refunded) AS refunded
    FROM daily_refunds
    WHERE day BETWEEN $1 AND $2 AND ($3::text IS NULL OR supermarket_id = $3)
    GROUP BY day
)
SELECT d.day, coalesce(s.purchases, 0) AS purchases, coalesce(s.units, 0) AS units,
       coalesce(s.revenue, 0.00) - coalesce(r.refunded, 0.00) AS revenue,
       coalesce(s.revenue, 0.00) AS gross_revenue, coalesce(r.refunded, 0.00) AS refunded,
       coalesce(r.refunds, 0) AS refunds
FROM (SELECT $1::date + n AS day FROM generate_series(0, $2::date - $1::date) AS n) AS d
LEFT JOIN sales s ON s.day = d.day
LEFT JOIN refunded r ON r.day = d.day
ORDER BY d.day
"""

# Each store in view over a range: its purchases, units and revenue (its distinct customers
# come from the analytics' bitmaps).
STORES_BETWEEN = """
WITH sales AS (
    SELECT supermarket_id, sum(purchases)::bigint AS purchases, sum(units)::bigint AS units,
           sum(revenue) AS revenue
    FROM daily_sales WHERE day BETWEEN $1 AND $2
    GROUP BY supermarket_id
),
refunded AS (
    SELECT supermarket_id, sum(refunds)::bigint AS refunds, sum(refunded) AS refunded
    FROM daily_refunds WHERE day BETWEEN $1 AND $2
    GROUP BY supermarket_id
)
SELECT m.id AS supermarket_id, coalesce(s.purchases, 0) AS purchases,
       coalesce(s.units, 0) AS units,
       coalesce(s.revenue, 0.00) - coalesce(r.refunded, 0.00) AS revenue,
       coalesce(s.revenue, 0.00) AS gross_revenue, coalesce(r.refunded, 0.00) AS refunded,
       coalesce(r.refunds, 0) AS refunds
FROM supermarkets m
LEFT JOIN sales s ON s.supermarket_id = m.id
LEFT JOIN refunded r ON r.supermarket_id = m.id
WHERE $3::text IS NULL OR m.id = $3
ORDER BY m.id
"""

# The products most taken back, in one store and/or over a range of the refunds' days: reads
# the daily returns rollup (days x stores x products returned, nothing per refund).
RETURNED_PRODUCTS = """
SELECT p.name, sum(r.units)::bigint AS units_returned, sum(r.refunded) AS refunded
FROM daily_product_returns r JOIN products p ON p.id = r.product_id
WHERE ($2::date IS NULL OR r.day BETWEEN $2 AND $3) AND ($4::text IS NULL OR r.supermarket_id = $4)
GROUP BY p.name
ORDER BY units_returned DESC, p.name
LIMIT $1
"""

# The tills' closings (Z) over a range of their stores' local days, in one store and/or of one
# till. The closed_at bounds around the local days let the index find them.
CLOSINGS = """
SELECT c.till_id, c.supermarket_id, c.closing_number, c.receipt_number, c.period_start,
       c.closed_at, c.automatic, c.first_receipt, c.last_receipt, c.sales, c.sales_amount,
       c.refunds, c.refunded, c.net, c.grand_total, c.units::text AS units,
       encode(c.head_hash, 'hex') AS head_hash,
       (c.closed_at AT TIME ZONE s.time_zone)::date AS day
FROM till_closings c JOIN supermarkets s ON s.id = c.supermarket_id
WHERE c.closed_at >= $1::date - 1 AND c.closed_at < $2::date + 2
  AND (c.closed_at AT TIME ZONE s.time_zone)::date BETWEEN $1 AND $2
  AND ($3::text IS NULL OR c.supermarket_id = $3)
  AND ($4::text IS NULL OR c.till_id = $4)
ORDER BY c.supermarket_id, c.till_id, c.closing_number
LIMIT $5
"""

# Each till (in one store, or all) with its last closing and its open period: since when,
# its receipts so far and what they add to the grand total (the open period's entries only).
TILL_DAYS = """
SELECT h.till_id, h.supermarket_id, h.entries AS last_receipt, h.closings,
       h.period_opened_at, h.entries - h.period_first_receipt + 1 AS open_entries,
       coalesce((SELECT sum(e.amount) FROM till_entries e
                 WHERE e.till_id = h.till_id AND e.receipt_number >= h.period_first_receipt),
                0) AS open_net,
       h.grand_total, c.closed_at AS last_closed_at, c.net AS last_closing_net,
       c.automatic AS last_closing_automatic
FROM till_ledgers h
LEFT JOIN till_closings c ON c.till_id = h.till_id AND c.closing_number = h.closings
WHERE $1::text IS NULL OR h.supermarket_id = $1
ORDER BY h.supermarket_id, h.till_id
"""
