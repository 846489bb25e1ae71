"""All SQL of the analytics. Each reads the aggregates the writers maintain, never a scan of
the purchases, so its cost does not grow with the number of sales."""

# The sum of the per-count histogram is the number of distinct customers.
UNIQUE_CUSTOMERS = """
SELECT coalesce(sum(customers), 0)::bigint FROM customer_purchase_counts
"""

# How many customers have at least $1 purchases (from the histogram), and one page of them,
# most purchases first (from the index on purchase_count). Always at least one row; a page
# past the end has a single row whose customer is NULL.
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

# Products by units sold with competition ranking (1, 2, 2, 4): every product tied with the
# last place shown is listed too.
TOP_PRODUCTS = """
WITH sold AS (
    SELECT p.name, sum(s.units_sold)::bigint AS units_sold
    FROM product_sales s JOIN products p ON p.id = s.product_id
    GROUP BY p.name
    HAVING sum(s.units_sold) > 0
),
ranked AS (
    SELECT rank() OVER (ORDER BY units_sold DESC) AS rank, name, units_sold FROM sold
)
SELECT rank, name, units_sold FROM ranked WHERE rank <= $1 ORDER BY rank, name
"""
