"""Reading the rollups in tests: the tills' sales are counted by a fold a moment after their
201 (db/sales_fold.py), so a test that reads the rollup tables directly folds first, as the
analytics do before every answer."""

from __future__ import annotations

import asyncpg

from db.sales_fold import fold_waiting_sales


async def counted(connection: asyncpg.Connection | asyncpg.Pool) -> None:
    """Fold every waiting sale, after any fold in progress."""
    await fold_waiting_sales(connection, wait=True)


# Each rollup as it is stored, and the same figures recounted from the stored sales with
# plain GROUP BYs (no code of the rollups), as comparable rows.
ROLLUPS_AND_RECOUNTS: dict[str, tuple[str, str]] = {
    "customers": (
        "SELECT id, purchase_count, first_purchase_at, last_purchase_at FROM customers",
        "SELECT customer_id, count(*), min(purchased_at), max(purchased_at) FROM purchases "
        "GROUP BY 1",
    ),
    "store customers": (
        "SELECT supermarket_id, customer_id, purchase_count FROM store_customers",
        "SELECT supermarket_id, customer_id, count(*) FROM purchases GROUP BY 1, 2",
    ),
    "purchase-count histogram": (
        "SELECT purchase_count, sum(customers) FROM customer_purchase_counts GROUP BY 1 "
        "HAVING sum(customers) <> 0",
        "SELECT n, count(*) FROM (SELECT count(*) AS n FROM purchases GROUP BY customer_id) c "
        "GROUP BY 1",
    ),
    "units per product and store": (
        "SELECT product_id, supermarket_id, sum(units_sold) FROM product_sales GROUP BY 1, 2",
        "SELECT product_id, supermarket_id, sum(quantity) FROM purchase_items GROUP BY 1, 2",
    ),
    "store days": (
        "SELECT day, supermarket_id, sum(purchases), sum(units), sum(revenue), sum(customers) "
        "FROM daily_sales GROUP BY 1, 2",
        "SELECT p.day, p.supermarket_id, p.purchases, u.units, p.revenue, p.customers "
        "FROM (SELECT (purchased_at AT TIME ZONE s.time_zone)::date AS day, supermarket_id, "
        "             count(*) AS purchases, sum(total_amount) AS revenue, "
        "             count(DISTINCT customer_id) AS customers "
        "      FROM purchases JOIN supermarkets s ON s.id = supermarket_id GROUP BY 1, 2) p "
        "JOIN (SELECT (purchased_at AT TIME ZONE s.time_zone)::date AS day, supermarket_id, "
        "             sum(quantity) AS units "
        "      FROM purchase_items JOIN supermarkets s ON s.id = supermarket_id GROUP BY 1, 2) u "
        "USING (day, supermarket_id)",
    ),
    "product days": (
        "SELECT day, supermarket_id, product_id, sum(units), sum(revenue) "
        "FROM daily_product_sales GROUP BY 1, 2, 3",
        "SELECT (purchased_at AT TIME ZONE s.time_zone)::date, supermarket_id, product_id, "
        "       sum(quantity), sum(quantity * unit_price) "
        "FROM purchase_items JOIN supermarkets s ON s.id = supermarket_id GROUP BY 1, 2, 3",
    ),
}


async def rollups_off_their_recount(connection: asyncpg.Connection) -> list[str]:
    """The rollups that differ from a recount of the stored sales (none: all exact)."""
    off = []
    for name, (stored, recount) in ROLLUPS_AND_RECOUNTS.items():
        kept = {tuple(row) for row in await connection.fetch(stored)}
        counted_again = {tuple(row) for row in await connection.fetch(recount)}
        if kept != counted_again:
            off.append(f"{name}: {len(kept ^ counted_again)} rows differ")
    return off
